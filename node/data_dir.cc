#include "node/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace braid::node {

sched::Result<DataDir> DataDir::open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir / "logs", ec);
  if (ec) return sched::Error{"cannot create data dir " + dir.string() + ": " + ec.message()};
  const std::filesystem::path lock = dir / "braidd.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
