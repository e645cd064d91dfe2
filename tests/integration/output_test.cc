// Output files, private state, default paths and memory admission, against
// a real braidd: what a Slurm user expects of --output, --separate-stderr
// and retries, and what an operator expects of the data dir and the socket.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 07777 + 1;
  return st.st_mode & 07777;
}

void wait_ok(const Daemon& d, const std::vector<std::string>& ids) {
  std::vector<std::string> args{"wait", "--timeout", "30s"};
  args.insert(args.end(), ids.begin(), ids.end());
  RunResult r = d.cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(Output, StdoutAndStderrAreMergedInOrderIntoOneFile) {
  Daemon d;
  const std::string id =
      d.submit({"--", "sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done"});
  wait_ok(d, {id});
  EXPECT_EQ(d.cli_ok({"logs", id}), "out1\nerr1\nout2\nerr2\nout3\nerr3\n");
  EXPECT_TRUE(fs::exists(fs::path(d.data_dir()) / "logs" / (id + ".out")));
  EXPECT_FALSE(fs::exists(fs::path(d.data_dir()) / "logs" / (id + ".err")));
}

TEST(Output, SeparateStderrGivesTwoFiles) {
  Daemon d;
  const std::string id =
      d.submit({"--separate-stderr", "--", "sh", "-c", "echo out; echo err >&2; echo out2"});
  wait_ok(d, {id});
  EXPECT_EQ(d.cli_ok({"logs", id}), "out\nout2\n");
  EXPECT_EQ(d.cli_ok({"logs", id, "--stderr"}), "err\n");
}

TEST(Output, PatternsExpandIdNameAndArrayIndex) {
  Daemon d;
  TempDir out;
  fs::create_directory(fs::path(out.path()) / "rel");
  // Absolute pattern, a named task: %x and %j; %a of a non-array task is empty.
  const std::string named = d.submit({"--name", "job", "--output", out.path() + "/%x-%j-%a.log",
                                      "--", "sh", "-c", "echo named; echo oops >&2"});
  // Relative pattern: relative to the task's working directory, as in Slurm.
  const std::string relative =
      d.submit({"--cwd", out.path(), "--output", "rel/%j.txt", "--", "echo", "relative"});
  // An array: %a is each task's index; %% is a '%'.
  nlohmann::json array = d.json({"submit", "--json", "--array", "3", "--output",
                                 out.path() + "/a-%a-100%%.log", "--", "echo", "{}"});
  std::vector<std::string> ids{named, relative};
  for (const auto& id : array["ids"]) ids.push_back(id.get<std::string>());
  wait_ok(d, ids);

  EXPECT_EQ(read_file(out.path() + "/job-" + named + "-.log"), "named\noops\n");
  EXPECT_EQ(d.cli_ok({"logs", named}), "named\noops\n");
  EXPECT_EQ(read_file(out.path() + "/rel/" + relative + ".txt"), "relative\n");
  EXPECT_EQ(d.cli_ok({"logs", relative}), "relative\n");
  for (int i = 0; i < 3; ++i) {
    const std::string expected = std::to_string(i) + "\n";
    EXPECT_EQ(read_file(out.path() + "/a-" + std::to_string(i) + "-100%.log"), expected);
    EXPECT_EQ(d.cli_ok({"logs", array["ids"][i].get<std::string>()}), expected);
  }
  EXPECT_FALSE(fs::exists(fs::path(d.data_dir()) / "logs" / (named + ".out")));
}

TEST(Output, MissingDirectoryOfAPatternFailsTheTaskWithTheReason) {
  Daemon d;
  TempDir out;
  const std::string id = d.submit({"--output", out.path() + "/no/such/dir/%j.log", "--", "true"});
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "30s"}).exit_code, 127);  // never started its program
  EXPECT_EQ(d.show(id)["reason"], "spawn failed: cannot open output file " + out.path() +
                                      "/no/such/dir/" + id + ".log: No such file or directory");
}

