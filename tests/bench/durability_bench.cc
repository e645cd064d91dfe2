// Durability benchmark of one real node (issue 4): braidd stores every task
// in RocksDB and answers a submission only after a synced write (group
// commit, storage/committer.h). Measured, each beside baselines from the same
// run on the same filesystem (/tmp, where the harness puts data dirs):
//   baselines   a raw write(64 B) + fdatasync loop; raw synced RocksDB writes
//               of one record, and of batches, through storage::Store; the
//               in-memory RPC round trip (stats calls/s from one client);
//   submit      durable submissions into a braidd whose one slot is held by a
//               priority-10 blocker, so the submitted tasks (priority 0,
//               `true`) stay queued and nothing spawns: 1 client one task per
//               submit; N concurrent clients (a thread and a ControlClient
//               each) one task per submit; 1 client in batches;
//   restart     fill a fresh braidd with N queued tasks, kill -9 it, and time
//               from spawning braidd again until `stats` answers: right after
//               the kill (the tasks still in the WAL), after a 2nd kill (the
//               first restart flushed them), after a 3rd kill with the db
//               files evicted from the page cache; each checks the queued
//               count and shows braidd's "restored N tasks in X" line and the
//               store's share (Store::open + load_tasks on a copy of the db);
//   memory      VmRSS per queued task, (RSS_N - RSS_0) / N, right after
//               submitting and right after a restart.
// Every submit call carries the submitter's environment as `braid submit`
// does: one shared environment per submission (--env-entries, --env-bytes:
// 40 entries, ~3 KB by default; 0 entries = none).
//
//   build/bin/braid_durability_bench [--quick] [--only all|submit|restart]
//       [--baseline-seconds 2] [--sequential 2000] [--clients 8] [--per-client 1000]
//       [--batches 100] [--batch-size 1000] [--restart-sizes 100000,1000000]
//       [--fill-batch 10000] [--timeout-seconds 3600] [--env-entries 40] [--env-bytes 3072]
//
// Every braidd it starts is stopped on the way out, also when a call fails
// (exit 1, "ERROR" on stderr); a watchdog ends a run that hangs, daemons
// included (exit 2). Each phase starts with syncfs() of /tmp, so that it does
// not pay for the previous phase's writeback.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

#include "node/control_client.h"
#include "storage/store.h"
#include "tests/bench/bench_env.h"
#include "tests/bench/bench_util.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace {

using braid::bench::fmt;
using braid::bench::must;
using braid::bench::percentile;

using braid::testing::Daemon;
using braid::testing::TempDir;
using Clock = std::chrono::steady_clock;
using braid::sched::TaskState;

// --- small helpers ----------------------------------------------------------

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long long micros_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

void progress(const std::string& line) {
  std::fprintf(stderr, "[durability] %s\n", line.c_str());
  std::fflush(stderr);
}

// VmRSS of a process in bytes, from /proc/<pid>/status.
long long rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  throw std::runtime_error("no VmRSS for pid " + std::to_string(pid));
}

// Disk usage (allocated blocks, as du counts them) under `dir`; WAL files apart.
struct DiskUsage {
  long long allocated_bytes = 0;  // what du counts: RocksDB preallocates its WAL
  long long apparent_bytes = 0;   // what ls counts
  long long wal_bytes = 0;        // apparent size of *.log, RocksDB's write-ahead log
};

DiskUsage disk_usage(const std::filesystem::path& dir) {
  DiskUsage usage;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    usage.allocated_bytes += static_cast<long long>(st.st_blocks) * 512;
    usage.apparent_bytes += static_cast<long long>(st.st_size);
    if (entry.path().extension() == ".log") usage.wal_bytes += static_cast<long long>(st.st_size);
  }
  return usage;
}

// Writes back every dirty page of the filesystem under `dir`, so that one
// phase does not pay for the previous one's writes: on ext4 (data=ordered) an
// fdatasync commits the journal, and with it other files' pending data.
void settle(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::syncfs(fd);
  ::close(fd);
}

