// The two queueing tools the workloads talk to task by task: a braidd of its
// own (through the real `braid` CLI) and a task-spooler server (`tsp`, own
// TS_SOCKET and TMPDIR). Both start their server inside a MemoryProbe so its
// tasks are measured (task-spooler runs a job in a process forked from the
// submitting `tsp` client, so every `tsp` submit starts inside it too), and
// every wait has a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/bench/workload/memory_probe.h"
#include "tests/bench/workload/proc.h"

namespace braid::testing {
class Daemon;
}

namespace braid::bench::workload {

// braidd exited instead of answering, e.g. a variant's flag it does not
// know: what() is "braidd FLAGS refused to start: " and the first line of its
// stderr. Workloads report it and drop the variant rather than stop.
class BraiddDidNotStart : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class BraidSession {
 public:
  // braidd --slots `slots` plus `braidd_args`, started inside `probe`;
  // throws BraiddDidNotStart when it exits instead of answering.
  BraidSession(MemoryProbe& probe, int slots, const std::vector<std::string>& braidd_args);
  ~BraidSession();

  // `braid submit --array 0-(n-1) --name NAME --priority P [--account A] --
  // ARGV` ({} = the index; no --account when `account` is empty); returns the ids.
  std::vector<std::string> submit_array(int n, const std::string& name, int priority,
                                        const std::vector<std::string>& argv,
                                        const std::string& account = "");
  // `braid submit --name NAME --priority P -- ARGV`; returns the id.
  std::string submit_one(const std::string& name, int priority,
                         const std::vector<std::string>& argv);
  // `braid wait IDS --timeout`: throws unless every task completed in time.
  void wait(const std::vector<std::string>& ids, Clock::time_point deadline);
  // The same `braid wait`, spawned: exits 0 once all completed (wait_exit it).
  pid_t spawn_wait(const std::vector<std::string>& ids, Clock::time_point deadline);
  // `braid stats --json`'s preemptions.
  long long preemptions();

 private:
  std::string cli(const std::string& args, const std::string& what);

  std::unique_ptr<testing::Daemon> daemon_;
  std::string cli_prefix_;  // `braid --socket S`, quoted
};

class TspSession {
 public:
  // A task-spooler server with `slots` (tsp -S) in a fresh TS_SOCKET/TMPDIR
  // under `scratch`, started inside `probe`. Throws when tsp is absent.
  TspSession(MemoryProbe& probe, int slots, const std::string& scratch);
  ~TspSession();  // tsp -K

  // `tsp ARGV...`; returns the job id.
  std::string submit(const std::vector<std::string>& argv);
  // `tsp -w ID` for each, in order: throws unless each exited 0 in time.
  void wait(const std::vector<std::string>& ids, Clock::time_point deadline);
  // The same waits in one spawned shell: exits 0 once all exited 0.
  pid_t spawn_wait(const std::vector<std::string>& ids);

 private:
  MemoryProbe& probe_;
  std::string tsp_;
  std::string scratch_;
  std::vector<std::string> env_;
};

// "a b c" with each word shell-quoted.
std::string join_quoted(const std::vector<std::string>& argv);

}  // namespace braid::bench::workload
