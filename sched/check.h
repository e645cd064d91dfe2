// Always-on invariant checks. BRAID_CHECK(cond, values...) stays in release
// builds (unlike assert, which NDEBUG removes): when `cond` is false it prints
//   file:line: check failed: cond [name=value, ...]
// to stderr and calls std::abort(). When `cond` holds it costs one branch:
// the values are neither evaluated nor formatted (they sit in the cold call).
//
// Values are printed with `to_string(v)` found by argument-dependent lookup
// (TaskState, Policy, ...), else operator<<, else an enum's number. Their
// names are the argument texts, split at top-level commas; a value argument
// with an unparenthesised template comma (`f<a, b>(x)`) must be wrapped in
// parentheses.
#pragma once

#include <concepts>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace braid::sched::check_detail {

// Prints the failure and aborts. `names` is the stringised value list.
[[noreturn]] void fail(const char* file, int line, const char* cond, std::string_view names,
                       const std::vector<std::string>& values);

template <typename T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                       std::is_same_v<T, unsigned char>) {
    return std::to_string(static_cast<int>(v));
  } else if constexpr (requires { to_string(v); }) {
    return std::string(to_string(v));
  } else if constexpr (requires(std::ostream & os) { os << v; }) {
    std::ostringstream os;
    os << v;
    return os.str();
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else {
    return "<unprintable>";
  }
}

template <typename... Values>
[[noreturn, gnu::cold, gnu::noinline]] void fail_with(const char* file, int line, const char* cond,
                                                      std::string_view names,
                                                      const Values&... values) {
  fail(file, line, cond, names, std::vector<std::string>{show(values)...});
}

}  // namespace braid::sched::check_detail

#define BRAID_CHECK(cond, ...)                                                          \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      ::braid::sched::check_detail::fail_with(__FILE__, __LINE__, #cond,                \
                                              #__VA_ARGS__ __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                                   \
  } while (false)
