// How the `braid` CLI turns a daemon's reply into output and an exit code:
// a refusal prints its one line and exits kExitUsage, an unreachable daemon
// kExitUnreachable.
#pragma once

#include <cstdio>
#include <string>
#include <variant>

#include "node/cli_exit.h"
#include "node/control_client.h"

namespace braid::node {

// Prints "braid: <message>" to stderr; returns kExitUsage.
inline int usage(const std::string& message) {
  std::fprintf(stderr, "braid: %s\n", message.c_str());
  return kExitUsage;
}

// Unwraps a reply: on Refused / Unreachable prints the line, sets `code` and
// returns nullptr; else sets `code` to 0.
template <typename T>
const T* ok(const Reply<T>& reply, int& code) {
  if (const auto* r = std::get_if<Refused>(&reply)) {
    code = usage(r->message);
    return nullptr;
  }
  if (const auto* u = std::get_if<Unreachable>(&reply)) {
    std::fprintf(stderr, "braid: %s\n", u->message.c_str());
    code = kExitUnreachable;
    return nullptr;
  }
  code = 0;
  return &std::get<T>(reply);
}

}  // namespace braid::node
