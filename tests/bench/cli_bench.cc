// CLI benchmark (issue 8 §5): how quick is the `braid` process a user runs,
// each figure beside a baseline from the same run:
//   1. start-up: median of posix_spawn + wait of `braid --help` (stdout to
//      /dev/null), vs the same for /bin/true;
//   2. a loop of one CLI call per task, as a shell loop does: N sequential
//      `braid submit -- /bin/true` against a real braidd (2 slots), calls/s and
//      until all completed; vs task-spooler (`tsp -S 2`, N sequential
//      `tsp /bin/true`), skipped when `tsp` is not on PATH;
//   3. the daemon's share of a submit: one synced write (write + fdatasync of
//      64 bytes on /tmp, where braidd's data dir is), median, as the
//      durable-submit floor.
// Each loop starts with a syncfs() of /tmp, as braid_durability_bench does.
//
//   build/bin/braid_cli_bench [--submits 1000] [--help-runs 200] [--rounds 1]
//                             [--executor auto|cgroup|signals] [--cli PATH]
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "node/control_client.h"
#include "tests/bench/bench_util.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace {

using braid::bench::find_in_path;
using braid::bench::fmt;
using braid::bench::must;
using braid::bench::percentile;

using braid::testing::bin;
using braid::testing::Daemon;
using braid::testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string g_cli;  // --cli: the braid binary measured (default: this tree's)

long long us_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

// Thrown, not exit(): the Daemon's destructor must stop braidd, and the tsp
// phase its server.
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

// syncfs() of /tmp (where the data dirs are) before a phase: on ext4 an
// fdatasync commits the journal with every file's pending data, so a phase
// should not pay for the writeback of what ran before it (a build, say).
void settle_tmp() {
  const int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    syncfs(fd);
    close(fd);
  }
}

// The environment of this process plus `extra` (NAME=VALUE, overriding).
std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    const bool overridden = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return x.compare(0, name.size() + 1, name + "=") == 0;
    });
    if (!overridden) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

struct Outcome {
  int exit_code = -1;
  std::string out;
};

