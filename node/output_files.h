// Where a task's output goes, like Slurm's: by default stdout and stderr
// merged into <logs>/<id>.out; with separate_stderr, stderr into
// <logs>/<id>.err; with an output pattern, stdout (and stderr unless
// separate) into the expanded pattern:
//
//   %j  the task id            %x  the task's name (argv[0]'s base name if unnamed)
//   %a  the array index        %%  a '%'
//       (empty for a task not submitted with --array)
//
// Other '%' sequences are kept as written. A relative pattern is relative to
// the task's working directory (the daemon's when it has none), an absolute
// one is used as is; its directory must exist.
//
// Files in the logs directory are opened relative to the directory's fd,
// with O_NOFOLLOW: a symlink planted there is never followed. Files an
// output pattern names are the user's: opened O_NOFOLLOW too, never deleted
// by braid. Output files are opened for appending (attempts append), mode
// 0600.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "sched/result.h"
#include "sched/task.h"

namespace braid::node {

// One output file: a name inside the logs directory, or a path outside it.
struct OutputFile {
  bool in_logs_dir = true;
  std::filesystem::path path;  // in_logs_dir: a plain file name ("n:1.out"); else absolute

  bool operator==(const OutputFile&) const = default;
};

struct OutputPaths {
  OutputFile out;                 // stdout (and stderr when err is empty)
  std::optional<OutputFile> err;  // separate stderr
};

// The pattern with %j %a %x %% replaced (see above). Pure.
std::string expand_output_pattern(std::string_view pattern, std::string_view task_id,
                                  const sched::TaskSpec& spec);

// Where the output of task `task_id` goes. `daemon_cwd` resolves a relative
// pattern of a task without a working directory. Pure.
OutputPaths output_paths(std::string_view task_id, const sched::TaskSpec& spec,
                         const std::filesystem::path& daemon_cwd);

// The logs directory, held open by fd.
class LogDir final {
 public:
  // Opens (does not create) `dir`; the error names it.
  static sched::Result<LogDir> open(const std::filesystem::path& dir);
  LogDir(LogDir&& other) noexcept;
  LogDir& operator=(LogDir&& other) noexcept;
  LogDir(const LogDir&) = delete;
  LogDir& operator=(const LogDir&) = delete;
  ~LogDir();

  const std::filesystem::path& path() const { return dir_; }
  // Opens `file` for appending (created 0600), close-on-exec, O_NOFOLLOW.
  // The error reads "cannot open output file <path>: <strerror>".
  sched::Result<int> open_append(const OutputFile& file) const;
  // Opens `file` for reading, close-on-exec, O_NOFOLLOW; -1 with errno set on failure.
  int open_read(const OutputFile& file) const;
  // Removes a file of the logs directory (no-op for files outside it or missing).
  void remove(const OutputFile& file) const;
  // The path people read in messages.
  std::filesystem::path display(const OutputFile& file) const;

 private:
  LogDir(std::filesystem::path dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  std::filesystem::path dir_;
  int fd_ = -1;
};

}  // namespace braid::node
