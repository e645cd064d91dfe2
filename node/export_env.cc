#include "node/export_env.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "sched/task.h"

namespace braid::node {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

sched::Result<std::vector<std::string>> export_environment(std::string_view spec,
                                                           const char* const* environ) {
  std::vector<std::string> entries;
  std::unordered_map<std::string, std::size_t> index;
  auto put = [&](std::string entry) {
    std::string name = entry.substr(0, entry.find('='));
    auto [it, inserted] = index.try_emplace(std::move(name), entries.size());
    if (inserted) {
      entries.push_back(std::move(entry));
    } else {
      entries[it->second] = std::move(entry);
    }
  };
  auto lookup = [&](std::string_view name) -> const char* {
    for (const char* const* e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
        return *e;
      }
    }
    return nullptr;
  };
  if (spec == "NONE") return entries;
  std::size_t start = 0;
  bool first = true;
  while (start <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string_view item = spec.substr(start, comma - start);
    start = comma + 1;
    const bool all = item == "ALL";
    if (all && first) {
      for (const char* const* e = environ; e != nullptr && *e != nullptr; ++e) {
        if (sched::is_env_entry(*e)) put(*e);  // else no program can read it by name
      }
    } else {
      const std::string_view name = item.substr(0, item.find('='));
      if (all || item == "NONE" || !valid_name(name)) {
        return sched::Error{"--export: bad entry \"" + std::string(item) +
                            "\" (allowed: ALL, NONE, or a comma list of NAME and NAME=VALUE, "
                            "optionally starting with ALL)"};
      }
      if (item.find('=') != std::string_view::npos) {
        put(std::string(item));
      } else if (const char* set = lookup(name)) {
        put(set);
      }
    }
    first = false;
  }
  if (entries.size() > kExportEntriesMax) {
    return sched::Error{"--export: " + std::to_string(entries.size()) +
                        " environment variables, braidd takes at most " +
                        std::to_string(kExportEntriesMax) +
                        ": name the ones the tasks need (--export NAME,NAME) or --export NONE"};
  }
  return entries;
}

}  // namespace braid::node