// Drops the page cache of every file under `dir` (after settle(): the pages
// are clean), so the next reader goes to the disk as after a reboot. Only
// these files: the rest of the machine's cache is left alone.
void evict(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

double mib(long long bytes) { return static_cast<double>(bytes) / (1 << 20); }

// The last "restored N tasks in X" of braidd's log, or "" when there is none.
std::string restored_line(const std::string& log) {
  static const std::regex kRestored("restored [0-9]+ tasks in [^ ]+");
  std::string last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kRestored);
       it != std::sregex_iterator(); ++it) {
    last = it->str();
  }
  return last;
}

// --- watchdog: a hung daemon must not hang the run --------------------------

// Every braidd this process started and that may still run.
std::mutex g_pids_mutex;
std::vector<pid_t> g_pids;

void track(pid_t pid) {
  const std::lock_guard lock(g_pids_mutex);
  g_pids.push_back(pid);
}

void untrack(pid_t pid) {
  const std::lock_guard lock(g_pids_mutex);
  g_pids.erase(std::remove(g_pids.begin(), g_pids.end(), pid), g_pids.end());
}

class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (wake_.wait_for(lock, limit, [this] { return done_; })) return;
          std::fprintf(stderr, "braid_durability_bench: ERROR: no result after %lld s, giving up\n",
                       static_cast<long long>(limit.count()));
          stop_all_daemons();
          std::_Exit(2);
        }) {}
  ~Watchdog() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

 private:
  // SIGTERM (braidd ends its tasks), then SIGKILL what is still there.
  static void stop_all_daemons() {
    std::vector<pid_t> pids;
    {
      const std::lock_guard lock(g_pids_mutex);
      pids = g_pids;
    }
    for (pid_t pid : pids) kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::seconds(5));
    for (pid_t pid : pids) kill(pid, SIGKILL);
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

// --- a braidd on one data dir -----------------------------------------------

std::chrono::seconds g_restart_timeout{120};

