// Daemon queries and bulk operations: paged listing in admission order,
// cancel by state and name, and clearing finished tasks.
#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/daemon.h"

namespace braid::node {

using sched::TaskKey;
using sched::TaskState;

namespace {

// Entries one list call looks at at most, matching or not: a page of a
// narrow filter over a huge table ends early and hands back a cursor.
constexpr std::size_t kListScanMax = 200'000;

bool name_matches(const std::string& glob, const std::string& name) {
  return glob.empty() || ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

template <typename Visit>
void Daemon::for_each_admitted(std::uint64_t after, Visit&& visit) const {
  auto it = std::upper_bound(admission_.begin(), admission_.end(),
                             std::make_pair(after, std::numeric_limits<TaskKey>::max()));
  for (; it != admission_.end(); ++it) {
    const auto [record_no, key] = *it;
    if (!torus_.exists(key) || record_no_[key] != record_no) continue;  // stale
    if (!visit(record_no, key)) return;
  }
}

sched::Result<rpc::ListPage> Daemon::list(const rpc::ListQuery& query) {
  rpc::ListPage page;
  const std::size_t limit = query.limit == 0 ? rpc::kListPageMax : query.limit;
  std::size_t scanned = 0;
  std::uint64_t last = query.after;
  bool more = false;
  for_each_admitted(query.after, [&](std::uint64_t record_no, TaskKey key) {
    if (page.tasks.size() == limit || scanned == kListScanMax) {
      more = true;
      return false;
    }
    ++scanned;
    last = record_no;
    const TaskState s = shown_state(key);
    if (query.state ? s != *query.state : (!query.all && sched::is_terminal(s))) return true;
    if (!name_matches(query.name_glob, torus_.task(key).spec.name)) return true;
    page.tasks.push_back(view(key));
    return true;
  });
  page.next = more ? last : 0;
  return page;
}

sched::Result<std::uint64_t> Daemon::cancel_where(std::optional<TaskState> state,
                                                  const std::string& name_glob) {
  std::vector<TaskKey> keys;
  for_each_admitted(0, [&](std::uint64_t, TaskKey key) {
    const TaskState s = torus_.task(key).state;
    if (sched::is_terminal(s) || (state && s != *state)) return true;
    if (name_matches(name_glob, torus_.task(key).spec.name)) keys.push_back(key);
    return true;
  });
  std::uint64_t cancelled = 0;
  for (TaskKey key : keys) {
    // An earlier cancel may have ended it already (a dependency cascade).
    if (sched::is_terminal(torus_.task(key).state)) continue;
    if (torus_.cancel(key, now_us(), actions_)) ++cancelled;
  }
  carry_out();
  if (cancelled > 0) spdlog::info("cancelled {} tasks by state and name", cancelled);
  return cancelled;
}

sched::Result<std::uint64_t> Daemon::clear() {
  storage::Batch batch;
  std::uint64_t purged = 0;
  for (TaskKey key : finished_) {
    if (torus_.exists(key) && sched::is_terminal(torus_.task(key).state) && !in_use(key)) {
      forget_finished(key, batch);
      ++purged;
    }
  }
  std::erase_if(finished_, [this](TaskKey key) { return !torus_.exists(key); });
  if (purged > 0) {
    committer_->commit(std::move(batch), /*durable=*/false, {});
    spdlog::info("cleared {} finished tasks", purged);
  }
  return purged;
}

}  // namespace braid::node
