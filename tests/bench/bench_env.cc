#include "tests/bench/bench_env.h"

#include <algorithm>
#include <string>

namespace braid::bench {

std::shared_ptr<const sched::Environment> typical_environment(int entries, int bytes) {
  if (entries <= 0) return nullptr;
  sched::Environment env;
  const int per_entry = bytes / entries;
  for (int i = 0; i < entries; ++i) {
    std::string entry = "BENCH_VAR_" + std::to_string(i) + "=";
    const int value_bytes = std::max(1, per_entry - static_cast<int>(entry.size()));
    entry.append(static_cast<std::size_t>(value_bytes), static_cast<char>('a' + i % 26));
    env.entries.push_back(std::move(entry));
  }
  return std::make_shared<const sched::Environment>(std::move(env));
}

void attach(std::vector<sched::TaskSpec>& specs,
            const std::shared_ptr<const sched::Environment>& env) {
  for (sched::TaskSpec& spec : specs) spec.base_env = env;
}

}  // namespace braid::bench
