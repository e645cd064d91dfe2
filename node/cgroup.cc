#include "node/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "node/proc_stat.h"
#include "sched/task.h"

namespace braid::node {
namespace {

sched::Error errno_error(std::string_view operation, const std::filesystem::path& path, int err) {
  return sched::Error{std::string(operation) + " " + path.string() + ": " + std::strerror(err)};
}

std::optional<std::string> read_fd(int fd) {
  std::string text;
  std::array<char, 512> buffer;
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return text;
    text.append(buffer.data(), static_cast<std::size_t>(n));
    offset += n;
  }
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> text = read_fd(fd);
  ::close(fd);
  return text;
}

// 0, or the errno of the open (negated) or of the write.
int write_errno(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  const int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

sched::Status write_file(const std::filesystem::path& path, std::string_view text) {
  const int err = write_errno(path, text);
  if (err < 0) return errno_error("open", path, -err);
  if (err > 0) return errno_error("write", path, err);
  return sched::ok_status();
}

}  // namespace

std::optional<std::int64_t> pressure_some_total_us(std::string_view pressure) {
  if (!pressure.starts_with("some ")) return std::nullopt;
  const std::string_view line = pressure.substr(0, std::min(pressure.find('\n'), pressure.size()));
  const std::size_t at = line.find(" total=");
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = line.substr(at + 7);
  std::int64_t total = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), total);
  if (ec != std::errc() || end == digits.data() || total < 0) return std::nullopt;
  return total;
}

namespace {

// The value of "<key> <value>" lines (cgroup.events, cpu.stat).
std::optional<std::int64_t> keyed_value(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    const std::size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ') {
      continue;
    }
    line.remove_prefix(key.size() + 1);
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo.
std::string unescape_mountinfo(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      int value = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + 3, value, 8);
      if (ec == std::errc() && ptr == digits.data() + 3) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    const std::size_t begin = line.find_first_not_of(' ');
    if (begin == std::string_view::npos) break;
    line.remove_prefix(begin);
    const std::size_t end = std::min(line.find(' '), line.size());
    fields.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  return fields;
}

bool is_file(const std::filesystem::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Creates a cgroup directory; EEXIST is an error for the caller to judge.
int make_cgroup_dir(const std::filesystem::path& dir) {
  return ::mkdir(dir.c_str(), 0755) == 0 ? 0 : errno;
}

}  // namespace

std::optional<Cgroup2Mount> parse_cgroup2_mount(std::string_view mountinfo) {
  while (!mountinfo.empty()) {
    const std::size_t eol = std::min(mountinfo.find('\n'), mountinfo.size());
    const std::string_view line = mountinfo.substr(0, eol);
    mountinfo.remove_prefix(std::min(eol + 1, mountinfo.size()));
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const std::vector<std::string_view> fields = split_spaces(line);
    std::size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash + 1 >= fields.size() || fields[dash + 1] != "cgroup2") continue;
    return Cgroup2Mount{unescape_mountinfo(fields[4]), unescape_mountinfo(fields[3])};
  }
  return std::nullopt;
}

std::optional<std::string> parse_own_cgroup(std::string_view proc_self_cgroup) {
  while (!proc_self_cgroup.empty()) {
    const std::size_t eol = std::min(proc_self_cgroup.find('\n'), proc_self_cgroup.size());
    const std::string_view line = proc_self_cgroup.substr(0, eol);
    proc_self_cgroup.remove_prefix(std::min(eol + 1, proc_self_cgroup.size()));
    if (line.substr(0, 3) == "0::") return std::string(line.substr(3));
  }
  return std::nullopt;
}

std::filesystem::path cgroup_directory(const Cgroup2Mount& mount, std::string_view cgroup_path) {
  // Inside a cgroup namespace or a sub-tree mount, the mount shows `root`.
  std::string_view relative = cgroup_path;
  if (mount.root != "/" && relative.substr(0, mount.root.size()) == mount.root) {
    relative.remove_prefix(mount.root.size());
  }
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  return relative.empty() ? mount.mount_point : mount.mount_point / relative;
}

