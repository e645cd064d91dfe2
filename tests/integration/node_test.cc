// A real braidd and the real braid CLI: task lifecycle, logs, failures, bad
// input, garbage on the socket, shutdown.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

TEST(Node, SubmitWaitShowAndLogs) {
  Daemon d({"--slots", "2"});
  const std::string id =
      d.submit({"--name", "hello", "--", "sh", "-c", "echo out; echo err >&2; exit 0"});
  EXPECT_EQ(id, "it:1");
  RunResult wait = d.cli({"wait", id, "--timeout", "20s"});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  nlohmann::json t = d.show(id);
  EXPECT_EQ(t["state"], "completed");
  EXPECT_EQ(t["exit_code"], 0);
  EXPECT_EQ(t["name"], "hello");
  EXPECT_EQ(t["node"], "it");
  EXPECT_EQ(t["attempts"], 1);
  EXPECT_FALSE(t["started_at"].is_null());
  EXPECT_FALSE(t["finished_at"].is_null());
  EXPECT_EQ(d.cli_ok({"logs", id}), "out\nerr\n");  // merged, like Slurm's
  RunResult separate = d.cli({"logs", id, "--stderr"});
  EXPECT_EQ(separate.exit_code, 2);
  EXPECT_EQ(separate.err,
            "braid: task it:1 was submitted without --separate-stderr: its stderr is merged into "
            "its output (braid logs it:1)\n");
}

TEST(Node, FailuresCarryTheirReasonAndWaitSaysSo) {
  Daemon d;
  const std::string failing = d.submit({"--", "sh", "-c", "exit 3"});
  const std::string missing = d.submit({"--", "/no/such/binary"});
  const std::string bad_cwd = d.submit({"--cwd", "/no/such/dir", "--", "true"});
  EXPECT_EQ(d.cli({"wait", failing, missing, bad_cwd, "--timeout", "20s"}).exit_code, 1);
  EXPECT_EQ(d.show(failing)["reason"], "exit 3");
  EXPECT_EQ(d.show(failing)["exit_code"], 3);
  EXPECT_EQ(d.show(missing)["state"], "failed");
  EXPECT_EQ(d.show(missing)["reason"], "spawn failed: No such file or directory");
  EXPECT_EQ(d.show(bad_cwd)["reason"], "spawn failed: No such file or directory");
  // The daemon carries on.
  const std::string ok = d.submit({"--", "true"});
  EXPECT_EQ(d.cli({"wait", ok, "--timeout", "20s"}).exit_code, 0);
}

TEST(Node, DependenciesRetriesAndTimeLimit) {
  Daemon d({"--slots", "2"});
  const std::string first = d.submit({"--", "sh", "-c", "exit 0"});
  const std::string second = d.submit({"--after", first, "--", "true"});
  const std::string doomed = d.submit({"--", "false"});
  const std::string dependent = d.submit({"--after", doomed, "--", "true"});
  const std::string limited = d.submit({"--time-limit", "200ms", "--", "sleep", "30"});
  d.cli({"wait", first, second, doomed, dependent, limited, "--timeout", "30s"});
  EXPECT_EQ(d.show(second)["state"], "completed");
  EXPECT_EQ(d.show(dependent)["state"], "cancelled");
  EXPECT_EQ(d.show(dependent)["reason"], "dependency " + doomed + " failed");
  EXPECT_EQ(d.show(limited)["state"], "failed");
  EXPECT_EQ(d.show(limited)["reason"], "time limit");
}

TEST(Node, RetriedTaskRunsAgain) {
  Daemon d;
  const std::string marker = d.data_dir() + "/marker";
  // Fails the first time (creates the marker), succeeds the second.
  const std::string id =
      d.submit({"--retries", "2", "--", "sh", "-c",
                "if [ -e " + marker + " ]; then exit 0; fi; touch " + marker + "; exit 1"});
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.show(id)["attempts"], 2);
}

