#include "node/leftovers.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <unordered_map>

#include "node/proc_stat.h"
#include "node/spawn.h"

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

// The environment a process was exec'ed with; "" when gone or unreadable.
std::string read_environ(pid_t pid) {
  std::string block;
  const std::string path = "/proc/" + std::to_string(pid) + "/environ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return block;
  char buffer[8192];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    block.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return block;
}

struct ScannedProcess {
  pid_t pgrp = 0;
  bool marked = false;
};

// Every live process but this one: its group, and whether it carries `entry`.
std::unordered_map<pid_t, ScannedProcess> scan_proc(std::string_view entry,
                                                    std::size_t* entries_seen) {
  std::unordered_map<pid_t, ScannedProcess> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return processes;
  const pid_t self = ::getpid();
  while (const dirent* dirent = ::readdir(proc)) {
    const std::string_view name(dirent->d_name);
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size() || pid <= 1 || pid == self) continue;
    if (entries_seen != nullptr) ++*entries_seen;
    const std::optional<ProcStat> stat = read_proc_stat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') continue;
    processes[pid] = ScannedProcess{stat->pgrp, environ_has(read_environ(pid), entry)};
  }
  ::closedir(proc);
  return processes;
}

}  // namespace

bool environ_has(std::string_view block, std::string_view entry) {
  if (entry.empty()) return false;
  for (std::size_t at = 0; at < block.size();) {
    std::size_t end = block.find('\0', at);
    if (end == std::string_view::npos) end = block.size();
    if (block.substr(at, end - at) == entry) return true;
    at = end + 1;
  }
  return false;
}

std::vector<pid_t> find_marked_processes(std::string_view node_mark) {
  std::vector<pid_t> marked;
  if (node_mark.empty()) return marked;
  const std::string entry = std::string(kNodeMarkVariable) + "=" + std::string(node_mark);
  for (const auto& [pid, process] : scan_proc(entry, nullptr)) {
    if (process.marked) marked.push_back(pid);
  }
  return marked;
}

MarkedSweep end_marked_processes(std::string_view node_mark, const Clock& clock,
                                 sched::Micros wait_us) {
  MarkedSweep sweep;
  if (node_mark.empty()) return sweep;
  const sched::Micros began_us = clock.monotonic_us();
  const sched::Micros deadline_us = began_us + wait_us;
  const std::string entry = std::string(kNodeMarkVariable) + "=" + std::string(node_mark);
  const pid_t own_group = ::getpgrp();
  std::set<pid_t> signalled;
  std::vector<pid_t> running;  // targets the last scan found alive
  for (bool first = true;; first = false) {
    const auto processes = scan_proc(entry, first ? &sweep.processes_scanned : nullptr);
    std::set<pid_t> groups;  // the marked processes' groups that are theirs to end
    for (const auto& [pid, process] : processes) {
      if (!process.marked) continue;
      const pid_t group = process.pgrp;
      if (group <= 1 || group == own_group || group == ::getpid()) continue;
      const auto leader = processes.find(group);
      if (leader != processes.end() && !leader->second.marked) continue;  // not its own group
      groups.insert(group);
    }
    running.clear();
    for (const auto& [pid, process] : processes) {
      if (process.marked || groups.count(process.pgrp) != 0) running.push_back(pid);
    }
    if (running.empty()) break;
    if (clock.monotonic_us() >= deadline_us) break;
    // The group first: members forked since the scan are in it too.
    for (pid_t group : groups) ::kill(-group, SIGKILL);
    for (pid_t pid : running) {
      if (::kill(pid, SIGKILL) == 0) signalled.insert(pid);
    }
    std::this_thread::sleep_for(kPollInterval);  // a SIGKILLed process has no event to wait on
  }
  for (pid_t pid : running) spdlog::error("marked process {} survived SIGKILL", pid);
  sweep.signalled = signalled.size();
  sweep.survivors = running.size();
  sweep.took_us = clock.monotonic_us() - began_us;
  return sweep;
}

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::size_t end_leftovers(const std::vector<storage::ProcessMark>& marks, const Clock& clock,
                          sched::Micros wait_us) {
  std::vector<pid_t> signalled;
  for (const storage::ProcessMark& mark : marks) {
    for (pid_t pid : processes_of(mark)) {
      if (!still_runs(pid)) continue;
      if (::kill(pid, SIGKILL) == 0) signalled.push_back(pid);
    }
  }
  const sched::Micros deadline_us = clock.monotonic_us() + wait_us;
  for (pid_t pid : signalled) {
    while (still_runs(pid) && clock.monotonic_us() < deadline_us) {
      std::this_thread::sleep_for(kPollInterval);  // a SIGKILLed process has no event to wait on
    }
    if (still_runs(pid)) spdlog::error("leftover process {} survived SIGKILL", pid);
  }
  return signalled.size();
}

}  // namespace braid::node
