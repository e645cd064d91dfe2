#include "sched/check.h"

#include <cstdio>
#include <cstdlib>

namespace braid::sched::check_detail {
namespace {

// Splits "a, f(b, c), \"x,y\"" at the commas outside brackets and literals.
std::vector<std::string_view> split_names(std::string_view names) {
  std::vector<std::string_view> out;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const char c = names[i];
    if (quote != 0) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(names.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < names.size()) out.push_back(names.substr(start));
  for (std::string_view& n : out) {
    while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    while (!n.empty() && n.back() == ' ') n.remove_suffix(1);
  }
  return out;
}

}  // namespace

void fail(const char* file, int line, const char* cond, std::string_view names,
          const std::vector<std::string>& values) {
  std::string msg = std::string(file) + ":" + std::to_string(line) + ": check failed: " + cond;
  const std::vector<std::string_view> parts = split_names(names);
  for (std::size_t i = 0; i < values.size(); ++i) {
    msg += i == 0 ? " [" : ", ";
    msg += i < parts.size() ? std::string(parts[i]) : "?";
    msg += "=";
    msg += values[i];
  }
  if (!values.empty()) msg += "]";
  msg += "\n";
  std::fputs(msg.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace braid::sched::check_detail
