// Small helpers every end-to-end benchmark harness uses: percentiles,
// printf-style formatting, and unwrapping a control reply or throwing (a
// harness stops its braidd on the way out, never exit()s past it).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "node/control_client.h"

namespace braid::bench {

// The p-th percentile (0..100) of `v`, nearest rank; 0 for no values.
inline long long percentile(std::vector<long long> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5)];
}

inline std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return buffer;
}

// The reply's value; a refusal or an unreachable daemon throws, naming `what`.
template <typename T>
T must(node::Reply<T> reply, const std::string& what) {
  if (auto* v = std::get_if<T>(&reply)) return std::move(*v);
  if (auto* r = std::get_if<node::Refused>(&reply)) {
    throw std::runtime_error(what + ": refused: " + r->message);
  }
  throw std::runtime_error(what + ": " + std::get<node::Unreachable>(reply).message);
}

// The first executable `name` in $PATH, or "" when there is none.
inline std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    std::size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(begin, end - begin) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return "";
}

}  // namespace braid::bench