// First started by the harness; after each kill -9 the bench spawns braidd
// again itself, on the same data dir and flags, so the restart is timed from
// the spawn to the first answered `stats` with a 1 ms poll (the harness polls
// with the CLI every 5 ms).
class Node {
 public:
  explicit Node(std::vector<std::string> flags) : daemon_(std::move(flags)) {
    track(daemon_.pid());
  }
  ~Node() {
    try {
      stop();
    } catch (...) {
    }
    untrack(daemon_.pid());  // ~Daemon terminates it if it still runs
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  pid_t pid() const { return respawned_ > 0 ? respawned_ : daemon_.pid(); }
  std::string socket() const { return daemon_.socket(); }
  const std::string& data_dir() const { return daemon_.data_dir(); }
  std::filesystem::path db_dir() const { return std::filesystem::path(daemon_.data_dir()) / "db"; }
  std::string log() const { return daemon_.log(); }

  void kill9() {
    if (respawned_ <= 0) {
      daemon_.kill9();
      return;
    }
    kill(respawned_, SIGKILL);
    waitpid(respawned_, nullptr, 0);
    untrack(respawned_);
    respawned_ = -1;
  }

  // Spawns braidd after a kill9(); returns the seconds until `stats` answered.
  double restart_timed() {
    if (respawned_ > 0 || daemon_.alive()) throw std::logic_error("restart of a running braidd");
    const auto start = Clock::now();
    respawned_ =
        braid::testing::spawn_logged(daemon_.argv(), daemon_.data_dir() + "/braidd.stderr");
    track(respawned_);
    for (;;) {
      int status = 0;
      if (waitpid(respawned_, &status, WNOHANG) == respawned_) {
        untrack(respawned_);
        respawned_ = -1;
        throw std::runtime_error("braidd exited while restarting: " + log());
      }
      // A fresh client each time: a failed connect leaves a client unusable.
      braid::node::ControlClient client(socket());
      if (std::holds_alternative<braid::rpc::StatsView>(client.stats()))
        return seconds_since(start);
      if (Clock::now() - start > g_restart_timeout) {
        throw std::runtime_error("braidd did not answer within " +
                                 std::to_string(g_restart_timeout.count()) + " s of a restart");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // SIGTERM to the braidd the bench spawned (graceful: it ends its tasks).
  void stop() {
    if (respawned_ <= 0) return;
    kill(respawned_, SIGTERM);
    const auto start = Clock::now();
    while (waitpid(respawned_, nullptr, WNOHANG) != respawned_) {
      if (Clock::now() - start > std::chrono::seconds(60)) {
        kill(respawned_, SIGKILL);
        waitpid(respawned_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    untrack(respawned_);
    respawned_ = -1;
  }

 private:
  Daemon daemon_;
  pid_t respawned_ = -1;
};

std::vector<std::string> node_flags() {
  // info, not warn: the "restored N tasks in X" line is an info line.
  // The blocker is killed with braidd up to four times per restart run: keep
  // requeueing it (crash requeues are bounded by --max-node-requeues, 3 by
  // default, whatever its retries say), or the queued tasks start. Strict
  // slots: the sleeping blocker must not lend its slot.
  return {
      "--slots", "1",          "--policy", "Priority", "--log-level", "info", "--max-node-requeues",
      "1000",    "--io-aware", "off"};
}

// The submitter's environment each submit call attaches (main() sets them).
int g_env_entries = 40;
int g_env_bytes = 3072;

braid::sched::TaskSpec queued_spec() {
  braid::sched::TaskSpec spec;
  spec.priority = 0;
  spec.argv = {"true"};
  return spec;
}

// Waits until the blocker holds the one slot.
void wait_running(braid::node::ControlClient& client) {
  const auto start = Clock::now();
  while (must(client.stats(), "stats").torus.count(TaskState::kRunning) != 1) {
    if (seconds_since(start) > 30) throw std::runtime_error("the blocker did not start in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Submits the priority-10 blocker, so every later (priority 0) task stays queued.
void hold_slot(braid::node::ControlClient& client) {
  braid::sched::TaskSpec blocker;
  blocker.priority = 10;
  blocker.argv = {"sleep", "100000"};
  blocker.retries = braid::sched::kRetriesMax;  // each kill -9 charges the running attempt
  must(client.submit({blocker}), "submit the blocker");
  wait_running(client);
}

// --- results ----------------------------------------------------------------

struct Row {
  std::string figure;
  std::string value;
  std::string baseline;
  std::string goal;
};
std::vector<Row> g_rows;

void row(std::string figure, std::string value, std::string baseline = "", std::string goal = "") {
  progress(figure + ": " + value + (baseline.empty() ? "" : "   [" + baseline + "]"));
  g_rows.push_back({std::move(figure), std::move(value), std::move(baseline), std::move(goal)});
}

std::string verdict(bool met) { return met ? "met" : "MISSED"; }

// --- 1. baselines -----------------------------------------------------------

struct Baselines {
  double fdatasync_per_s = 0;
  long long fdatasync_p50_us = 0;
  double rocksdb_one_per_s = 0;
  double rocksdb_batch_tasks_per_s = 0;
  double stats_per_s = 0;
};

// write(64 bytes) + fdatasync, appending to a file on the data dirs' filesystem.
void raw_fdatasync(double seconds, Baselines& out) {
  TempDir dir;
  const std::string path = dir.path() + "/sync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  const char payload[64] = {};
  settle(dir.path());
  std::vector<long long> each_us;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const auto t0 = Clock::now();
    if (::write(fd, payload, sizeof(payload)) != static_cast<ssize_t>(sizeof(payload)) ||
        ::fdatasync(fd) != 0) {
      ::close(fd);
      throw std::runtime_error("write + fdatasync failed on " + path);
    }
    each_us.push_back(micros_since(t0));
  }
  const double elapsed = seconds_since(start);
  ::close(fd);
  out.fdatasync_per_s = static_cast<double>(each_us.size()) / elapsed;
  out.fdatasync_p50_us = percentile(each_us, 50);
  row("baseline: write(64 B) + fdatasync", fmt("%.0f syncs/s", out.fdatasync_per_s),
      fmt("p50 %lld us, p99 %lld us, %zu syncs", out.fdatasync_p50_us, percentile(each_us, 99),
          each_us.size()));
}

braid::storage::TaskRecord sample_record(std::uint64_t record_no) {
  braid::storage::TaskRecord record;
  record.record_no = record_no;
  record.task.state = TaskState::kQueued;
  record.task.id = "bench:" + std::to_string(record_no);
  record.task.spec = queued_spec();
  record.task.submitted_at_us = 1'800'000'000'000'000;
  return record;
}

// Synced storage::Store writes of batches of `per_batch` task records.
double raw_rocksdb(double seconds, int per_batch, std::vector<long long>& each_us) {
  TempDir dir;
  auto store = braid::storage::Store::open(std::filesystem::path(dir.path()) / "db");
  if (!store) throw std::runtime_error(store.error().message);
  settle(dir.path());
  std::uint64_t record_no = 1;
  long long tasks = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    braid::storage::Batch batch;
    for (int i = 0; i < per_batch; ++i) batch.put_task(sample_record(record_no++));
    const auto t0 = Clock::now();
    if (auto s = store.value()->write(batch, /*sync=*/true); !s) {
      throw std::runtime_error(s.error().message);
    }
    each_us.push_back(micros_since(t0));
    tasks += per_batch;
  }
  return static_cast<double>(tasks) / seconds_since(start);
}

void raw_rocksdb_baselines(double seconds, int batch_size, Baselines& out) {
  std::vector<long long> one_us, batch_us;
  out.rocksdb_one_per_s = raw_rocksdb(seconds, 1, one_us);
  row("baseline: RocksDB synced write, 1 record/batch", fmt("%.0f writes/s", out.rocksdb_one_per_s),
      fmt("p50 %lld us, p99 %lld us; %.2f x raw fdatasync", percentile(one_us, 50),
          percentile(one_us, 99), out.rocksdb_one_per_s / out.fdatasync_per_s));
  out.rocksdb_batch_tasks_per_s = raw_rocksdb(seconds, batch_size, batch_us);
  row(fmt("baseline: RocksDB synced write, %d records/batch", batch_size),
      fmt("%.0f records/s", out.rocksdb_batch_tasks_per_s),
      fmt("p50 %lld us, p99 %lld us per batch", percentile(batch_us, 50),
          percentile(batch_us, 99)));
}

void rpc_round_trip(braid::node::ControlClient& client, double seconds, Baselines& out) {
  std::vector<long long> each_us;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const auto t0 = Clock::now();
    must(client.stats(), "stats");
    each_us.push_back(micros_since(t0));
  }
  out.stats_per_s = static_cast<double>(each_us.size()) / seconds_since(start);
  row("baseline: in-memory RPC round trip (stats, 1 client)", fmt("%.0f calls/s", out.stats_per_s),
      fmt("p50 %lld us, p99 %lld us", percentile(each_us, 50), percentile(each_us, 99)));
}

// --- 2. durable submissions -------------------------------------------------

struct SubmitRun {
  long long tasks = 0;
  double seconds = 0;
  std::vector<long long> latency_us;  // per submit call
  double rate() const { return static_cast<double>(tasks) / seconds; }
};

SubmitRun submit_loop(braid::node::ControlClient& client, int calls, int per_call) {
  std::vector<braid::sched::TaskSpec> specs(static_cast<std::size_t>(per_call), queued_spec());
  SubmitRun run;
  run.latency_us.reserve(static_cast<std::size_t>(calls));
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    // One environment per submission, shared by its tasks (as the CLI sends it).
    braid::bench::attach(specs, braid::bench::typical_environment(g_env_entries, g_env_bytes));
    const auto t0 = Clock::now();
    const auto ids = must(client.submit(specs), "submit");
    run.latency_us.push_back(micros_since(t0));
    if (ids.size() != specs.size()) throw std::runtime_error("submit returned too few ids");
  }
  run.seconds = seconds_since(start);
  run.tasks = static_cast<long long>(calls) * per_call;
  return run;
}

SubmitRun submit_concurrently(const std::string& socket, int clients, int per_client) {
  std::vector<std::thread> threads;
  std::vector<SubmitRun> runs(static_cast<std::size_t>(clients));
  std::vector<std::string> errors(static_cast<std::size_t>(clients));
  std::mutex mutex;
  std::condition_variable go;
  int ready = 0;
  bool started = false;
  Clock::time_point start;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        braid::node::ControlClient client(socket);  // its own KJ event loop, on this thread
        must(client.stats(), "connect");
        {
          std::unique_lock lock(mutex);
          ++ready;
          go.notify_all();
          go.wait(lock, [&] { return started; });
        }
        runs[static_cast<std::size_t>(c)] = submit_loop(client, per_client, 1);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(c)] = e.what();
        std::unique_lock lock(mutex);
        ++ready;  // never leave the starter waiting
        go.notify_all();
      }
    });
  }
  {
    std::unique_lock lock(mutex);
    go.wait(lock, [&] { return ready == clients; });
    started = true;
    start = Clock::now();
  }
  go.notify_all();
  for (auto& t : threads) t.join();
  SubmitRun all;
  all.seconds = seconds_since(start);
  for (std::size_t c = 0; c < runs.size(); ++c) {
    if (!errors[c].empty())
      throw std::runtime_error("client " + std::to_string(c) + ": " + errors[c]);
    all.tasks += runs[c].tasks;
    all.latency_us.insert(all.latency_us.end(), runs[c].latency_us.begin(),
                          runs[c].latency_us.end());
  }
  return all;
}

struct Config {
  bool quick = false;
  double baseline_seconds = 2.0;
  int sequential = 2000;
  int clients = 8;
  int per_client = 1000;
  int batches = 100;
  int batch_size = 1000;
  std::vector<int> restart_sizes = {100'000, 1'000'000};
  int fill_batch = 10'000;
  int timeout_seconds = 3600;
  std::string only = "all";  // all, submit (baselines + submissions) or restart
};

constexpr double kSubmitGoalPerS = 5000;
constexpr double kRestartGoalS = 5.0;
constexpr long long kRestartGoalTasks = 1'000'000;
constexpr double kRssGoalBytesPerTask = 1024;

void submissions(const Config& config, Baselines& base) {
  Node node(node_flags());
  braid::node::ControlClient client(node.socket());
  hold_slot(client);
  rpc_round_trip(client, config.baseline_seconds, base);

  settle(node.data_dir());
  const SubmitRun one = submit_loop(client, config.sequential, 1);
  row(fmt("submit: 1 client, 1 task/submit, %d sequential", config.sequential),
      fmt("%.0f tasks/s, p50 %.2f ms, p99 %.2f ms", one.rate(),
          percentile(one.latency_us, 50) / 1000.0, percentile(one.latency_us, 99) / 1000.0),
      fmt("%.0f%% of raw fdatasync (%.0f/s, the ceiling: one sync per submit); "
          "RocksDB 1-record synced %.0f/s",
          100.0 * one.rate() / base.fdatasync_per_s, base.fdatasync_per_s, base.rocksdb_one_per_s));

  settle(node.data_dir());
  const SubmitRun many = submit_concurrently(node.socket(), config.clients, config.per_client);
  row(fmt("submit: %d clients, 1 task/submit, %d each", config.clients, config.per_client),
      fmt("%.0f tasks/s, p50 %.2f ms, p99 %.2f ms", many.rate(),
          percentile(many.latency_us, 50) / 1000.0, percentile(many.latency_us, 99) / 1000.0),
      fmt("%.2f x raw fdatasync rate (%.0f/s); %.2f x 1 client", many.rate() / base.fdatasync_per_s,
          base.fdatasync_per_s, many.rate() / one.rate()),
      fmt(">= %.0f/s: %s", kSubmitGoalPerS, verdict(many.rate() >= kSubmitGoalPerS).c_str()));

  settle(node.data_dir());
  const SubmitRun batched = submit_loop(client, config.batches, config.batch_size);
  row(fmt("submit: 1 client, %d tasks/submit, %d batches", config.batch_size, config.batches),
      fmt("%.0f tasks/s, per batch p50 %.2f ms, p99 %.2f ms", batched.rate(),
          percentile(batched.latency_us, 50) / 1000.0, percentile(batched.latency_us, 99) / 1000.0),
      fmt("RocksDB %d-record synced batches %.0f records/s (braid at %.0f%%); "
          "%.0f x raw fdatasync rate",
          config.batch_size, base.rocksdb_batch_tasks_per_s,
          100.0 * batched.rate() / base.rocksdb_batch_tasks_per_s,
          batched.rate() / base.fdatasync_per_s),
      fmt(">= %.0f/s: %s", kSubmitGoalPerS, verdict(batched.rate() >= kSubmitGoalPerS).c_str()));

  const auto stats = must(client.stats(), "stats");
  const long long expected = static_cast<long long>(config.sequential) +
                             static_cast<long long>(config.clients) * config.per_client +
                             static_cast<long long>(config.batches) * config.batch_size;
  if (static_cast<long long>(stats.torus.count(TaskState::kQueued)) != expected) {
    throw std::runtime_error(
        fmt("after the submissions braidd has %llu queued tasks, not %lld",
            static_cast<unsigned long long>(stats.torus.count(TaskState::kQueued)), expected));
  }
}

// --- 3 + 4. restart time and memory per task --------------------------------

// The store's share of a restart: storage::Store::open (which replays the
// WAL) + load_tasks decoding every record, on a copy of the node's database
// in the same cache state, so the node's own files are left as they are.
double store_alone_seconds(const std::filesystem::path& db, bool cold, long long& records) {
  TempDir dir;
  const std::filesystem::path copy = std::filesystem::path(dir.path()) / "db";
  std::filesystem::copy(db, copy, std::filesystem::copy_options::recursive);
  settle(dir.path());
  if (cold) evict(copy);
  records = 0;
  const auto start = Clock::now();
  auto store = braid::storage::Store::open(copy);
  if (!store) throw std::runtime_error(store.error().message);
  if (auto s = store.value()->load_tasks([&](braid::storage::TaskRecord&&) { ++records; }); !s) {
    throw std::runtime_error(s.error().message);
  }
  return seconds_since(start);
}

enum class Cache { kWarm, kCold };

// kill -9, then a timed restart; checks that every task came back queued.
double restart_and_check(Node& node, long long queued_expected, Cache cache,
                         const std::string& label, const std::string& goal = "",
                         double goal_s = 0) {
  const DiskUsage disk = disk_usage(node.db_dir());
  node.kill9();
  long long records = 0;
  const double store_s = store_alone_seconds(node.db_dir(), cache == Cache::kCold, records);
  settle(node.data_dir());
  if (cache == Cache::kCold) evict(node.db_dir());
  const double seconds = node.restart_timed();
  braid::node::ControlClient client(node.socket());
  const auto stats = must(client.stats(), "stats after restart");
  const long long queued = static_cast<long long>(stats.torus.count(TaskState::kQueued));
  // The blocker was running: it is requeued and, at priority 10, started again.
  if (queued != queued_expected &&
      !(queued == queued_expected + 1 && stats.torus.count(TaskState::kRunning) == 0)) {
    throw std::runtime_error(fmt("%s: %lld queued after restart, expected %lld", label.c_str(),
                                 queued, queued_expected));
  }
  row(label, fmt("%.3f s (%lld queued)", seconds, queued),
      fmt("Store::open + load_tasks alone %.3f s (%lld records); braidd: \"%s\"; "
          "db at the kill: %.1f MiB (WAL %.1f MiB), du %.1f MiB",
          store_s, records, restored_line(node.log()).c_str(), mib(disk.apparent_bytes),
          mib(disk.wal_bytes), mib(disk.allocated_bytes)),
      goal.empty() ? "" : goal + verdict(seconds <= goal_s));
  wait_running(client);
  return seconds;
}

void restart_and_memory(const Config& config, int tasks) {
  Node node(node_flags());
  {
    braid::node::ControlClient client(node.socket());
    hold_slot(client);
  }
  const long long rss0_fresh = rss_bytes(node.pid());
  // Baselines: restart and RSS with only the blocker stored.
  restart_and_check(node, 0, Cache::kWarm, "restart: only the blocker stored");
  const long long rss0_restarted = rss_bytes(node.pid());

  braid::node::ControlClient client(node.socket());
  const int calls = (tasks + config.fill_batch - 1) / config.fill_batch;
  settle(node.data_dir());
  const SubmitRun fill = submit_loop(client, calls, config.fill_batch);
  const long long stored = fill.tasks;
  const long long rss_fresh = rss_bytes(node.pid());
  const double per_task_fresh = static_cast<double>(rss_fresh - rss0_fresh) / stored;
  row(fmt("fill: %lld tasks in batches of %d", stored, config.fill_batch),
      fmt("%.0f tasks/s (%.2f s)", fill.rate(), fill.seconds));
  row(fmt("memory: RSS per queued task, %lld tasks, after submitting", stored),
      fmt("%.0f B/task", per_task_fresh),
      fmt("RSS %.1f MiB with the blocker only, %.1f MiB with %lld tasks", mib(rss0_fresh),
          mib(rss_fresh), stored),
      fmt("<= %.0f B: %s", kRssGoalBytesPerTask,
          verdict(per_task_fresh <= kRssGoalBytesPerTask).c_str()));

  // The goal is for 1M stored tasks; smaller runs show the trend.
  const double goal_s = kRestartGoalS;
  const std::string goal =
      stored >= kRestartGoalTasks ? fmt("<= %.0f s for 1M: ", kRestartGoalS) : "";
  restart_and_check(node, stored, Cache::kWarm,
                    fmt("restart: %lld tasks, right after kill -9 (all in the WAL)", stored), goal,
                    goal_s);
  const long long rss_restarted = rss_bytes(node.pid());
  const double per_task_restarted = static_cast<double>(rss_restarted - rss0_restarted) / stored;
  row(fmt("memory: RSS per queued task, %lld tasks, after restart", stored),
      fmt("%.0f B/task", per_task_restarted),
      fmt("RSS %.1f MiB with the blocker only, %.1f MiB with %lld tasks (both restarted)",
          mib(rss0_restarted), mib(rss_restarted), stored),
      fmt("<= %.0f B: %s", kRssGoalBytesPerTask,
          verdict(per_task_restarted <= kRssGoalBytesPerTask).c_str()));
  restart_and_check(node, stored, Cache::kWarm,
                    fmt("restart: %lld tasks, 2nd kill -9 (after a restart)", stored), goal,
                    goal_s);
  restart_and_check(node, stored, Cache::kCold,
                    fmt("restart: %lld tasks, 3rd kill -9, db evicted from page cache", stored),
                    goal, goal_s);
}

void print_table() {
  std::size_t w0 = 6, w1 = 5, w2 = 8;
  for (const Row& r : g_rows) {
    w0 = std::max(w0, r.figure.size());
    w1 = std::max(w1, r.value.size());
    w2 = std::max(w2, r.goal.size());
  }
  std::printf("\n%-*s  %-*s  %-*s  %s\n", static_cast<int>(w0), "figure", static_cast<int>(w1),
              "value", static_cast<int>(w2), "goal", "baseline (same run)");
  for (const Row& r : g_rows) {
    std::printf("%-*s  %-*s  %-*s  %s\n", static_cast<int>(w0), r.figure.c_str(),
                static_cast<int>(w1), r.value.c_str(), static_cast<int>(w2), r.goal.c_str(),
                r.baseline.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid durability benchmark (starts its own braidd)"};
  Config config;
  app.add_flag("--quick", config.quick, "small sizes: a smoke run of well under a minute");
  app.add_option("--baseline-seconds", config.baseline_seconds, "length of each raw baseline loop")
      ->capture_default_str();
  app.add_option("--sequential", config.sequential, "submits from 1 client, one task each")
      ->capture_default_str();
  app.add_option("--clients", config.clients, "concurrent clients")->capture_default_str();
  app.add_option("--per-client", config.per_client, "submits per concurrent client")
      ->capture_default_str();
  app.add_option("--batches", config.batches, "batched submits from 1 client")
      ->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "tasks per batched submit")
      ->capture_default_str();
  app.add_option("--restart-sizes", config.restart_sizes, "stored tasks for the restart runs")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--fill-batch", config.fill_batch, "tasks per submit when filling")
      ->capture_default_str();
  app.add_option("--timeout-seconds", config.timeout_seconds, "watchdog for the whole run")
      ->capture_default_str();
  app.add_option("--env-entries", g_env_entries,
                 "submitter environment entries per submission (0: none)")
      ->capture_default_str();
  app.add_option("--env-bytes", g_env_bytes, "submitter environment size per submission")
      ->capture_default_str();
  app.add_option("--only", config.only, "all, submit (baselines + submissions) or restart")
      ->check(CLI::IsMember({"all", "submit", "restart"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (config.quick) {
    config.baseline_seconds = 0.3;
    config.sequential = 200;
    config.per_client = 50;
    config.batches = 10;
    config.restart_sizes = {10'000};
    config.fill_batch = 5'000;
    config.timeout_seconds = 100;
  }
  if (config.sequential < 1 || config.clients < 1 || config.per_client < 1 || config.batches < 1 ||
      config.batch_size < 1 || config.fill_batch < 1 ||
      std::any_of(config.restart_sizes.begin(), config.restart_sizes.end(),
                  [](int n) { return n < 1; })) {
    std::fprintf(stderr, "braid_durability_bench: every size must be at least 1\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const Watchdog watchdog(std::chrono::seconds(config.timeout_seconds));
  std::printf(
      "braid durability benchmark on %ld cores%s; each submission carries %d env entries, "
      "~%d B\n",
      sysconf(_SC_NPROCESSORS_ONLN), config.quick ? " (--quick)" : "", g_env_entries,
      g_env_entries > 0 ? g_env_bytes : 0);
  try {
    if (config.only != "restart") {
      Baselines base;
      raw_fdatasync(config.baseline_seconds, base);
      raw_rocksdb_baselines(config.baseline_seconds, config.batch_size, base);
      submissions(config, base);
    }
    if (config.only != "submit") {
      for (int tasks : config.restart_sizes) restart_and_memory(config, tasks);
    }
  } catch (const std::exception& e) {
    print_table();
    std::fprintf(stderr, "braid_durability_bench: ERROR: %s\n", e.what());
    return 1;
  }
  print_table();
  return 0;
}