std::string cgroup_name_for(std::string_view task_id) {
  std::string name;
  for (char c : task_id) {
    name.push_back(sched::is_name_char(c) ? c : '_');
  }
  if (name.empty() || name == "." || name == "..")
    name.assign(std::max<std::size_t>(name.size(), 1), '_');
  return name;
}

// ---- TaskCgroup ----

struct TaskCgroup::OpenFiles {
  std::array<int, static_cast<std::size_t>(File::kCount)> fds;
  OpenFiles() { fds.fill(-1); }
  ~OpenFiles() { close_all(); }
  OpenFiles(const OpenFiles&) = delete;
  OpenFiles& operator=(const OpenFiles&) = delete;
  void close_all() {
    for (int& fd : fds) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
};

TaskCgroup::TaskCgroup(std::filesystem::path dir, bool has_kill_file)
    : dir_(std::move(dir)), has_kill_file_(has_kill_file), files_(std::make_shared<OpenFiles>()) {}

int TaskCgroup::file(File which) const {
  int& fd = files_->fds[static_cast<std::size_t>(which)];
  if (fd >= 0) return fd;
  static constexpr std::array<const char*, static_cast<std::size_t>(File::kCount)> kNames = {
      "cgroup.freeze", "cgroup.events"};
  const int flags = (which == File::kFreeze ? O_WRONLY : O_RDONLY) | O_CLOEXEC;
  fd = ::open((dir_ / kNames[static_cast<std::size_t>(which)]).c_str(), flags);
  return fd;
}

std::optional<std::string> TaskCgroup::read(File which) const {
  const int fd = file(which);
  if (fd < 0) return std::nullopt;
  return read_fd(fd);
}

sched::Status TaskCgroup::add_process(pid_t pid) const {
  return write_file(dir_ / "cgroup.procs", std::to_string(pid));
}

sched::Status TaskCgroup::add_process_tree(pid_t pid) const {
  sched::Status moved = add_process(pid);
  if (!moved) return moved;
  constexpr std::size_t kProcessesMax = 4096;  // bound the walk (fork bombs)
  std::vector<pid_t> to_visit{pid};
  for (std::size_t visited = 0; !to_visit.empty() && visited < kProcessesMax; ++visited) {
    const pid_t parent = to_visit.back();
    to_visit.pop_back();
    for (pid_t child : list_children(parent)) {
      // Fails with ESRCH if the child is gone: nothing left to move.
      if (add_process(child)) to_visit.push_back(child);
    }
  }
  return sched::ok_status();
}

namespace {

// Whether the controller list in file `path` (space separated) names memory.
bool lists_memory(const std::filesystem::path& path) {
  const std::optional<std::string> controllers = read_file(path);
  if (!controllers) return false;
  std::string_view rest = *controllers;
  while (!rest.empty()) {
    const std::size_t space = std::min(rest.find_first_of(" \n"), rest.size());
    if (rest.substr(0, space) == "memory") return true;
    rest.remove_prefix(std::min(space + 1, rest.size()));
  }
  return false;
}

}  // namespace

bool enable_memory_controller(const std::filesystem::path& dir) {
  return lists_memory(dir / "cgroup.controllers") &&
         write_file(dir / "cgroup.subtree_control", "+memory");
}

int write_cgroup_file(const std::filesystem::path& path, std::string_view text) {
  const int err = write_errno(path, text);
  return err < 0 ? -err : err;
}

bool claim_memory_for_children(const std::filesystem::path& dir, pid_t self,
                               std::string_view leaf_name, CgroupWrite write) {
  if (!lists_memory(dir / "cgroup.controllers")) return false;
  if (lists_memory(dir / "cgroup.subtree_control")) return true;
  const int err = write(dir / "cgroup.subtree_control", "+memory");
  if (err != EBUSY) return err == 0;
  const std::filesystem::path leaf = dir / std::string(leaf_name);
  if (int made = make_cgroup_dir(leaf); made != 0 && made != EEXIST) return false;
  if (write(leaf / "cgroup.procs", std::to_string(self)) != 0) return false;
  return write(dir / "cgroup.subtree_control", "+memory") == 0;
}

sched::Status TaskCgroup::set_memory_max(std::uint64_t bytes) const {
  return write_file(dir_ / "memory.max", std::to_string(bytes));
}

sched::Status TaskCgroup::set_frozen(bool frozen) const {
  const int fd = file(File::kFreeze);
  if (fd < 0) return errno_error("open", dir_ / "cgroup.freeze", errno);
  ssize_t n;
  do {
    n = ::pwrite(fd, frozen ? "1" : "0", 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write", dir_ / "cgroup.freeze", errno);
  return sched::ok_status();
}

bool TaskCgroup::wait_frozen(const Clock& clock, sched::Micros deadline_us) const {
  for (;;) {
    const std::optional<bool> is_frozen = frozen();
    if (!is_frozen) return false;
    if (*is_frozen) return true;
    if (clock.monotonic_us() >= deadline_us) return false;
  }
}

sched::Status TaskCgroup::kill_all(const Clock& clock) const {
  if (has_kill_file_) return write_file(dir_ / "cgroup.kill", "1");
  // Kernels before 5.14: freeze so nothing forks behind the loop, SIGKILL
  // each process (a fatal signal ends frozen processes), thaw.
  sched::Status frozen = set_frozen(true);
  if (frozen) wait_frozen(clock, clock.monotonic_us() + 10 * sched::kMicrosPerMilli);
  for (pid_t pid : pids()) ::kill(pid, SIGKILL);
  if (frozen) return set_frozen(false);
  return frozen;
}

sched::Status TaskCgroup::signal_all(int signal) const {
  std::optional<std::vector<pid_t>> members = read_pids();
  if (!members) return errno_error("read", dir_ / "cgroup.procs", errno);
  for (pid_t pid : *members) ::kill(pid, signal);
  return sched::ok_status();
}

std::vector<pid_t> TaskCgroup::pids() const { return read_pids().value_or(std::vector<pid_t>{}); }

std::optional<std::vector<pid_t>> TaskCgroup::read_pids() const {
  std::optional<std::string> text = read_file(dir_ / "cgroup.procs");
  if (!text) return std::nullopt;
  std::vector<pid_t> result;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    pid_t pid = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && pid > 0) result.push_back(pid);
  }
  return result;
}

std::optional<sched::Micros> TaskCgroup::cpu_usage_us() const {
  std::optional<std::string> text = read_file(dir_ / "cpu.stat");
  if (!text) return std::nullopt;
  return keyed_value(*text, "usage_usec");
}

std::optional<sched::Micros> TaskCgroup::cpu_wait_us() const {
  std::optional<std::string> text = read_file(dir_ / "cpu.pressure");
  if (!text) return std::nullopt;
  return pressure_some_total_us(*text);
}

std::optional<std::uint64_t> TaskCgroup::memory_current_bytes() const {
  std::optional<std::string> text = read_file(dir_ / "memory.current");
  if (!text) return std::nullopt;
  std::uint64_t bytes = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), bytes);
  if (ec != std::errc() || end == text->data()) return std::nullopt;
  return bytes;
}

