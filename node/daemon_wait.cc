// Daemon waiters: `wait` calls, answered once every task they name has an
// end that is in the log. A task end is reported to anyone (wait, run, show,
// ps) only once its record is written, so a client that saw a task finish
// never sees it run again after a crash of braidd.
//
// Cost: registering a waiter is O(ids); each durable end costs O(waiters of
// that task), never O(ids of every waiter).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/daemon.h"

namespace braid::node {

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

kj::Promise<kj::Own<rpc::WaitOutcome>> Daemon::wait(std::vector<std::string> ids,
                                                    Micros timeout_us) {
  auto keys = keys_of(ids);
  if (!keys) {
    auto refused = kj::heap<rpc::WaitOutcome>();
    refused->error = keys.error().message;
    return kj::mv(refused);
  }
  for (TaskKey key : keys.value()) {
    if (auto failed = unstored_ends_.find(key); failed != unstored_ends_.end()) {
      auto refused = kj::heap<rpc::WaitOutcome>();
      refused->error = failed->second;
      return kj::mv(refused);
    }
  }
  const std::size_t remaining = static_cast<std::size_t>(
      std::count_if(keys.value().begin(), keys.value().end(),
                    [this](TaskKey key) { return !sched::is_terminal(shown_state(key)); }));
  if (remaining == 0) return outcome_of(keys.value());  // answered now: nothing to register
  const std::uint64_t serial = next_waiter_serial_++;
  for (TaskKey key : keys.value()) {
    ++waited_on_[key];  // kept from purge while the waiter exists
    if (!sched::is_terminal(shown_state(key))) watchers_[key].push_back(serial);
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

kj::Own<rpc::WaitOutcome> Daemon::outcome_of(const std::vector<TaskKey>& keys) const {
  auto outcome = kj::heap<rpc::WaitOutcome>();
  outcome->tasks.reserve(keys.size());
  for (TaskKey key : keys) outcome->tasks.push_back(view(key));
  return outcome;
}

void Daemon::note_state(TaskKey key) {
  const TaskState state = torus_.task(key).state;
  if (!sched::is_terminal(state)) shown_state_[key] = static_cast<std::uint8_t>(state);
}

void Daemon::on_ends_stored(const std::vector<std::pair<TaskKey, std::uint64_t>>& ended,
                            const sched::Status& status) {
  for (const auto& [key, record_no] : ended) {
    // The key may have been purged and reused since: that is another task.
    if (!torus_.exists(key) || record_no_[key] != record_no) continue;
    if (!status) {
      std::string error = "the end of task " + torus_.task(key).id +
                          " could not be stored: " + status.error().message;
      fail_watchers(key, error);
      unstored_ends_[key] = std::move(error);  // later waiters learn it too
      continue;
    }
    on_end_durable(key);
  }
}

void Daemon::on_end_durable(TaskKey key) {
  shown_state_[key] = static_cast<std::uint8_t>(torus_.task(key).state);
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

void Daemon::fail_watchers(TaskKey key, const std::string& error) {
  auto it = watchers_.find(key);
  if (it == watchers_.end()) return;
  std::vector<std::uint64_t> serials = it->second;
  for (std::uint64_t serial : serials) finish_waiter(serial, /*timed_out=*/false, error);
}

void Daemon::finish_waiter(std::uint64_t serial, bool timed_out, const std::string& error) {
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

void Daemon::forget_waiter(std::uint64_t serial) {
  auto it = waiters_.find(serial);
  if (it == waiters_.end()) return;
  unwatch(serial, it->second);
  if (it->second.timeout) it->second.timeout->cancel();
  waiters_.erase(it);
}

void Daemon::unwatch(std::uint64_t serial, const Waiter& w) {
  for (TaskKey key : w.keys) unreference(key);
  if (w.remaining == 0) return;  // every key's list gave it up already
  for (TaskKey key : w.keys) {
    auto watched = watchers_.find(key);
    if (watched == watchers_.end()) continue;
    std::erase(watched->second, serial);
    if (watched->second.empty()) watchers_.erase(watched);
  }
}

void Daemon::unreference(TaskKey key) {
  auto it = waited_on_.find(key);
  if (it != waited_on_.end() && --it->second == 0) waited_on_.erase(it);
}

}  // namespace braid::node
