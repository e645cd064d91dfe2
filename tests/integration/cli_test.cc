// The CLI as users meet it, against a real braidd: run, submit --wait, exit
// codes, id ranges, paged ps with filters, bulk cancel, clear, and tasks
// that run where their submitter stood.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "storage/store.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace braid::testing {
namespace {

// `braid ARGS` run by /bin/sh from `dir`.
RunResult cli_in(const Daemon& d, const std::string& dir, const std::string& args) {
  return run({"/bin/sh", "-c",
              "cd '" + dir + "' && exec " + bin("braid") + " --socket " + d.socket() + " " + args});
}

std::size_t count_tasks(const Daemon& d, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"ps", "--json"};
  all.insert(all.end(), args.begin(), args.end());
  return d.json(all).size();
}

// A stopped braidd (SIGSTOP: a wedged node) accepts the connection but never
// answers: the CLI gives up after --answer-timeout with exit 3 and one line,
// instead of hanging; a wait gets that time on top of its own --timeout.
TEST(Cli, AStoppedDaemonMakesTheCliGiveUpAfterItsAnswerTimeout) {
  Daemon d;
  const std::string id = d.submit({"--", "sleep", "60"});
  ASSERT_EQ(::kill(d.pid(), SIGSTOP), 0);
  const RunResult stats = d.cli({"--answer-timeout", "300ms", "stats"});
  const RunResult wait = d.cli({"--answer-timeout", "200ms", "wait", id, "--timeout", "200ms"});
  ASSERT_EQ(::kill(d.pid(), SIGCONT), 0);
  EXPECT_EQ(stats.exit_code, 3) << stats.err;
  EXPECT_NE(stats.err.find("no answer within 300ms"), std::string::npos) << stats.err;
  EXPECT_EQ(std::count(stats.err.begin(), stats.err.end(), '\n'), 1) << stats.err;
  EXPECT_EQ(wait.exit_code, 3) << wait.err;
  EXPECT_NE(wait.err.find("no answer within 400ms"), std::string::npos) << wait.err;
  // Resumed, it answers again, and bad values are usage errors.
  EXPECT_EQ(d.cli({"--answer-timeout", "5s", "stats"}).exit_code, 0);
  for (const char* bad : {"0s", "-1s", "soon"}) {
    const RunResult r = d.cli({"--answer-timeout", bad, "stats"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--answer-timeout"), std::string::npos) << r.err;
  }
}

// braid builds only the subcommand argv names (node/braid_main.cc,
// Commands): help, usage errors and the options of every command still work.
TEST(Cli, HelpAndUsageErrorsCoverEveryCommand) {
  const RunResult help = run({bin("braid"), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* command :
       {"submit", "run", "ps", "show", "wait", "cancel", "clear", "hold", "release", "logs",
        "stats", "policy", "quantum", "priority", "scheduler", "schedule-next", "peers"}) {
    EXPECT_NE(help.out.find(std::string("\n  ") + command + " "), std::string::npos) << command;
  }
  const RunResult submit_help = run({bin("braid"), "submit", "--help"});
  EXPECT_EQ(submit_help.exit_code, 0);
  EXPECT_NE(submit_help.out.find("Usage: braid submit"), std::string::npos) << submit_help.out;
  EXPECT_NE(submit_help.out.find("--memory"), std::string::npos);
  EXPECT_NE(submit_help.out.find("--after-fail"), std::string::npos);
  EXPECT_NE(run({bin("braid"), "ps", "-h"}).out.find("--state"), std::string::npos);
  // After --, or as an option's value, -h and --help are not requests for
  // help: these reach for the daemon (exit 3 without one) as before.
  for (const std::vector<std::string>& not_help :
       {std::vector<std::string>{"submit", "--", "ls", "--help"},
        {"submit", "--name", "-h", "--", "true"},
        {"run", "--name", "--help", "--", "true"},
        {"ps", "--name", "-h"},
        {"cancel", "--name", "-h"}}) {
    std::vector<std::string> argv = {bin("braid"), "--socket", "/nonexistent/braidd.sock"};
    argv.insert(argv.end(), not_help.begin(), not_help.end());
    const RunResult r = run(argv);
    EXPECT_EQ(r.exit_code, 3) << not_help[0] << " " << not_help[1] << ": " << r.out;
  }
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"bogus"},
                                              {},
                                              {"submit", "--bogus"},
                                              {"ps", "--memory", "1"},
                                              {"submit", "--memory", "12X", "--", "true"},
                                              {"policy", "sideways"}}) {
    std::vector<std::string> argv = {bin("braid")};
    argv.insert(argv.end(), bad.begin(), bad.end());
    const RunResult r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << argv.back();
    EXPECT_TRUE(r.err.starts_with("braid: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Cli, RunStreamsOutputAndExitsWithTheTaskCode) {
  Daemon d({"--slots", "2"});
  RunResult ok = d.cli({"run", "--", "sh", "-c", "echo one; sleep 0.2; echo two"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "one\ntwo\n");
  RunResult three = d.cli({"run", "--", "sh", "-c", "echo bad >&2; exit 3"});
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.out, "bad\n");  // stderr is merged into the output by default
  RunResult separate =
      d.cli({"run", "--separate-stderr", "--", "sh", "-c", "echo out; echo bad >&2; exit 3"});
  EXPECT_EQ(separate.out, "out\n");
  EXPECT_NE(separate.err.find("bad\n"), std::string::npos) << separate.err;
  EXPECT_NE(three.err.find("failed: exit 3"), std::string::npos) << three.err;
  RunResult killed = d.cli({"run", "--", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(killed.exit_code, 128 + 9);
  RunResult missing = d.cli({"run", "--", "/no/such/program"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(d.cli({"run"}).exit_code, 2);
}

TEST(Cli, CtrlCOfRunCancelsTheTask) {
  Daemon d({"--slots", "1", "--kill-grace", "2s"});
  const std::string marker = d.data_dir() + "/started";
  std::vector<std::string> argv = {
      bin("braid"), "--socket", d.socket(), "run",
      "--",         "sh",       "-c",       "touch " + marker + "; exec sleep 600"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ), 0);
  ASSERT_TRUE(eventually([&] { return access(marker.c_str(), F_OK) == 0; }));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);  // the task's own end: SIGTERM from the cancel
  EXPECT_EQ(d.show("it:1")["state"], "cancelled");
}

TEST(Cli, WaitAndSubmitWaitPassOnExitCodes) {
  Daemon d({"--slots", "2"});
  EXPECT_EQ(d.cli({"submit", "--wait", "--", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(d.cli({"submit", "--wait", "--", "true"}).exit_code, 0);
  const std::string a = d.submit({"--", "true"});
  const std::string b = d.submit({"--", "sh", "-c", "exit 5"});
  EXPECT_EQ(d.cli({"wait", a}).exit_code, 0);
  EXPECT_EQ(d.cli({"wait", b}).exit_code, 5);
  EXPECT_EQ(d.cli({"wait", a, b}).exit_code, 1);  // several: 0 only if all completed
  EXPECT_EQ(d.cli({"wait", a, "it:1"}).exit_code, 1);
  EXPECT_EQ(d.cli({"wait", a, "it:3"}).exit_code, 0);
  EXPECT_EQ(d.cli({"submit", "--wait", "--array", "3", "--", "true"}).exit_code, 0);
}

TEST(Cli, IdRangesWorkForShowWaitAndCancel) {
  Daemon d({"--slots", "1", "--policy", "Priority"});
  d.submit({"--priority", "10", "--", "sleep", "600"});  // it:1 holds the slot
  d.cli_ok({"submit", "--array", "10", "--", "true"});   // it:2..it:11, queued behind it
  const nlohmann::json shown = d.json({"show", "it:2..it:11", "--json"});
  ASSERT_EQ(shown.size(), 10u);
  EXPECT_EQ(shown[0]["id"], "it:2");
  EXPECT_EQ(shown[9]["id"], "it:11");
  d.cli_ok({"cancel", "it:2..it:6"});
  EXPECT_EQ(count_tasks(d, {"--state", "cancelled"}), 5u);
  d.cli_ok({"cancel", "it:1"});
  EXPECT_EQ(d.cli({"wait", "it:7..it:11", "--timeout", "30s"}).exit_code, 0);
  const RunResult bad = d.cli({"show", "it:5..other:9"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("one node"), std::string::npos) << bad.err;
}

TEST(Cli, PsPagesThroughManyTasksAndFilters) {
  Daemon d({"--slots", "1", "--policy", "Priority"});
  d.submit({"--priority", "10", "--name", "blocker", "--", "sleep", "600"});
  // More tasks than one page (10000) holds; the CLI fetches every page.
  d.cli_ok({"submit", "--array", "25000", "--name", "batch-{}", "--", "true"});
  EXPECT_EQ(count_tasks(d, {}), 25001u);
  EXPECT_EQ(count_tasks(d, {"--state", "queued"}), 25000u);
  EXPECT_EQ(count_tasks(d, {"--name", "batch-1?"}), 10u);  // batch-10 .. batch-19
  EXPECT_EQ(count_tasks(d, {"--name", "block*", "--state", "running"}), 1u);
  const RunResult limited = d.cli({"ps", "--json", "--limit", "3"});
  ASSERT_EQ(limited.exit_code, 0);
  const nlohmann::json first = nlohmann::json::parse(limited.out);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[2]["id"], "it:3");
  EXPECT_NE(limited.err.find("--after 3"), std::string::npos) << limited.err;
  const nlohmann::json next = d.json({"ps", "--json", "--limit", "2", "--after", "3"});
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0]["id"], "it:4");
  // Bulk cancel by state, by name, then clear.
  const RunResult by_name = d.cli({"cancel", "--name", "batch-2????"});  // batch-20000..24999
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(by_name.out, "cancelled 5000 tasks\n");
  EXPECT_EQ(d.cli_ok({"cancel", "--state", "queued"}), "cancelled 20000 tasks\n");
  EXPECT_EQ(d.show("it:1")["state"], "running");
  EXPECT_EQ(d.cli_ok({"cancel", "--state", "all"}), "cancelled 1 tasks\n");
  ASSERT_TRUE(eventually([&] { return count_tasks(d, {}) == 0; }));
  EXPECT_EQ(d.cli_ok({"clear"}), "cleared 25001 finished tasks\n");
  EXPECT_EQ(count_tasks(d, {"--all"}), 0u);
  EXPECT_EQ(d.cli({"cancel", "--state", "completed"}).exit_code, 2);
  EXPECT_EQ(d.cli({"cancel", "it:1", "--state", "queued"}).exit_code, 2);
  // Ids continue after a clear; a restart keeps the clear.
  EXPECT_EQ(d.submit({"--", "true"}), "it:25002");
  d.kill9();
  d.restart();
  EXPECT_EQ(count_tasks(d, {"--all"}), 1u);
}

// A big submission takes several loop turns; small ones that reserve later
// ids meanwhile must still be listed (and admitted) after it, in id order,
// or a paging cursor would skip or repeat tasks.
TEST(Cli, TasksAreListedInIdOrderWhileABigSubmissionIsAdmitted) {
  Daemon d({"--slots", "1", "--policy", "Priority"});
  d.submit({"--priority", "10", "--", "sleep", "600"});  // holds the slot: nothing else runs
  RunResult big;
  ClientThreads client;
  client.start([&] { big = d.cli({"submit", "--array", "30000", "--", "true"}); });
  for (int i = 0; i < 40; ++i) d.submit({"--", "true"});
  client.join();
  ASSERT_EQ(big.exit_code, 0) << big.err;
  std::vector<std::uint64_t> sequences;
  for (const auto& t : d.json({"ps", "--all", "--json"})) {
    const std::string id = t["id"];
    sequences.push_back(std::stoull(id.substr(id.find(':') + 1)));
  }
  ASSERT_EQ(sequences.size(), 30041u);
  for (std::size_t i = 1; i < sequences.size(); ++i) {
    ASSERT_LT(sequences[i - 1], sequences[i]) << "at " << i;
  }
  // Pages of 1000 through the same list: every id once, in order.
  std::uint64_t cursor = 0, listed = 0;
  while (true) {
    const RunResult page =
        d.cli({"ps", "--all", "--json", "--limit", "1000", "--after", std::to_string(cursor)});
    ASSERT_EQ(page.exit_code, 0) << page.err;
    const nlohmann::json tasks = nlohmann::json::parse(page.out);
    for (const auto& t : tasks) {
      const std::string id = t["id"];
      ASSERT_EQ(std::stoull(id.substr(id.find(':') + 1)), sequences[listed]);
      ++listed;
    }
    const std::size_t at = page.err.find("--after ");
    if (at == std::string::npos) break;
    cursor = std::stoull(page.err.substr(at + 8));
  }
  EXPECT_EQ(listed, sequences.size());
}

TEST(Cli, TasksRunInTheSubmittersDirectory) {
  Daemon d({"--slots", "2"});
  TempDir here;
  const RunResult pwd = cli_in(d, here.path(), "run -- pwd");
  EXPECT_EQ(pwd.exit_code, 0) << pwd.err;
  EXPECT_EQ(pwd.out, here.path() + "\n");
  std::filesystem::create_directory(here.path() + "/sub");
  const RunResult relative = cli_in(d, here.path(), "run --cwd sub -- pwd");
  EXPECT_EQ(relative.out, here.path() + "/sub\n");
  std::ofstream(here.path() + "/tasks.jsonl") << "{\"argv\": [\"pwd\"]}\n";
  const RunResult from_file = cli_in(d, here.path(), "submit --wait --file tasks.jsonl");
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  const nlohmann::json t = d.json({"ps", "--all", "--json", "--limit", "1", "--after", "2"});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(d.cli_ok({"logs", t[0]["id"]}), here.path() + "\n");
}

}  // namespace
}  // namespace braid::testing

namespace braid::testing {
namespace {

// `env VARS... braid --socket S ARGS...`: the CLI with extra environment.
RunResult cli_with_env(const Daemon& d, const std::vector<std::string>& vars,
                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), vars.begin(), vars.end());
  argv.insert(argv.end(), {bin("braid"), "--socket", d.socket()});
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

TEST(Cli, TasksGetTheSubmittersEnvironmentAsExportSays) {
  Daemon d({"--slots", "2"});
  const std::string show = "echo \"foo=$FOO bar=$BAR home=${HOME:-unset}\"";
  const RunResult all = cli_with_env(d, {"FOO=1", "BAR=2"}, {"run", "--", "sh", "-c", show});
  EXPECT_EQ(all.out, "foo=1 bar=2 home=" + std::string(std::getenv("HOME")) + "\n") << all.err;
  const RunResult some =
      cli_with_env(d, {"FOO=1", "BAR=2"}, {"run", "--export", "FOO,BAZ=3", "--", "sh", "-c", show});
  EXPECT_EQ(some.out, "foo=1 bar= home=unset\n") << some.err;
  const RunResult none = cli_with_env(
      d, {"FOO=1", "BAR=2"}, {"run", "--export", "NONE", "--env", "BAR=9", "--", "sh", "-c", show});
  EXPECT_EQ(none.out, "foo= bar=9 home=unset\n") << none.err;
  const RunResult bad = cli_with_env(d, {}, {"run", "--export", "A-B", "--", "true"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--export"), std::string::npos) << bad.err;
}

TEST(Cli, AnArraysEnvironmentIsStoredOnceKeptAcrossRestartsAndPurgedWithItsTasks) {
  Daemon d({"--slots", "2"});
  const RunResult held = cli_with_env(
      d, {"FOO=kept"}, {"submit", "--hold", "--array", "3", "--", "sh", "-c", "echo $FOO-{}"});
  ASSERT_EQ(held.exit_code, 0) << held.err;
  d.kill9();
  d.restart();
  d.cli_ok({"release", "it:1..it:3"});
  ASSERT_EQ(d.cli({"wait", "it:1..it:3", "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.cli_ok({"logs", "it:3"}), "kept-2\n");
  ASSERT_EQ(d.terminate(), 0);
  auto count_envs = [&] {
    auto store = storage::Store::open(d.data_dir() + "/db");
    EXPECT_TRUE(store) << store.error().message;
    std::size_t envs = 0;
    EXPECT_TRUE(
        store.value()->load_envs([&](std::uint64_t, std::vector<std::string>&&) { ++envs; }));
    return envs;
  };
  EXPECT_EQ(count_envs(), 1u);  // one for the three tasks
  d.restart();
  EXPECT_EQ(d.cli_ok({"clear"}), "cleared 3 finished tasks\n");
  ASSERT_EQ(d.terminate(), 0);
  EXPECT_EQ(count_envs(), 0u);  // gone with its last task
}

}  // namespace
}  // namespace braid::testing
