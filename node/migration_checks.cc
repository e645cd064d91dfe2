#include "node/migration_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

namespace braid::node {
namespace {

// The value of KEY in "KEY=VALUE" entries; later entries win.
std::optional<std::string> env_value(const std::vector<std::string>& entries,
                                     std::string_view key) {
  std::optional<std::string> value;
  for (const std::string& e : entries) {
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
      value = e.substr(key.size() + 1);
    }
  }
  return value;
}

bool executable(const std::filesystem::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Whether argv[0] resolves as the task would run it: a path (relative to its
// cwd), or a name on its PATH (its env, then its submitter's, then ours).
}  // namespace

bool program_resolves(const sched::TaskSpec& spec) {
  const std::string& program = spec.argv.front();
  const std::filesystem::path cwd =
      spec.cwd.empty() ? std::filesystem::path("/") : std::filesystem::path(spec.cwd);
  if (program.find('/') != std::string::npos) {
    const std::filesystem::path p(program);
    return executable(p.is_absolute() ? p : cwd / p);
  }
  std::optional<std::string> path = env_value(spec.env, "PATH");
  if (!path && spec.base_env) path = env_value(spec.base_env->entries, "PATH");
  if (!path) {
    const char* ours = std::getenv("PATH");
    path = ours != nullptr ? ours : "/usr/local/bin:/usr/bin:/bin";
  }
  std::size_t start = 0;
  while (start <= path->size()) {
    const std::size_t end = std::min(path->find(':', start), path->size());
    const std::string dir = path->substr(start, end - start);
    if (executable(std::filesystem::path(dir.empty() ? "." : dir) / program)) return true;
    start = end + 1;
  }
  return false;
}

bool travels(const sched::TaskSpec& spec) {
  std::size_t bytes =
      1024 + spec.cwd.size() + spec.name.size() + spec.output.size() + spec.account.size();
  auto add = [&bytes](const std::vector<std::string>& list) {
    for (const std::string& s : list) bytes += s.size() + 16;  // a Cap'n Proto text + pointer
  };
  add(spec.argv);
  add(spec.env);
  for (const sched::Label& l : spec.constraints) bytes += l.key.size() + l.value.size() + 32;
  if (spec.base_env) add(spec.base_env->entries);
  return bytes <= sched::kMaxMigrationMessageBytes / 2;
}

std::optional<std::string> missing_for(const sched::TaskSpec& spec) {
  if (!spec.cwd.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(spec.cwd, ec))
      return "no such working directory: " + spec.cwd;
  }
  if (!program_resolves(spec)) return "no such program: " + spec.argv.front();
  return std::nullopt;
}

std::optional<std::string> missing_labels(const std::vector<sched::Label>& node_labels,
                                          const sched::TaskSpec& spec) {
  return sched::unmet_labels_reason(node_labels, spec.constraints);
}

}  // namespace braid::node
