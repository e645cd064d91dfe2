#include "node/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <string>

namespace braid::node {
namespace {

// Splits off the next field of `rest` (separated by spaces or newlines).
std::string_view next_field(std::string_view& rest) {
  const std::size_t begin = rest.find_first_not_of(" \n");
  if (begin == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(begin);
  const std::size_t end = std::min(rest.find_first_of(" \n"), rest.size());
  std::string_view field = rest.substr(0, end);
  rest.remove_prefix(end);
  return field;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const std::size_t close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close_paren + 1);
  // Fields 3.. of proc(5): state ppid pgrp session tty_nr tpgid flags minflt
  // cminflt majflt cmajflt utime stime cutime cstime priority nice
  // num_threads itrealvalue starttime.
  std::array<std::string_view, 20> fields;
  for (std::string_view& field : fields) {
    field = next_field(rest);
    if (field.empty()) return std::nullopt;
  }
  ProcStat stat;
  if (fields[0].size() != 1) return std::nullopt;
  stat.state = fields[0][0];
  if (!parse_number(fields[1], stat.ppid) || !parse_number(fields[2], stat.pgrp) ||
      !parse_number(fields[11], stat.utime_ticks) || !parse_number(fields[12], stat.stime_ticks) ||
      !parse_number(fields[13], stat.cutime_ticks) ||
      !parse_number(fields[14], stat.cstime_ticks) || !parse_number(fields[19], stat.start_ticks)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::optional<std::string> text = read_small_file(path.c_str());
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

sched::Micros clock_ticks_to_us(std::uint64_t ticks) {
  static const long ticks_per_second = [] {
    const long value = ::sysconf(_SC_CLK_TCK);
    return value > 0 ? value : 100;
  }();
  return static_cast<sched::Micros>(ticks) * sched::kMicrosPerSecond / ticks_per_second;
}

std::vector<pid_t> list_children(pid_t pid) {
  std::vector<pid_t> children;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = ::opendir(task_dir.c_str());
  if (tasks == nullptr) return children;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = task_dir + "/" + entry->d_name + "/children";
    std::optional<std::string> text = read_small_file(path.c_str());
    if (!text) continue;
    std::string_view rest = *text;
    for (std::string_view field = next_field(rest); !field.empty(); field = next_field(rest)) {
      pid_t child = 0;
      if (parse_number(field, child)) children.push_back(child);
    }
  }
  ::closedir(tasks);
  return children;
}

std::vector<pid_t> list_process_group(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return members;
  while (const dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(entry->d_name), pid)) continue;
    const std::optional<ProcStat> stat = read_proc_stat(pid);
    if (stat && stat->pgrp == pgid) members.push_back(pid);
  }
  ::closedir(proc);
  return members;
}

std::optional<std::string> read_small_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  std::array<char, 1024> buffer;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace braid::node