TEST(Output, ARetryAppendsAfterAHeaderAndKeepsTheFirstAttempt) {
  Daemon d;
  TempDir work;
  const std::string id =
      d.submit({"--retries", "1", "--retry-backoff", "10ms", "--cwd", work.path(), "--", "sh", "-c",
                "test -f marker || { touch marker; echo first; exit 3; }; echo second"});
  wait_ok(d, {id});
  EXPECT_EQ(d.show(id)["attempts"], 2);
  EXPECT_EQ(d.cli_ok({"logs", id}),
            "first\n--- braid: attempt 2 (retry after exit 3) ---\nsecond\n");
}

TEST(Output, AnAttemptRequeuedAfterACrashAppendsAfterAHeader) {
  Daemon d;
  const std::string id = d.submit({"--retries", "1", "--", "sh", "-c", "echo run; exec sleep 600"});
  ASSERT_TRUE(eventually([&] { return d.cli_ok({"logs", id}) == "run\n"; }));
  // A barrier: the committer writes in order, so once this synced submission
  // is acknowledged the (unsynced) record of the start above is written too.
  // Without it a kill in between finds the task never started (no header).
  d.submit({"--hold", "--", "true"});
  d.kill9();
  d.restart();
  EXPECT_TRUE(eventually([&] {
    return d.cli_ok({"logs", id}) ==
           "run\n--- braid: attempt 1 (requeued: node restarted) ---\nrun\n";
  })) << d.cli_ok({"logs", id});
  d.cli_ok({"cancel", id});
}

TEST(Output, LogsOfEveryLayoutSurviveARestart) {
  Daemon d;
  TempDir out;
  const std::string merged = d.submit({"--", "sh", "-c", "echo m; echo m2 >&2"});
  const std::string separate =
      d.submit({"--separate-stderr", "--", "sh", "-c", "echo s; echo s2 >&2"});
  const std::string custom = d.submit({"--output", out.path() + "/%j.log", "--", "echo", "c"});
  wait_ok(d, {merged, separate, custom});
  ASSERT_EQ(d.terminate(), 0);
  d.restart();
  EXPECT_EQ(d.cli_ok({"logs", merged}), "m\nm2\n");
  EXPECT_EQ(d.cli_ok({"logs", separate}), "s\n");
  EXPECT_EQ(d.cli_ok({"logs", separate, "--stderr"}), "s2\n");
  EXPECT_EQ(d.cli_ok({"logs", custom}), "c\n");
}

TEST(Output, LogsArePurgedWithTheirTaskButUserFilesStay) {
  Daemon d({"--retention-max-tasks", "1"});
  TempDir out;
  const fs::path logs = fs::path(d.data_dir()) / "logs";
  const std::string first = d.submit({"--separate-stderr", "--", "sh", "-c", "echo 1; echo e >&2"});
  wait_ok(d, {first});
  const std::string custom = d.submit({"--output", out.path() + "/%j.log", "--", "echo", "2"});
  wait_ok(d, {custom});
  const std::string last = d.submit({"--", "echo", "3"});
  wait_ok(d, {last});
  EXPECT_TRUE(eventually([&] { return d.cli({"show", first}).exit_code != 0; }));
  EXPECT_TRUE(eventually([&] { return d.cli({"show", custom}).exit_code != 0; }));
  EXPECT_FALSE(fs::exists(logs / (first + ".out")));
  EXPECT_FALSE(fs::exists(logs / (first + ".err")));
  EXPECT_EQ(read_file(out.path() + "/" + custom + ".log"), "2\n") << "the user's file stays";
  EXPECT_TRUE(fs::exists(logs / (last + ".out")));
}

