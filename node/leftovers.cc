#include "node/leftovers.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "node/proc_stat.h"

namespace braid::node {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(5);

bool still_runs(pid_t pid) {
  const std::optional<ProcStat> stat = read_proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

// The processes of one recorded attempt that are provably its own.
std::vector<pid_t> processes_of(const storage::ProcessMark& mark) {
  const pid_t pgid = mark.pgid;
  if (pgid <= 1 || mark.start_ticks == 0) return {};
  if (const std::optional<ProcStat> leader = read_proc_stat(pgid)) {
    if (leader->start_ticks != mark.start_ticks || leader->pgrp != pgid) return {};  // reused
    return list_process_group(pgid);
  }
  std::vector<pid_t> members;
  for (pid_t pid : list_process_group(pgid)) {
    const std::optional<ProcStat> stat = read_proc_stat(pid);
    if (stat && stat->start_ticks >= mark.start_ticks) members.push_back(pid);
  }
  return members;
}

}  // namespace

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::size_t end_leftovers(const std::vector<storage::ProcessMark>& marks, sched::Micros wait_us) {
  std::vector<pid_t> signalled;
  for (const storage::ProcessMark& mark : marks) {
    for (pid_t pid : processes_of(mark)) {
      if (!still_runs(pid)) continue;
      if (::kill(pid, SIGKILL) == 0) signalled.push_back(pid);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(wait_us);
  for (pid_t pid : signalled) {
    while (still_runs(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(kPollInterval);  // a SIGKILLed process has no event to wait on
    }
    if (still_runs(pid)) spdlog::error("leftover process {} survived SIGKILL", pid);
  }
  return signalled.size();
}

}  // namespace braid::node
