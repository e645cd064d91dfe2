#include "node/export_env.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

const char* const kEnviron[] = {"HOME=/home/ada", "PATH=/usr/bin", "LANG=C", nullptr};
using Entries = std::vector<std::string>;

TEST(ExportEnvTest, AllIsEverythingAndNoneIsNothing) {
  auto all = export_environment("ALL", kEnviron);
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value(), (Entries{"HOME=/home/ada", "PATH=/usr/bin", "LANG=C"}));
  auto none = export_environment("NONE", kEnviron);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none.value().empty());
}

TEST(ExportEnvTest, ANameListTakesOnlyThoseAndSetsGivenValues) {
  auto some = export_environment("PATH,MISSING,DEBUG=1", kEnviron);
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_EQ(some.value(), (Entries{"PATH=/usr/bin", "DEBUG=1"}));
  auto plus = export_environment("ALL,LANG=en_GB.UTF-8,EXTRA=x=y", kEnviron);
  ASSERT_TRUE(plus) << plus.error().message;
  EXPECT_EQ(plus.value(),
            (Entries{"HOME=/home/ada", "PATH=/usr/bin", "LANG=en_GB.UTF-8", "EXTRA=x=y"}));
}

TEST(ExportEnvTest, EntriesThatAreNotKeyValueAreLeftOut) {
  const char* const odd[] = {"PATH=/bin", "NO_EQUALS", "=leading", nullptr};
  auto all = export_environment("ALL", odd);
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value(), (Entries{"PATH=/bin"}));
}

TEST(ExportEnvTest, TooManyVariablesSayWhatToDo) {
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kExportEntriesMax; ++i)
    many.push_back("V" + std::to_string(i) + "=1");
  std::vector<const char*> environ;
  for (const std::string& e : many) environ.push_back(e.c_str());
  environ.push_back(nullptr);
  auto all = export_environment("ALL", environ.data());
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message.find("--export NONE"), std::string::npos) << all.error().message;
  environ[kExportEntriesMax] = nullptr;
  EXPECT_TRUE(export_environment("ALL", environ.data()));
}

TEST(ExportEnvTest, BadEntriesNameTheEntryAndTheForms) {
  for (const char* bad : {"PATH,ALL", "NONE,PATH", "1X", "A-B", "", "PATH,,HOME", "=x"}) {
    auto r = export_environment(bad, kEnviron);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("allowed: ALL, NONE"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace braid::node
