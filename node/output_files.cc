#include "node/output_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace braid::node {

std::string expand_output_pattern(std::string_view pattern, std::string_view task_id,
                                  const sched::TaskSpec& spec) {
  std::string out;
  out.reserve(pattern.size() + task_id.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '%' || i + 1 == pattern.size()) {
      out += c;
      continue;
    }
    switch (pattern[i + 1]) {
      case 'j':
        out += task_id;
        break;
      case 'a':
        if (spec.array_index >= 0) out += std::to_string(spec.array_index);
        break;
      case 'x':
        if (!spec.name.empty()) {
          out += spec.name;
        } else if (!spec.argv.empty()) {
          out += std::filesystem::path(spec.argv[0]).filename().string();
        }
        break;
      case '%':
        out += '%';
        break;
      default:
        out += c;
        out += pattern[i + 1];
        break;
    }
    ++i;
  }
  return out;
}

OutputPaths output_paths(std::string_view task_id, const sched::TaskSpec& spec,
                         const std::filesystem::path& daemon_cwd) {
  OutputPaths paths;
  const std::string id(task_id);
  if (spec.output.empty()) {
    paths.out = {true, id + ".out"};
  } else {
    std::filesystem::path path = expand_output_pattern(spec.output, task_id, spec);
    if (path.is_relative()) {
      path = (spec.cwd.empty() ? daemon_cwd : std::filesystem::path(spec.cwd)) / path;
    }
    paths.out = {false, path.lexically_normal()};
  }
  if (spec.separate_stderr) paths.err = OutputFile{true, id + ".err"};
  return paths;
}

sched::Result<LogDir> LogDir::open(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sched::Error{"cannot open log directory " + dir.string() + ": " + std::strerror(errno)};
  }
  return LogDir(dir, fd);
}

LogDir::LogDir(LogDir&& other) noexcept
    : dir_(std::move(other.dir_)), fd_(std::exchange(other.fd_, -1)) {}

LogDir& LogDir::operator=(LogDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    dir_ = std::move(other.dir_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

LogDir::~LogDir() {
  if (fd_ >= 0) ::close(fd_);
}

sched::Result<int> LogDir::open_append(const OutputFile& file) const {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
  const int fd = file.in_logs_dir ? ::openat(fd_, file.path.c_str(), kFlags, 0600)
                                  : ::open(file.path.c_str(), kFlags, 0600);
  if (fd < 0) {
    return sched::Error{"cannot open output file " + display(file).string() + ": " +
                        std::strerror(errno)};
  }
  return fd;
}

int LogDir::open_read(const OutputFile& file) const {
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
  return file.in_logs_dir ? ::openat(fd_, file.path.c_str(), kFlags)
                          : ::open(file.path.c_str(), kFlags);
}

void LogDir::remove(const OutputFile& file) const {
  if (file.in_logs_dir) ::unlinkat(fd_, file.path.c_str(), 0);
}

std::filesystem::path LogDir::display(const OutputFile& file) const {
  return file.in_logs_dir ? dir_ / file.path : file.path;
}

}  // namespace braid::node
