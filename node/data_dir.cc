#include "node/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace braid::node {

sched::Status ensure_private_dir(const std::filesystem::path& dir, std::string_view what) {
  const std::string name = std::string(what) + " " + dir.string();
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec) return sched::Error{"cannot create " + name + ": " + ec.message()};
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return sched::Error{"cannot create " + name + ": " + std::strerror(errno)};
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return sched::Error{"cannot stat " + name + ": " + std::strerror(errno)};
  }
  if (!S_ISDIR(st.st_mode)) return sched::Error{name + " is not a directory"};
  if (st.st_uid != ::geteuid()) {
    return sched::Error{name + " is owned by uid " + std::to_string(st.st_uid) +
                        ", not by this user (uid " + std::to_string(::geteuid()) +
                        "): refusing to keep private state there"};
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return sched::Error{name + " is writable by group or others (mode " + mode + "): chmod 700 it"};
  }
  // Readable by others (a dir an older braid made 0755): ours, so tighten it.
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    return sched::Error{"cannot make " + name + " private (chmod 700): " + std::strerror(errno)};
  }
  return sched::ok_status();
}

sched::Result<DataDir> DataDir::open(const std::filesystem::path& dir) {
  if (sched::Status s = ensure_private_dir(dir, "data dir"); !s) return s.error();
  const std::filesystem::path logs = dir / "logs";
  if (::mkdir(logs.c_str(), 0700) != 0 && errno != EEXIST) {
    return sched::Error{"cannot create " + logs.string() + ": " + std::strerror(errno)};
  }
  // Files an older braid left readable stay out of reach behind a 0700 dir.
  if (::chmod(logs.c_str(), 0700) != 0) {
    return sched::Error{"cannot make " + logs.string() +
                        " private (chmod 700): " + std::strerror(errno)};
  }
  const std::filesystem::path lock = dir / "braidd.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return sched::Error{"cannot open " + lock.string() + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) {
      return sched::Error{"data dir " + dir.string() + " is in use by another braidd (lock " +
                          lock.string() + ")"};
    }
    return sched::Error{"cannot lock " + lock.string() + ": " + std::strerror(saved)};
  }
  return DataDir(dir, fd);
}

DataDir::DataDir(DataDir&& other) noexcept
    : dir_(std::move(other.dir_)), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace braid::node
