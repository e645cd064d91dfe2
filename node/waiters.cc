// Waiters: see waiters.h.
#include "node/waiters.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace braid::node {

Waiters::Waiters(asio::io_context& io, Tasks& tasks) : io_(io), tasks_(tasks) {}

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

kj::Promise<kj::Own<rpc::WaitOutcome>> Waiters::wait(std::vector<std::string> ids,
                                                     Micros timeout_us) {
  auto keys = tasks_.keys_of(ids);
  if (!keys) {
    auto refused = kj::heap<rpc::WaitOutcome>();
    refused->error = keys.error().message;
    return kj::mv(refused);
  }
  for (TaskKey key : keys.value()) {
    auto failed = unstored_ends_.find(key);
    if (failed != unstored_ends_.end() && failed->second.record_no == tasks_.side(key).record_no) {
      auto refused = kj::heap<rpc::WaitOutcome>();
      refused->error = failed->second.error;
      return kj::mv(refused);
    }
  }
  const std::size_t remaining = static_cast<std::size_t>(
      std::count_if(keys.value().begin(), keys.value().end(),
                    [this](TaskKey key) { return !sched::is_terminal(tasks_.shown_state(key)); }));
  if (remaining == 0) return outcome_of(keys.value());  // answered now: nothing to register
  const std::uint64_t serial = next_waiter_serial_++;
  for (TaskKey key : keys.value()) {
    ++waited_on_[key];  // kept from purge while the waiter exists
    if (!sched::is_terminal(tasks_.shown_state(key))) watchers_[key].push_back(serial);
  }
  auto pair = kj::newPromiseAndFulfiller<kj::Own<rpc::WaitOutcome>>();
  Waiter& w = waiters_[serial];
  w.keys = std::move(keys).value();
  w.remaining = remaining;
  w.fulfiller = kj::mv(pair.fulfiller);
  if (timeout_us > 0) {
    w.timeout = std::make_unique<asio::steady_timer>(io_, std::chrono::microseconds(timeout_us));
    w.timeout->async_wait(lifetime_.guard([this, serial](const std::error_code& ec) {
      if (!ec) finish_waiter(serial, /*timed_out=*/true, {});
    }));
  }
  // A client that goes away drops the promise: forget its waiter then. (The
  // daemon may be gone by the time the RPC system drops it.)
  return pair.promise.attach(kj::defer([this, serial, token = lifetime_.token()] {
    if (!token.expired()) forget_waiter(serial);
  }));
}

kj::Own<rpc::WaitOutcome> Waiters::outcome_of(const std::vector<TaskKey>& keys) const {
  auto outcome = kj::heap<rpc::WaitOutcome>();
  outcome->tasks.reserve(keys.size());
  for (TaskKey key : keys) outcome->tasks.push_back(tasks_.view(key));
  return outcome;
}

void Waiters::note_state(TaskKey key) {
  const TaskState state = tasks_.torus().task(key).state;
  if (!sched::is_terminal(state)) tasks_.side(key).shown_state = state;
}

void Waiters::on_ends_stored(const std::vector<std::pair<TaskKey, std::uint64_t>>& ended,
                             const sched::Status& status) {
  for (const auto& [key, record_no] : ended) {
    // The key may have been purged and reused since: that is another task.
    if (!tasks_.torus().exists(key) || tasks_.side(key).record_no != record_no) continue;
    if (!status) {
      std::string error = "the end of task " + tasks_.torus().task(key).id +
                          " could not be stored: " + status.error().message;
      fail_watchers(key, error);
      unstored_ends_[key] = {record_no, std::move(error)};  // later waiters learn it too
      continue;
    }
    on_end_durable(key);
  }
}

void Waiters::on_end_durable(TaskKey key) {
  tasks_.side(key).shown_state = tasks_.torus().task(key).state;
  auto it = watchers_.find(key);
  if (it == watchers_.end()) return;
  std::vector<std::uint64_t> serials = std::move(it->second);
  watchers_.erase(it);
  for (std::uint64_t serial : serials) {
    auto w = waiters_.find(serial);
    if (w == waiters_.end()) continue;
    if (--w->second.remaining == 0) finish_waiter(serial, /*timed_out=*/false, {});
  }
}

void Waiters::fail_watchers(TaskKey key, const std::string& error) {
  auto it = watchers_.find(key);
  if (it == watchers_.end()) return;
  std::vector<std::uint64_t> serials = it->second;
  for (std::uint64_t serial : serials) finish_waiter(serial, /*timed_out=*/false, error);
}

void Waiters::finish_waiter(std::uint64_t serial, bool timed_out, const std::string& error) {
  auto it = waiters_.find(serial);
  if (it == waiters_.end()) return;
  unwatch(serial, it->second);
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  if (w.timeout) w.timeout->cancel();
  if (!w.fulfiller->isWaiting()) return;
  kj::Own<rpc::WaitOutcome> outcome =
      error.empty() ? outcome_of(w.keys) : kj::heap<rpc::WaitOutcome>();
  outcome->timed_out = timed_out;
  outcome->error = error;
  w.fulfiller->fulfill(kj::mv(outcome));
}

void Waiters::forget_waiter(std::uint64_t serial) {
  auto it = waiters_.find(serial);
  if (it == waiters_.end()) return;
  unwatch(serial, it->second);
  if (it->second.timeout) it->second.timeout->cancel();
  waiters_.erase(it);
}

void Waiters::unwatch(std::uint64_t serial, const Waiter& w) {
  for (TaskKey key : w.keys) unreference(key);
  if (w.remaining == 0) return;  // every key's list gave it up already
  for (TaskKey key : w.keys) {
    auto watched = watchers_.find(key);
    if (watched == watchers_.end()) continue;
    std::erase(watched->second, serial);
    if (watched->second.empty()) watchers_.erase(watched);
  }
}

void Waiters::finish_all(const std::string& error) {
  std::vector<std::uint64_t> serials;
  for (const auto& [serial, w] : waiters_) serials.push_back(serial);
  for (std::uint64_t serial : serials) finish_waiter(serial, /*timed_out=*/false, error);
}

void Waiters::unreference(TaskKey key) {
  auto it = waited_on_.find(key);
  if (it != waited_on_.end() && --it->second == 0) waited_on_.erase(it);
}

}  // namespace braid::node
