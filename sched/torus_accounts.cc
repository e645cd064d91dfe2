// Torus accounts: each account's queue of fresh tasks and its share of the
// CPU (torus.h, Model, "Accounts").
#include <algorithm>
#include <limits>

#include "sched/torus.h"

namespace braid::sched {

std::uint32_t Torus::account_index(const std::string& name) {
  if (auto it = account_by_name_.find(name); it != account_by_name_.end()) return it->second;
  std::uint32_t index = 0;
  if (!free_accounts_.empty()) {
    index = free_accounts_.back();
    free_accounts_.pop_back();
    accounts_[index] = Account{};
  } else {
    index = static_cast<std::uint32_t>(accounts_.size());
    accounts_.emplace_back();
  }
  accounts_[index].name = name;
  account_by_name_.emplace(name, index);
  return index;
}

void Torus::join_account(TaskKey key) {
  Task& t = at(key);
  t.account = account_index(t.spec.account);
  ++accounts_[t.account].tasks;
}

void Torus::leave_account(TaskKey key) {
  Account& account = accounts_[at(key).account];
  BRAID_CHECK(account.tasks > 0, account.name, at(key).id);
  if (--account.tasks > 0 || at(key).account == 0) return;
  // No task names it any more: its slot is reused (an account that comes
  // back is placed at the busy accounts' least usage anyway).
  BRAID_CHECK(account.started == 0 && account.queued == 0, account.name, account.started,
              account.queued);
  account_by_name_.erase(account.name);
  account.fresh.clear();
  if (account.waiting) std::erase(waiting_accounts_, at(key).account);
  free_accounts_.push_back(at(key).account);
}

void Torus::enter_queued(TaskKey key) {
  const std::uint32_t index = at(key).account;
  Account& account = accounts_[index];
  if (account.queued++ > 0) return;
  // It competes for slots again. It is placed level with the least-used
  // account that competes already (has a fresh task that is not parked), so what it did meanwhile
  // earns nothing: an idle account comes back at that level (its past use does not count), one that
  // only ran what it had started keeps its own usage if higher (a single long task leaves no credit
  // to starve the others with later). With no account competing, an idle account comes back at the
  // busiest started one's usage, so whoever competes next starts level with it.
  constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t least_queued = kNone;
  std::uint64_t most_started = 0;
  bool any_started = false;
  for (std::uint32_t other = 0; other < accounts_.size(); ++other) {
    const Account& a = accounts_[other];
    if (other == index) continue;
    // Only an account with a task that could start competes: one whose
    // queued tasks are all parked beside a throttled array cannot take the
    // slots it is owed, and its usage grows slower than the others'.
    if (a.queued > 0 && !a.fresh.empty()) least_queued = std::min(least_queued, a.used_ns);
    if (a.started > 0) {
      most_started = std::max(most_started, a.used_ns);
      any_started = true;
    }
  }
  if (least_queued != kNone) {
    account.used_ns = account.started == 0 ? least_queued : std::max(account.used_ns, least_queued);
  } else if (account.started == 0 && any_started) {
    account.used_ns = most_started;
  }
}

void Torus::push_fresh(const QueueEntry& entry) {
  const std::uint32_t index = at(entry.key).account;
  Account& account = accounts_[index];
  if (!account.waiting) {
    account.waiting = true;
    waiting_accounts_.push_back(index);
  }
  account.fresh.push(entry);
}

const QueueEntry* Torus::account_head(std::uint32_t account, int level) {
  RunQueue& queue = accounts_[account].fresh;
  while (const QueueEntry* head = live_head(queue, level)) {
    ArrayGroup* group = group_of(at(head->key));
    if (group == nullptr || group->started < group->throttle) return head;
    // Its array is at its throttle: set it aside so the tasks behind it are
    // not blocked; unpark_one() puts it back when a member's attempt ends.
    group->parked.push_back(*head);
    std::push_heap(group->parked.begin(), group->parked.end(),
                   [](const QueueEntry& a, const QueueEntry& b) { return ranks_before(b, a); });
    queue.pop_level(head->level);
  }
  return nullptr;
}

const QueueEntry* Torus::fresh_head(int level) {
  const QueueEntry* best = nullptr;
  std::uint64_t best_used_ns = 0;
  for (std::size_t i = 0; i < waiting_accounts_.size();) {
    const std::uint32_t index = waiting_accounts_[i];
    const QueueEntry* head = account_head(index, level);
    if (accounts_[index].fresh.empty()) {
      accounts_[index].waiting = false;  // nothing queued any more
      waiting_accounts_[i] = waiting_accounts_.back();
      waiting_accounts_.pop_back();
      continue;
    }
    ++i;
    if (head == nullptr) continue;  // nothing at this level
    const std::uint64_t used_ns = accounts_[index].used_ns;
    const bool better = best == nullptr || (policy_ == Policy::kFair && used_ns != best_used_ns
                                                ? used_ns < best_used_ns
                                                : ranks_before(*head, *best));
    if (better) {
      best = head;
      best_used_ns = used_ns;
    }
  }
  return best;
}

bool Torus::fresh_level_nonempty(int level) const {
  return std::any_of(waiting_accounts_.begin(), waiting_accounts_.end(), [&](std::uint32_t index) {
    return accounts_[index].fresh.peek_level(level) != nullptr;
  });
}

void Torus::clear_fresh() {
  for (std::uint32_t index : waiting_accounts_) {
    accounts_[index].fresh.clear();
    accounts_[index].waiting = false;
  }
  waiting_accounts_.clear();
}

}  // namespace braid::sched
