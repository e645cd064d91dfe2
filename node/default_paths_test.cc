#include "node/default_paths.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace braid::node {
namespace {

DefaultPaths paths_for(uid_t uid, std::map<std::string, std::string> env) {
  return default_paths(uid, [env = std::move(env)](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(DefaultPaths, RootUsesSystemPlacesWhateverTheEnvironment) {
  const DefaultPaths p = paths_for(0, {{"XDG_RUNTIME_DIR", "/run/user/0"}, {"HOME", "/root"}});
  EXPECT_EQ(p.data_dir, "/var/lib/braid");
  EXPECT_EQ(p.socket, "/run/braid/braidd.sock");
}

TEST(DefaultPaths, UserWithXdgVariables) {
  const DefaultPaths p = paths_for(
      1000, {{"XDG_RUNTIME_DIR", "/run/user/1000"}, {"XDG_STATE_HOME", "/s"}, {"HOME", "/h"}});
  EXPECT_EQ(p.data_dir, "/s/braid");
  EXPECT_EQ(p.socket, "/run/user/1000/braid/braidd.sock");
}

TEST(DefaultPaths, UserFallsBackToHomeAndTmp) {
  const DefaultPaths p = paths_for(1000, {{"HOME", "/home/ann"}});
  EXPECT_EQ(p.data_dir, "/home/ann/.local/state/braid");
  EXPECT_EQ(p.socket, "/tmp/braid-1000/braidd.sock");
}

TEST(DefaultPaths, EmptyOrRelativeXdgValuesAreIgnored) {
  const DefaultPaths p = paths_for(
      42, {{"XDG_RUNTIME_DIR", ""}, {"XDG_STATE_HOME", "relative/state"}, {"HOME", "/h"}});
  EXPECT_EQ(p.data_dir, "/h/.local/state/braid");
  EXPECT_EQ(p.socket, "/tmp/braid-42/braidd.sock");
}

TEST(DefaultPaths, NoHomeAtAllStaysPerUserUnderTmp) {
  const DefaultPaths p = paths_for(42, {});
  EXPECT_EQ(p.data_dir, "/tmp/braid-42/state");
  EXPECT_EQ(p.socket, "/tmp/braid-42/braidd.sock");
}

}  // namespace
}  // namespace braid::node
