#include "node/memory_probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace braid::node {
namespace {

TEST(MemoryProbe, MemAvailableIsReadInBytes) {
  EXPECT_EQ(parse_mem_available("MemTotal:       24000000 kB\nMemFree:         1000 kB\n"
                                "MemAvailable:   12345678 kB\nBuffers: 1 kB\n"),
            12345678ull * 1024);
  EXPECT_EQ(parse_mem_available("MemTotal: 1 kB\n"), std::nullopt);
  EXPECT_EQ(parse_mem_available("MemAvailable: lots\n"), std::nullopt);
  EXPECT_EQ(parse_mem_available("XMemAvailable: 5 kB\n"), std::nullopt);
  EXPECT_EQ(parse_mem_available("MemAvailable: 5\n"), std::nullopt);  // no unit
  ASSERT_TRUE(read_mem_available().has_value());                      // this machine's
  EXPECT_GT(*read_mem_available(), 0u);
}

TEST(MemoryProbe, RssIsTheSecondStatmField) {
  EXPECT_EQ(parse_statm_rss("2000 300 100 10 0 500 0\n", 4096), 300u * 4096);
  EXPECT_EQ(parse_statm_rss("2000\n", 4096), std::nullopt);
  EXPECT_EQ(parse_statm_rss("x 300\n", 4096), std::nullopt);
  std::optional<std::uint64_t> mine = read_rss_bytes(::getpid());
  ASSERT_TRUE(mine.has_value());
  EXPECT_GT(*mine, 1u << 20);  // a gtest binary holds more than 1 MiB
  EXPECT_EQ(read_rss_bytes(999'999'999), std::nullopt);
}

}  // namespace
}  // namespace braid::node
