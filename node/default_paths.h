// Where braidd keeps its state and its control socket when not told, shared
// by braidd and the braid CLI so that both agree whatever their cwd:
//
//   user    data dir                               socket
//   root    /var/lib/braid                         /run/braid/braidd.sock
//   other   $XDG_STATE_HOME/braid, else            $XDG_RUNTIME_DIR/braid/braidd.sock,
//           $HOME/.local/state/braid, else         else /tmp/braid-$UID/braidd.sock
//           /tmp/braid-$UID/state
//
// XDG variables that are empty or not absolute are ignored (as the XDG base
// directory spec says). --socket, BRAID_SOCKET, --data-dir and the config
// file override these.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>

namespace braid::node {

struct DefaultPaths {
  std::filesystem::path data_dir;
  std::filesystem::path socket;
};

// getenv: returns the variable's value or nullptr (pure for tests).
using GetEnv = std::function<const char*(const char*)>;
DefaultPaths default_paths(uid_t uid, const GetEnv& getenv);
// For this process: geteuid() and the real environment.
DefaultPaths default_paths();

}  // namespace braid::node
