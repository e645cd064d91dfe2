// DataDir: a node's state directory, created if missing and held exclusively
// (flock on <data_dir>/braidd.lock) for the daemon's lifetime, so two daemons
// can never share one directory or steal each other's control socket.
//
// State is private: the directory (and logs/) is created 0700, and a
// directory owned by another user or writable by group or others is refused
// (someone else could plant files or symlinks in it).
#pragma once

#include <filesystem>

#include "sched/result.h"

namespace braid::node {

// Creates `dir` if missing (missing parents with the process's umask, `dir`
// itself 0700), then checks that it is a directory owned by this user
// (geteuid) and not writable by group or others. `what` names it in the
// error ("data dir", "socket dir"): one line saying what is wrong and how to
// fix it.
sched::Status ensure_private_dir(const std::filesystem::path& dir, std::string_view what);

class DataDir final {
 public:
  // Creates the directory (and logs/) and takes the lock. The error names the
  // directory and why (permissions, ownership, another braidd holding it, ...).
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
