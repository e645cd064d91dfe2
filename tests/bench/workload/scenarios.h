// The two latency workloads of issue 9 §2, each under one tool:
//  - urgent: while a batch of CPU burners keeps every slot busy, one
//    priority-10 burner of `urgent_ms` CPU is submitted; its completion time
//    (submit to done) over its solo run time is the figure;
//  - two users: user A submits `a_tasks` burners of `task_ms`, `delay` later
//    user B submits `b_tasks` of the same; when (from A's submit) the last of
//    B's and the last of A's finished.
// Under braid A and B submit under accounts "a" and "b" (names user-a-*, user-b-*).
// The burner is braid-burn (it burns its own CPU time, so preemption does
// not shorten it); task-spooler queues FIFO.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/bench/workload/batch.h"

namespace braid::bench::workload {

struct UrgentParams {
  int slots = 2;
  int batch_tasks = 12;
  int batch_ms = 2000;
  int urgent_ms = 1000;
  std::chrono::milliseconds delay{2000};  // batch submit to urgent submit
};

// Seconds from the urgent task's submit until it finished.
double run_urgent(const Tool& tool, const UrgentParams& p, std::chrono::seconds timeout,
                  const std::string& scratch);

struct UsersParams {
  int slots = 2;
  int a_tasks = 10;
  int b_tasks = 2;
  int task_ms = 3000;
  std::chrono::milliseconds delay{2000};  // A's submit to B's submit
};

struct UsersFigures {
  double b_done_s = 0;  // from A's submit until B's last task finished
  double a_done_s = 0;  // ... until A's last task finished
};

UsersFigures run_users(const Tool& tool, const UsersParams& p, std::chrono::seconds timeout,
                       const std::string& scratch);

// Median wall seconds of `runs` solo runs of `braid-burn ms` (the urgent
// task's solo run time).
double solo_burn_s(int ms, int runs);

}  // namespace braid::bench::workload