TEST(Node, BadUsageExitsTwoWithOneClearLine) {
  Daemon d({"--slots", "1"});
  struct Case {
    std::vector<std::string> args;
    std::string line;
  };
  const Case cases[] = {
      {{"submit", "--priority", "11", "--", "true"}, "braid: priority must be 0..10, got 11\n"},
      {{"policy", "set", "Fiar"},
       "braid: unknown policy \"Fiar\": use RoundRobin, Priority or Fair\n"},
      {{"quantum", "set", "0ms"}, "braid: quantum must be 1ms..1s, got 0s\n"},
      {{"show", "it:999"}, "braid: unknown task \"it:999\" on node it\n"},
      {{"submit", "--after", "nope:1", "--", "true"},
       "braid: after: \"nope:1\" is not a known task (a dependency must exist; cycles are "
       "impossible)\n"},
      {{"submit", "--"},
       "braid: submit needs a command: braid submit [OPTIONS] [--array SPEC] -- CMD ARGS..., or "
       "braid submit --file FILE\n"},
      {{"submit", "--cpus", "99", "--", "true"},
       "braid: cpus must be 1..1 (this node's slots), got 99\n"},
  };
  for (const Case& c : cases) {
    RunResult r = d.cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.line;
    EXPECT_EQ(r.err, c.line);
  }
  EXPECT_TRUE(d.alive());
}

TEST(Node, NoDaemonExitsThree) {
  TempDir dir;
  RunResult r = run({bin("braid"), "--socket", dir.path() + "/braidd.sock", "ps"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach braidd at " + dir.path() + "/braidd.sock"), std::string::npos);
}

TEST(Node, ControlSocketIsPrivate) {
  Daemon d;
  struct stat st {};
  ASSERT_EQ(stat(d.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

int connect_raw(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(Node, SurvivesGarbageHalfMessagesAndVanishingClients) {
  Daemon d;
  const std::string garbage(4096, '\xff');
  for (int round = 0; round < 20; ++round) {
    const int fd = connect_raw(d.socket());
    ASSERT_GE(fd, 0);
    ssize_t n = 0;
    if (round % 3 == 0) n = send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    // A capnp frame header announcing a 1-segment, 1000-word message, then nothing.
    const unsigned char half[] = {0, 0, 0, 0, 0xe8, 0x03, 0, 0, 1, 2, 3};
    if (round % 3 == 1) n = send(fd, half, sizeof(half), MSG_NOSIGNAL);
    (void)n;
    close(fd);  // round % 3 == 2: connect and vanish
  }
  // A client that disconnects in the middle of a long wait.
  const std::string sleeper = d.submit({"--", "sleep", "30"});
  pid_t waiter = fork();
  if (waiter == 0) {
    execl(bin("braid").c_str(), "braid", "--socket", d.socket().c_str(), "wait", sleeper.c_str(),
          nullptr);
    _exit(127);
  }
  ASSERT_TRUE(eventually([&] { return d.log().find("started") != std::string::npos; }));
  kill(waiter, SIGKILL);
  waitpid(waiter, nullptr, 0);
  EXPECT_TRUE(d.alive());
  const std::string id = d.submit({"--", "true"});
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "20s"}).exit_code, 0);
  EXPECT_EQ(d.cli({"cancel", sleeper}).exit_code, 0);
}

TEST(Node, SigtermEndsEveryTaskAndExitsZero) {
  Daemon d({"--slots", "1", "--kill-grace", "2s"});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(d.submit({"--", "sh", "-c", "sleep 60 & sleep 60"}));
  nlohmann::json running;
  ASSERT_TRUE(eventually([&] {
    running = d.show(ids[0]);
    return running["state"] == "running" && !running["pid"].is_null();
  }));
  const pid_t pgid = running["pid"].get<pid_t>();
  ASSERT_TRUE(eventually([&] { return group_members(pgid).size() >= 2; }));
  EXPECT_EQ(d.terminate(), 0);
  EXPECT_TRUE(group_members(pgid).empty());
  EXPECT_NE(d.log().find("stopped"), std::string::npos);
}

TEST(Node, TwoDaemonsCannotShareADataDir) {
  Daemon d;
  RunResult r = run({bin("braidd"), "--name", "other", "--data-dir", d.data_dir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is in use by another braidd"), std::string::npos) << r.err;
  EXPECT_EQ(d.cli({"stats"}).exit_code, 0);
}

}  // namespace
}  // namespace braid::testing