TEST(Output, ASymlinkPlantedAtTheLogPathIsNotFollowed) {
  Daemon d;
  TempDir elsewhere;
  const fs::path victim = fs::path(elsewhere.path()) / "victim";
  std::ofstream(victim) << "precious\n";
  // The next task is it:1 (a fresh node).
  fs::create_symlink(victim, fs::path(d.data_dir()) / "logs" / "it:1.out");
  const std::string id = d.submit({"--", "echo", "overwritten"});
  ASSERT_EQ(id, "it:1");
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "30s"}).exit_code, 127);  // a spawn failure
  EXPECT_NE(d.show(id)["reason"].get<std::string>().find("Too many levels of symbolic links"),
            std::string::npos)
      << d.show(id)["reason"];
  EXPECT_EQ(read_file(victim), "precious\n");
}

TEST(Output, IdsThatAreNotTaskIdsAreRefusedBeforeAnyPathIsBuilt) {
  Daemon d;
  RunResult r = d.cli({"logs", "../../etc/passwd"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "braid: task id \"../../etc/passwd\" must look like NODE:NUMBER (NODE: 1..63 of A-Z "
            "a-z 0-9 . _ -, NUMBER: 1..20 digits)\n");
  EXPECT_EQ(d.cli({"show", "it:1/../x"}).exit_code, 2);
}

// A braidd started by hand (not through Daemon): ends it at scope exit.
struct RawDaemon {
  pid_t pid = -1;
  ~RawDaemon() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

TEST(PrivateState, DataDirIsCreated0700AndNothingInItIsReadableByOthers) {
  TempDir root;
  const fs::path data = fs::path(root.path()) / "fresh" / "data";
  RawDaemon daemon;
  daemon.pid = spawn_logged({bin("braidd"), "--name", "it", "--data-dir", data.string()},
                            root.path() + "/braidd.stderr");
  ASSERT_TRUE(eventually([&] {
    return run({bin("braid"), "--socket", (data / "braidd.sock").string(), "stats"}).exit_code == 0;
  })) << read_file(root.path() + "/braidd.stderr");
  RunResult submitted = run(
      {bin("braid"), "--socket", (data / "braidd.sock").string(), "submit", "--", "echo", "hi"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_EQ(
      run({bin("braid"), "--socket", (data / "braidd.sock").string(), "wait", "it:1"}).exit_code,
      0);
  EXPECT_EQ(mode_of(data), 0700u);
  EXPECT_EQ(mode_of(data / "logs"), 0700u);
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(data)) {
    if (entry.is_symlink() || entry.is_socket()) continue;
    ++files;
    EXPECT_EQ(mode_of(entry.path()) & 077, 0u) << entry.path() << " is readable by others";
  }
  EXPECT_GT(files, 5u);  // db files, the lock, the log
}

TEST(PrivateState, AGroupWritableOrForeignDataDirIsRefused) {
  TempDir root;
  const fs::path shared = fs::path(root.path()) / "shared";
  fs::create_directory(shared);
  fs::permissions(shared, fs::perms::owner_all | fs::perms::group_all);
  RunResult r = run({bin("braidd"), "--name", "it", "--data-dir", shared.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("data dir " + shared.string() +
                       " is writable by group or others (mode 0770): chmod 700 it"),
            std::string::npos)
      << r.err;

  if (::geteuid() != 0) GTEST_SKIP() << "an other-owned dir needs root to chown";
  const fs::path theirs = fs::path(root.path()) / "theirs";
  fs::create_directory(theirs);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  r = run({bin("braidd"), "--name", "it", "--data-dir", theirs.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("data dir " + theirs.string() + " is owned by uid 65534"), std::string::npos)
      << r.err;
}

// braidd and braid on defaults agree from any cwd. As root the defaults are
// /var/lib/braid and /run/braid: the test runs both as nobody instead, with
// XDG_RUNTIME_DIR, XDG_STATE_HOME and HOME in temp dirs.
TEST(DefaultPaths, TheCliFindsADaemonOnDefaultsFromAnotherDirectory) {
  TempDir root;
  const fs::path base = root.path();
  for (const char* sub : {"run", "state", "home", "elsewhere"}) fs::create_directory(base / sub);
  std::vector<std::string> as_user;
  if (::geteuid() == 0) {
    for (const fs::path& p :
         {base, base / "run", base / "state", base / "home", base / "elsewhere"}) {
      ASSERT_EQ(::chown(p.c_str(), 65534, 65534), 0);
    }
    as_user = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  auto command = [&](const fs::path& cwd, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "-i",
                                  "-C",
                                  cwd.string(),
                                  "PATH=/usr/bin:/bin",
                                  "XDG_RUNTIME_DIR=" + (base / "run").string(),
                                  "XDG_STATE_HOME=" + (base / "state").string(),
                                  "HOME=" + (base / "home").string()};
    argv.insert(argv.end(), as_user.begin(), as_user.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  RawDaemon daemon;
  daemon.pid = spawn_logged(command(base / "home", {bin("braidd"), "--name", "it"}),
                            base.string() + "/braidd.stderr");
  const fs::path socket = base / "run" / "braid" / "braidd.sock";
  ASSERT_TRUE(eventually([&] { return fs::exists(socket); }))
      << read_file(base.string() + "/braidd.stderr");
  RunResult stats = run(command(base / "elsewhere", {bin("braid"), "stats", "--json"}));
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(nlohmann::json::parse(stats.out)["node"], "it");
  EXPECT_EQ(mode_of(base / "run" / "braid"), 0700u);
  EXPECT_EQ(mode_of(base / "state" / "braid"), 0700u);
  EXPECT_TRUE(fs::exists(base / "state" / "braid" / "db"));
}

TEST(Memory, TasksAskingForMoreThanTheNodeAreRefusedAndLimitsAreReported) {
  Daemon d({"--memory-total", "1G"});
  RunResult refused = d.cli({"submit", "--memory", "2G", "--", "true"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("memory must be at most 1073741824 bytes (this node's memory), got "
                             "2147483648"),
            std::string::npos)
      << refused.err;
  const std::string fits = d.submit({"--memory", "512M", "--", "true"});
  wait_ok(d, {fits});
  nlohmann::json stats = d.json({"stats", "--json"});
  EXPECT_EQ(stats["memory_total_bytes"], 1ULL << 30);
  // This host's cgroup tree (hybrid) has no memory controller: admitted only.
  // Where it has one (cgroup mode), limits are enforced with memory.max.
  const std::string expected =
      d.log().find("memory limits enforced") != std::string::npos ? "enforced" : "admitted";
  EXPECT_EQ(stats["memory_limits"], expected);
}

// Memory-aware starting: what a started task measurably uses counts against
// the node's memory, even though it declared less.
TEST(Memory, MeasuredMemoryOfStartedTasksHoldsBackNewOnes) {
  Daemon d({"--slots", "2", "--memory-total", "400M"});
  // Declares nothing, then holds ~256 MiB resident (the leader itself).
  const std::string big =
      d.submit({"--", "python3", "-c", "import time; x = b'1' * (256 << 20); time.sleep(600)"});
  ASSERT_TRUE(eventually([&] {
    return d.json({"stats", "--json"})["memory_started_bytes"].get<std::uint64_t>() >= 250u << 20;
  }));
  EXPECT_GT(d.json({"stats", "--json"})["memory_available_bytes"].get<std::uint64_t>(), 0u);
  // 256 MiB measured + 200 MiB declared > 400 MiB: it waits, although a slot is free.
  const std::string next = d.submit({"--memory", "200M", "--", "true"});
  // Admission decided at once (the measurement was in): it waits, queued.
  EXPECT_EQ(d.show(next)["state"], "queued");
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["running"], 1);
  d.cli_ok({"cancel", big});
  wait_ok(d, {next});  // the memory is back: it starts
}

}  // namespace
}  // namespace braid::testing
