// Review of 12a5c03..1b545d5 with real braidd processes: reproducers. Each
// test states what is promised; a failure is the bug.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

// A CLI call that cannot hang the test: braidd that no longer accepts
// connections leaves the client waiting forever.
RunResult cli_within(const Daemon& d, const std::vector<std::string>& args, int seconds) {
  std::vector<std::string> argv{"/usr/bin/timeout", std::to_string(seconds), bin("braid"),
                                "--socket", d.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::size_t open_fds(pid_t pid) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// 1adbd2e keeps cgroup.freeze, cgroup.events, cpu.stat and cpu.pressure of
// every started task open (cgroup.h). The I/O-aware sampler alone opens two
// per running task, so braidd holds 3 descriptors per running task instead
// of 1 (its pidfd), 5 once tasks are sliced, and nothing raises
// RLIMIT_NOFILE. Sleepers lend their slots (torus.h, I/O-aware slots), so
// running tasks are not bounded by --slots. Under the common soft limit of
// 1024, 350 sleeping tasks (372 descriptors before the change, ~1070 after)
// exhaust it: braidd can no longer accept a control connection, and every
// CLI call hangs (stats, submit, cancel: the node cannot even be drained).
TEST(Review10It, ManySleepingTasksDoNotExhaustBraiddsFileDescriptors) {
  Daemon d({"--slots", "301", "--io-aware", "on", "--log-level", "info"});
  const std::vector<std::string> normal = d.argv();
  ASSERT_EQ(d.terminate(), 0);
  std::vector<std::string> limited = {"/usr/bin/prlimit", "--nofile=1024"};
  limited.insert(limited.end(), normal.begin(), normal.end());
  d.restart_with(limited);
  if (!d.json({"stats", "--json"})["io_aware"].get<bool>()) {
    GTEST_SKIP() << "no I/O-aware slots here (cgroup executor and PSI needed)";
  }
  d.cli_ok({"submit", "--array", "300", "--", "sleep", "600"});
  ASSERT_TRUE(eventually(
      [&] {
        return d.json({"stats", "--json"})["blocked"] == 300;
      },
      std::chrono::seconds(30)));
  // Their slots are lent: 50 more sleepers start.
  d.cli_ok({"submit", "--array", "50", "--", "sleep", "600"});
  const bool all_blocked = eventually(
      [&] {
        const RunResult r = cli_within(d, {"stats", "--json"}, 5);
        return r.exit_code == 0 && nlohmann::json::parse(r.out)["blocked"] == 350;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  EXPECT_TRUE(all_blocked) << "braidd holds " << open_fds(d.pid()) << " descriptors";
  const RunResult more = cli_within(d, {"submit", "--json", "--", "true"}, 10);
  EXPECT_EQ(more.exit_code, 0) << "braidd (" << open_fds(d.pid())
                               << " descriptors open) did not answer a submission: " << more.err;
}

// 1b545d5: TempDir honours TMPDIR, but harness.h still promises "a fresh
// directory under /tmp (short: socket paths are limited)": braidd's socket
// lives in it, and a unix socket path has at most 107 bytes. Under a TMPDIR
// of 90 characters (CI runners, nested job dirs) no Daemon comes up, so
// every integration test fails. The harness should fall back to /tmp when
// the socket path would not fit.
TEST(Review10It, ALongTmpdirDoesNotKeepBraiddFromComingUp) {
  const TempDir outer;
  const std::string long_dir = outer.path() + "/" + std::string(90 - outer.path().size() - 1, 'd');
  ASSERT_TRUE(std::filesystem::create_directory(long_dir));
  const char* saved = std::getenv("TMPDIR");
  const std::string restore = saved != nullptr ? saved : "";
  setenv("TMPDIR", long_dir.c_str(), 1);
  std::string error;
  try {
    Daemon d({"--slots", "1"});
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (saved != nullptr) {
    setenv("TMPDIR", restore.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  EXPECT_EQ(error, "") << "TMPDIR of " << long_dir.size() << " characters";
}

}  // namespace
}  // namespace braid::testing
