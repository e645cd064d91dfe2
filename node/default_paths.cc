#include "node/default_paths.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace braid::node {
namespace {

// An absolute, non-empty value of `name`, else nullopt.
std::optional<std::filesystem::path> absolute_env(const GetEnv& getenv, const char* name) {
  const char* value = getenv(name);
  if (value == nullptr || value[0] != '/') return std::nullopt;
  return std::filesystem::path(value);
}

}  // namespace

DefaultPaths default_paths(uid_t uid, const GetEnv& getenv) {
  if (uid == 0) return {"/var/lib/braid", "/run/braid/braidd.sock"};
  const std::filesystem::path tmp = "/tmp/braid-" + std::to_string(uid);
  DefaultPaths paths;
  if (auto state = absolute_env(getenv, "XDG_STATE_HOME")) {
    paths.data_dir = *state / "braid";
  } else if (auto home = absolute_env(getenv, "HOME")) {
    paths.data_dir = *home / ".local/state/braid";
  } else {
    paths.data_dir = tmp / "state";
  }
  if (auto runtime = absolute_env(getenv, "XDG_RUNTIME_DIR")) {
    paths.socket = *runtime / "braid/braidd.sock";
  } else {
    paths.socket = tmp / "braidd.sock";
  }
  return paths;
}

DefaultPaths default_paths() {
  return default_paths(::geteuid(), [](const char* name) { return std::getenv(name); });
}

}  // namespace braid::node
