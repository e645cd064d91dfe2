// DataDir: a node's state directory, created if missing and held exclusively
// (flock on <data_dir>/braidd.lock) for the daemon's lifetime, so two daemons
// can never share one directory or steal each other's control socket.
#pragma once

#include <filesystem>

#include "sched/result.h"

namespace braid::node {

class DataDir final {
 public:
  // Creates the directory (and logs/) and takes the lock. The error names the
  // directory and why (permissions, another braidd holding it, ...).
  static sched::Result<DataDir> open(const std::filesystem::path& dir);
  DataDir(DataDir&& other) noexcept;
  DataDir& operator=(DataDir&&) = delete;
  ~DataDir();  // releases the lock

  const std::filesystem::path& path() const { return dir_; }

 private:
  DataDir(std::filesystem::path dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::filesystem::path dir_;
  int lock_fd_ = -1;
};

}  // namespace braid::node
