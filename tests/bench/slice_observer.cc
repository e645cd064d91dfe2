#include "tests/bench/slice_observer.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "node/cgroup.h"

namespace braid::bench {
namespace {

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string SliceObserver::cgroup_events_of(pid_t pid) {
  const auto mount = node::parse_cgroup2_mount(slurp("/proc/self/mountinfo"));
  const auto path = node::parse_own_cgroup(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
  if (!mount || !path) return "";
  return (node::cgroup_directory(*mount, *path) / "cgroup.events").string();
}

SliceObserver::SliceObserver(const std::vector<Target>& targets,
                             std::chrono::microseconds interval) {
  for (const Target& t : targets) {
    Watched w;
    w.cgroup = !t.cgroup_events.empty();
    const std::string path =
        w.cgroup ? t.cgroup_events : "/proc/" + std::to_string(t.pid) + "/stat";
    w.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (w.fd >= 0) watched_.push_back(w);
  }
  thread_ = std::thread([this, interval] { run(interval); });
}

SliceObserver::~SliceObserver() {
  stop();
  for (const Watched& w : watched_) ::close(w.fd);
}

void SliceObserver::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

int SliceObserver::read_stopped(const Watched& w) {
  char text[512];
  const ssize_t n = ::pread(w.fd, text, sizeof(text) - 1, 0);
  if (n <= 0) return -1;
  text[n] = '\0';
  if (w.cgroup) {
    const char* frozen = std::strstr(text, "frozen ");
    return frozen == nullptr ? -1 : frozen[7] == '1';
  }
  const char* paren = std::strrchr(text, ')');  // the name may contain ") "
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return -1;
  return paren[2] == 'T';
}

void SliceObserver::run(std::chrono::microseconds interval) {
  ::prctl(PR_SET_TIMERSLACK, 1UL);  // wake on time: the sweep period is the resolution
  long long last_sweep_us = -1;
  while (!stopping_) {
    const long long sweep_start_us = now_us();
    if (last_sweep_us >= 0) sweep_us_.push_back(sweep_start_us - last_sweep_us);
    last_sweep_us = sweep_start_us;
    for (Watched& w : watched_) {
      const int stopped = read_stopped(w);
      if (stopped < 0) continue;  // gone, or between states we cannot read
      const long long seen_us = now_us();
      if (stopped == 1 && w.stopped == 0 && w.resumed_us >= 0) {
        slices_us_.push_back(seen_us - w.resumed_us);
      }
      if (stopped == 0 && w.stopped == 1) w.resumed_us = seen_us;
      w.stopped = stopped;
    }
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace braid::bench