std::optional<bool> TaskCgroup::populated() const { return events_flag("populated"); }

std::optional<bool> TaskCgroup::frozen() const { return events_flag("frozen"); }

std::optional<bool> TaskCgroup::events_flag(std::string_view key) const {
  std::optional<std::string> text = read(File::kEvents);
  if (!text) return std::nullopt;
  std::optional<std::int64_t> value = keyed_value(*text, key);
  if (!value) return std::nullopt;
  return *value != 0;
}

sched::Status TaskCgroup::remove() const {
  files_->close_all();
  if (::rmdir(dir_.c_str()) != 0) return errno_error("rmdir", dir_, errno);
  return sched::ok_status();
}

int TaskCgroup::open_events() const {
  return ::open((dir_ / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
}

// ---- CgroupParent ----

sched::Result<CgroupParent> CgroupParent::open(std::string_view name) {
  std::optional<std::string> mountinfo = read_file("/proc/self/mountinfo");
  if (!mountinfo) return errno_error("read", "/proc/self/mountinfo", errno);
  std::optional<Cgroup2Mount> mount = parse_cgroup2_mount(*mountinfo);
  if (!mount) return sched::Error{"no cgroup2 hierarchy is mounted"};
  std::optional<std::string> cgroups = read_file("/proc/self/cgroup");
  if (!cgroups) return errno_error("read", "/proc/self/cgroup", errno);
  std::optional<std::string> own = parse_own_cgroup(*cgroups);
  if (!own) return sched::Error{"/proc/self/cgroup has no cgroup2 (0::) entry"};
  if (name.empty() || cgroup_name_for(name) != name) {
    return sched::Error{"cgroup name must be [A-Za-z0-9._-]+, got \"" + std::string(name) + "\""};
  }
  const std::filesystem::path own_dir = cgroup_directory(*mount, *own);
  // Delegated (systemd Delegate=yes): braidd steps into a leaf of its own
  // cgroup so that the task cgroups beside it may get the memory controller.
  claim_memory_for_children(own_dir, ::getpid(), std::string(name) + ".daemon");
  return open_at(own_dir / name);
}

sched::Result<CgroupParent> CgroupParent::open_at(std::filesystem::path dir) {
  if (int err = make_cgroup_dir(dir); err != 0 && err != EEXIST)
    return errno_error("mkdir", dir, err);
  // Probe with a throw-away child: creatable, has the files braid uses, freezable.
  const std::filesystem::path probe = dir / ("probe-" + std::to_string(::getpid()));
  int err = make_cgroup_dir(probe);
  if (err == EEXIST) {  // left by a crashed process with our pid
    ::rmdir(probe.c_str());
    err = make_cgroup_dir(probe);
  }
  if (err != 0) return errno_error("mkdir", probe, err);
  const bool has_kill_file = is_file(probe / "cgroup.kill");
  TaskCgroup probe_cgroup(probe, has_kill_file);
  std::optional<sched::Error> failure;
  for (const char* file : {"cgroup.procs", "cgroup.freeze", "cgroup.events", "cpu.stat"}) {
    if (!failure && !is_file(probe / file)) failure = errno_error("stat", probe / file, ENOENT);
  }
  if (!failure) {
    sched::Status frozen = probe_cgroup.set_frozen(true);
    if (frozen) frozen = probe_cgroup.set_frozen(false);
    if (!frozen) failure = frozen.error();
  }
  sched::Status removed = probe_cgroup.remove();
  if (failure) return *failure;
  if (!removed) return removed.error();
  return CgroupParent(std::move(dir), has_kill_file);
}

sched::Result<TaskCgroup> CgroupParent::create(std::string_view task_id) const {
  const std::string base = cgroup_name_for(task_id);
  constexpr int kAttemptsMax = 100;
  int err = 0;
  for (int n = 1; n <= kAttemptsMax; ++n) {
    const std::filesystem::path dir = dir_ / (n == 1 ? base : base + "." + std::to_string(n));
    err = make_cgroup_dir(dir);
    if (err == ENOENT) {  // the parent was removed (another executor emptied it): once more
      make_cgroup_dir(dir_);
      err = make_cgroup_dir(dir);
    }
    if (err == 0) return TaskCgroup(dir, has_kill_file_);
    if (err != EEXIST) return errno_error("mkdir", dir, err);
  }
  return errno_error("mkdir", dir_ / base, err);
}

std::vector<TaskCgroup> CgroupParent::children() const {
  std::vector<TaskCgroup> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) found.emplace_back(entry.path(), has_kill_file_);
  }
  return found;
}

bool CgroupParent::remove_if_empty() const { return ::rmdir(dir_.c_str()) == 0 || errno == ENOENT; }

}  // namespace braid::node
