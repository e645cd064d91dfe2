// Integration-test harness: real braidd processes in temp dirs, the real
// braid CLI, and helpers to look at real processes in /proc. No mocks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace braid::testing {

// Path of a binary built by this tree (build/bin/NAME).
std::string bin(const std::string& name);

// A fresh directory under $TMPDIR, else /tmp (short: socket paths are limited), removed at exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // or 128 + signal
  std::string out;
  std::string err;
};

// Runs argv to completion, capturing stdout and stderr.
RunResult run(const std::vector<std::string>& argv);

// Starts argv[0] (a path) with stdin /dev/null and stderr appended to
// `stderr_path`; throws if it cannot be spawned.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& stderr_path);

// Polls `ready` until it returns true or `timeout` passes. Returns the last result.
// Client threads of a test, told to stop (the flag, if given) and joined
// however the test body is left: a throw or a failed ASSERT_* must not
// destroy a joinable std::thread (std::terminate aborts the whole binary) or
// leave a client looping. Thread bodies must not throw (use cli(), not cli_ok()).
class ClientThreads final {
 public:
  explicit ClientThreads(std::atomic<bool>* stop = nullptr) : stop_(stop) {}
  ~ClientThreads() { join(); }
  ClientThreads(const ClientThreads&) = delete;
  ClientThreads& operator=(const ClientThreads&) = delete;

  template <typename Body>
  void start(Body body) {
    threads_.emplace_back(std::move(body));
  }
  // Sets the stop flag, then joins every thread.
  void join() {
    if (stop_ != nullptr) *stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool>* stop_;
  std::vector<std::thread> threads_;
};

bool eventually(const std::function<bool()>& ready,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(5));

// A braidd running in its own temp data dir.
class Daemon {
 public:
  // extra: additional flags, e.g. {"--slots", "2", "--policy", "Fair"}.
  // Strict slots unless extra names --io-aware (or --io-aware=...): most
  // tests hold a slot with a `sleep`, which I/O-aware slots would lend
  // (io_aware_test.cc tests them). Benchmarks pass braidd's default, on.
  explicit Daemon(std::vector<std::string> extra = {});
  ~Daemon();  // terminate() if still running

  const std::string& data_dir() const { return dir_.path(); }
  std::string socket() const { return dir_.path() + "/braidd.sock"; }
  pid_t pid() const { return pid_; }
  std::string log() const;  // the daemon's stderr so far

  // `braid --socket <socket> args...`
  RunResult cli(const std::vector<std::string>& args) const;
  // cli() that must exit 0; returns stdout.
  std::string cli_ok(const std::vector<std::string>& args) const;
  nlohmann::json json(const std::vector<std::string>& args) const;
  std::string submit(const std::vector<std::string>& args) const;  // returns the id
  nlohmann::json show(const std::string& id) const { return json({"show", id, "--json"}); }

  // SIGTERM, then wait; returns the exit code (or 128 + signal).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL, as a crash would; the task processes are left behind.
  void kill9();
  // Starts braidd again on the same data dir and flags, once it has stopped.
  void restart();
  // restart() with another command line from now on (e.g. under prlimit).
  void restart_with(std::vector<std::string> argv);
  bool alive() const;
  // The braidd command line (to run it by hand, e.g. expecting it to refuse).
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  void start();  // spawns braidd and waits until it answers

  TempDir dir_;
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Processes of a process group (from /proc), and a process's state letter.
std::vector<pid_t> group_members(pid_t pgid);
char process_state(pid_t pid);           // 'R', 'S', 'T', 'Z', ... or '?' when gone
long long process_cpu_ticks(pid_t pid);  // utime + stime in clock ticks; -1 when gone

}  // namespace braid::testing
