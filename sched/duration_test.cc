#include "sched/duration.h"

#include <gtest/gtest.h>

namespace braid::sched {
namespace {

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("250us").value(), 250);
  EXPECT_EQ(parse_duration("10ms").value(), 10'000);
  EXPECT_EQ(parse_duration("1.5s").value(), 1'500'000);
  EXPECT_EQ(parse_duration("2m").value(), 120'000'000);
  EXPECT_EQ(parse_duration("1h").value(), 3'600'000'000);
  EXPECT_EQ(parse_duration("0s").value(), 0);
}

TEST(Duration, RefusesWhatIsNotADuration) {
  for (const char* bad : {"", "10", "ms", "-1s", "1x", "1.2.3s", "nanms", "1e30h", " 1s"}) {
    Result<Micros> r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("us, ms, s, m, h"), std::string::npos) << r.error().message;
  }
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(7), "7us");
  EXPECT_EQ(format_duration(10'000), "10ms");
  EXPECT_EQ(format_duration(1'500'000), "1500ms");
  EXPECT_EQ(format_duration(3'000'000), "3s");
  EXPECT_EQ(format_duration(120'000'000), "2m");
}

TEST(Duration, RoundTrips) {
  for (Micros us : {1LL, 999LL, 1000LL, 1001LL, 60'000'000LL, 7'200'000'000LL}) {
    EXPECT_EQ(parse_duration(format_duration(us)).value(), us);
  }
}

}  // namespace
}  // namespace braid::sched
