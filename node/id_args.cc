#include "node/id_args.h"

#include <charconv>
#include <cstdint>
#include <string_view>

namespace braid::node {
namespace {

struct ParsedId {
  std::string_view node;
  std::uint64_t sequence = 0;
};

bool parse_id(std::string_view id, ParsedId& out) {
  const std::size_t colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) return false;
  const std::string_view digits = id.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.sequence);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  out.node = id.substr(0, colon);
  return true;
}

sched::Error bad_range(const std::string& arg, const std::string& why) {
  return sched::Error{"bad id range \"" + arg + "\": " + why +
                      " (allowed: an id like n:5, or a range of one node's ids like n:5..n:104)"};
}

}  // namespace

sched::Result<std::vector<std::string>> expand_ids(const std::vector<std::string>& args) {
  std::vector<std::string> ids;
  for (const std::string& arg : args) {
    const std::size_t dots = arg.find("..");
    if (dots == std::string::npos) {
      ids.push_back(arg);  // one id: the daemon says whether it knows it
    } else {
      ParsedId first, last;
      if (!parse_id(std::string_view(arg).substr(0, dots), first) ||
          !parse_id(std::string_view(arg).substr(dots + 2), last)) {
        return bad_range(arg, "both ends must be ids NODE:SEQUENCE");
      }
      if (first.node != last.node) return bad_range(arg, "both ends must be on one node");
      if (first.sequence > last.sequence)
        return bad_range(arg, "the first id comes after the last");
      if (last.sequence - first.sequence >= kIdArgsMax) {
        return bad_range(arg, "more than " + std::to_string(kIdArgsMax) + " ids");
      }
      const std::string prefix = std::string(first.node) + ":";
      for (std::uint64_t seq = first.sequence; seq <= last.sequence; ++seq) {
        ids.push_back(prefix + std::to_string(seq));
      }
    }
    if (ids.size() > kIdArgsMax) {
      return sched::Error{"at most " + std::to_string(kIdArgsMax) + " ids at once, got more"};
    }
  }
  return ids;
}

}  // namespace braid::node
