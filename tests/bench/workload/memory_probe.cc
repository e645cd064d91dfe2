#include "tests/bench/workload/memory_probe.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace braid::bench::workload {

namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_str(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

// "0::/a/b" of /proc/self/cgroup, or "" when there is none.
std::string own_cgroup2_path() {
  std::istringstream lines(read_all("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

void pids_of_subtree(const std::string& cgroup, std::vector<pid_t>& out) {
  std::istringstream procs(read_all(cgroup + "/cgroup.procs"));
  pid_t pid = 0;
  while (procs >> pid) out.push_back(pid);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cgroup, ec)) {
    if (entry.is_directory(ec)) pids_of_subtree(entry.path().string(), out);
  }
}

// Descendants of this process, from every /proc/PID/stat's parent pid.
std::vector<pid_t> descendants_of_self() {
  std::vector<std::pair<pid_t, pid_t>> parent_of;  // (pid, ppid)
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return {};
  while (dirent* e = readdir(dir)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    const std::string stat = read_all("/proc/" + std::string(e->d_name) + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2) {
      parent_of.emplace_back(pid, ppid);
    }
  }
  closedir(dir);
  std::set<pid_t> tree = {getpid()};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent_of) {
      if (tree.count(ppid) != 0 && tree.insert(pid).second) grew = true;
    }
  }
  tree.erase(getpid());
  return {tree.begin(), tree.end()};
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void remove_tree(const std::string& cgroup) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cgroup, ec)) {
    if (entry.is_directory(ec)) remove_tree(entry.path().string());
  }
  rmdir(cgroup.c_str());
}

}  // namespace

std::string cgroup2_root() {
  struct stat st {};
  if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) return "/sys/fs/cgroup";
  if (stat("/sys/fs/cgroup/unified/cgroup.controllers", &st) == 0) return "/sys/fs/cgroup/unified";
  return "";
}

MemoryProbe::MemoryProbe(const std::string& label, std::chrono::milliseconds interval)
    : interval_(interval) {
  const std::string root = cgroup2_root();
  const std::string own = own_cgroup2_path();
  if (root.empty() || own.empty()) return;
  own_cgroup_ = root + (own == "/" ? "" : own);
  static int serial = 0;
  const std::string path = own_cgroup_ + "/braid-wl-" + std::to_string(getpid()) + "-" +
                           std::to_string(++serial) + "-" + label;
  if (mkdir(path.c_str(), 0755) == 0) cgroup_ = path;
}

MemoryProbe::~MemoryProbe() {
  stop();
  if (!cgroup_.empty()) {
    kill_leftovers();
    remove_tree(cgroup_);
  }
}

void MemoryProbe::inside(const std::function<void()>& spawn) {
  if (cgroup_.empty()) {
    spawn();
    return;
  }
  if (!write_str(cgroup_ + "/cgroup.procs", "0")) {
    throw std::runtime_error("cannot move the harness into " + cgroup_);
  }
  try {
    spawn();
  } catch (...) {
    write_str(own_cgroup_ + "/cgroup.procs", "0");
    throw;
  }
  if (!write_str(own_cgroup_ + "/cgroup.procs", "0")) {
    throw std::runtime_error("cannot move the harness back to " + own_cgroup_);
  }
}

void MemoryProbe::start() {
  if (running_.exchange(true)) return;
  sampler_ = std::thread([this] { sample_loop(); });
}

void MemoryProbe::stop() {
  if (!running_.exchange(false)) return;
  sampler_.join();
}

void MemoryProbe::sample_loop() {
  const double cpu0 = thread_cpu_s();
  while (running_) {
    const double before = thread_cpu_s();
    sample_once();
    // A sampling period, not synchronisation; stretched so that sampling
    // costs at most ~2% of a core (hundreds of started tasks make a sample
    // cost milliseconds, which would tax the tool being measured).
    const auto cost = std::chrono::duration<double>(thread_cpu_s() - before);
    std::this_thread::sleep_for(std::max<std::chrono::nanoseconds>(
        interval_, std::chrono::duration_cast<std::chrono::nanoseconds>(cost * 50)));
  }
  sample_once();
  sampler_cpu_s_ = thread_cpu_s() - cpu0;
}

void MemoryProbe::sample_once() {
  std::vector<pid_t> pids;
  if (cgroup_.empty()) {
    pids = descendants_of_self();
  } else {
    pids_of_subtree(cgroup_, pids);
  }
  static const long page = sysconf(_SC_PAGESIZE);
  long long rss = 0, anon = 0;
  char path[64];
  for (pid_t pid : pids) {
    std::snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) continue;
    long long size = 0, resident = 0, shared = 0;
    if (std::fscanf(f, "%lld %lld %lld", &size, &resident, &shared) == 3) {
      rss += resident * page;
      anon += (resident - shared) * page;
    }
    std::fclose(f);
  }
  peak_rss_bytes_ = std::max(peak_rss_bytes_, rss);
  peak_anon_bytes_ = std::max(peak_anon_bytes_, anon);
}

double MemoryProbe::peak_rss_mib() const {
  return static_cast<double>(peak_rss_bytes_) / (1024.0 * 1024.0);
}

double MemoryProbe::peak_anon_mib() const {
  return static_cast<double>(peak_anon_bytes_) / (1024.0 * 1024.0);
}

void MemoryProbe::kill_leftovers() {
  if (cgroup_.empty()) return;
  write_str(cgroup_ + "/cgroup.kill", "1");
  for (int i = 0; i < 500; ++i) {  // at most 5 s
    std::vector<pid_t> pids;
    pids_of_subtree(cgroup_, pids);
    if (pids.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, bounded
  }
}

}  // namespace braid::bench::workload