// posix_spawn + wait of argv (argv[0] a path); stdout captured when `capture`,
// else /dev/null; stderr inherited.
Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            bool capture) {
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture) {
    if (pipe2(fds, O_CLOEXEC) != 0) fail("pipe failed");
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  Outcome outcome;
  if (capture) {
    close(fds[1]);
    char buffer[256];
    ssize_t n = 0;
    while (rc == 0 && (n = read(fds[0], buffer, sizeof(buffer))) > 0) {
      outcome.out.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
  }
  if (rc != 0) fail("cannot spawn " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  waitpid(pid, &status, 0);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

// Median microseconds of `runs` spawn + wait of argv.
long long spawn_median_us(const std::vector<std::string>& argv, int runs) {
  const auto env = environment_with({});
  std::vector<long long> each;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    if (run(argv, env, false).exit_code != 0) fail(argv[0] + " failed");
    each.push_back(us_since(t0));
  }
  return percentile(each, 50);
}

void startup(int runs) {
  run({g_cli, "--help"}, environment_with({}), false);  // page cache warm
  // Interleave so both see the same machine load.
  std::vector<long long> help, truth;
  for (int round = 0; round < 4; ++round) {
    help.push_back(spawn_median_us({g_cli, "--help"}, runs / 4));
    truth.push_back(spawn_median_us({"/bin/true"}, runs / 4));
  }
  std::printf("start-up     braid --help, spawn + wait, median of %d: %.2f ms\n", runs,
              static_cast<double>(percentile(help, 50)) / 1000.0);
  std::printf("  baseline   /bin/true, spawn + wait, median of %d: %.2f ms\n", runs,
              static_cast<double>(percentile(truth, 50)) / 1000.0);
}

struct LoopFigures {
  double calls_per_s = 0;  // the loop of CLI calls alone
  double done_per_s = 0;   // until every task finished
  long long call_p50_us = 0;
  long long call_p99_us = 0;
};

void print_loop(const char* label, int submits, const LoopFigures& f) {
  std::printf("%s%d calls: %.0f calls/s (per call p50 %.2f ms, p99 %.2f ms); all done: %.0f /s\n",
              label, submits, f.calls_per_s, static_cast<double>(f.call_p50_us) / 1000.0,
              static_cast<double>(f.call_p99_us) / 1000.0, f.done_per_s);
}

void braid_loop(int submits, const std::string& executor) {
  Daemon d({"--slots", "2", "--log-level", "warn", "--executor", executor});
  const auto env = environment_with({});
  const std::vector<std::string> argv = {g_cli,    "--socket", d.socket(),
                                         "submit", "--",       "/bin/true"};
  std::vector<std::string> ids;
  std::vector<long long> each;
  settle_tmp();
  const auto start = Clock::now();
  for (int i = 0; i < submits; ++i) {
    const auto t0 = Clock::now();
    Outcome o = run(argv, env, true);
    each.push_back(us_since(t0));
    if (o.exit_code != 0 || o.out.empty()) fail("braid submit failed");
    o.out.pop_back();  // the newline
    ids.push_back(std::move(o.out));
  }
  const double loop_s = static_cast<double>(us_since(start)) / 1e6;
  braid::node::ControlClient client(d.socket());
  auto outcome = client.wait(ids, 0);
  const double done_s = static_cast<double>(us_since(start)) / 1e6;
  const auto* waited = std::get_if<braid::rpc::WaitOutcome>(&outcome);
  if (waited == nullptr) fail("wait failed");
  for (const auto& t : waited->tasks) {
    if (t.state != braid::sched::TaskState::kCompleted) {
      fail("task " + t.id + " did not complete: " + std::string(braid::sched::to_string(t.state)) +
           " (" + t.reason + ")");
    }
  }
  print_loop("submit loop  braid submit -- /bin/true, 2 slots, ", submits,
             {submits / loop_s, submits / done_s, percentile(each, 50), percentile(each, 99)});
  // The same loop of a call that writes nothing: the CLI's own cost plus one
  // round trip, without the daemon's synced write.
  std::vector<long long> stats_each;
  const auto stats_start = Clock::now();
  for (int i = 0; i < submits; ++i) {
    const auto t0 = Clock::now();
    if (run({g_cli, "--socket", d.socket(), "stats"}, env, true).exit_code != 0) {
      fail("braid stats failed");
    }
    stats_each.push_back(us_since(t0));
  }
  std::printf(
      "  read-only  braid stats, same daemon, %d calls: %.0f calls/s (per call p50 %.2f ms)\n",
      submits, submits / (static_cast<double>(us_since(stats_start)) / 1e6),
      static_cast<double>(percentile(stats_each, 50)) / 1000.0);
}

// task-spooler with its own socket and output dir, 2 slots.
LoopFigures tsp_loop(const std::string& tsp, int submits) {
  TempDir dir;
  const auto env =
      environment_with({"TS_SOCKET=" + dir.path() + "/tsp.sock", "TMPDIR=" + dir.path()});
  // Stops the tsp server however this phase ends (`tsp -K`).
  struct Server {
    const std::string& tsp;
    const std::vector<std::string>& env;
    ~Server() {
      try {
        run({tsp, "-K"}, env, true);
      } catch (const std::exception&) {  // nothing more to do
      }
    }
  } server{tsp, env};
  if (run({tsp, "-S", "2"}, env, true).exit_code != 0) fail("tsp -S 2 failed");
  std::vector<long long> each;
  settle_tmp();
  const auto start = Clock::now();
  for (int i = 0; i < submits; ++i) {
    const auto t0 = Clock::now();
    if (run({tsp, "/bin/true"}, env, true).exit_code != 0) fail("tsp /bin/true failed");
    each.push_back(us_since(t0));
  }
  const double loop_s = static_cast<double>(us_since(start)) / 1e6;
  // Done when the list shows nothing queued or running (poll, as a user would).
  const bool done = braid::testing::eventually(
      [&] {
        const std::string list = run({tsp, "-l"}, env, true).out;
        return list.find("queued") == std::string::npos &&
               list.find("running") == std::string::npos;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(2));
  const double done_s = static_cast<double>(us_since(start)) / 1e6;
  if (!done) fail("tsp did not finish its jobs");
  return {submits / loop_s, submits / done_s, percentile(each, 50), percentile(each, 99)};
}

// write(64 bytes) + fdatasync in a fresh dir on /tmp (where braidd's data dir
// lives in this harness): what each durable submit pays inside braidd.
long long synced_write_p50_us(int runs) {
  TempDir dir;
  const std::string path = dir.path() + "/sync";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot open " + path);
  char payload[64] = {};
  std::vector<long long> each;
  settle_tmp();
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    if (write(fd, payload, sizeof(payload)) != sizeof(payload) || fdatasync(fd) != 0) {
      fail("write + fdatasync failed");
    }
    each.push_back(us_since(t0));
  }
  close(fd);
  return percentile(each, 50);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid CLI benchmark (starts its own braidd; tsp as the baseline)"};
  int submits = 1000, help_runs = 200, rounds = 1;
  std::string executor = "auto";
  g_cli = bin("braid");
  app.add_option("--submits", submits, "CLI calls in each submit loop")->capture_default_str();
  app.add_option("--help-runs", help_runs, "spawns of braid --help and /bin/true")
      ->capture_default_str();
  app.add_option("--rounds", rounds, "submit loops of each kind, alternating")
      ->capture_default_str();
  app.add_option("--executor", executor, "braidd's executor: auto, cgroup or signals")
      ->capture_default_str();
  app.add_option("--cli", g_cli, "the braid binary to measure (e.g. an older build)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  help_runs = std::max(help_runs, 4);
  std::printf("braid CLI benchmark on %ld cores, executor %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              executor.c_str());
  try {
    startup(help_runs);
    const std::string tsp = find_in_path("tsp");
    for (int round = 0; round < rounds; ++round) {
      braid_loop(submits, executor);
      if (tsp.empty()) {
        std::printf("  baseline   tsp: not installed (apt-get install task-spooler), skipped\n");
      } else {
        print_loop("  baseline   tsp /bin/true, tsp -S 2, ", submits, tsp_loop(tsp, submits));
      }
    }
    std::printf(
        "  daemon     one durable submit = one synced write: write + fdatasync p50 %.2f ms\n",
        static_cast<double>(synced_write_p50_us(200)) / 1000.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid_cli_bench: ERROR %s\n", e.what());
    return 1;
  }
  return 0;
}
