// Waiters: `wait` calls, and the state clients are shown. A wait is answered
// once every task it names has an end that is in the log (or its timeout
// passed, or the node shuts down). A task end is shown to anyone (wait, run,
// show, ps) only once its record is written, so a client that saw a task
// finish never sees it run again after a crash of braidd: note_state() shows
// every other change at once, on_ends_stored() shows ends once durable.
//
// Cost: registering a waiter is O(ids); each durable end costs O(waiters of
// that task), never O(ids of every waiter).
//
// Keeps TaskSide::shown_state of Tasks' side records; runs on the loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/lifetime.h"
#include "node/tasks.h"
#include "rpc/control_backend.h"

namespace braid::node {

class Waiters final {
 public:
  Waiters(asio::io_context& io, Tasks& tasks);
  Waiters(const Waiters&) = delete;
  Waiters& operator=(const Waiters&) = delete;

  kj::Promise<kj::Own<rpc::WaitOutcome>> wait(std::vector<std::string> ids,
                                              sched::Micros timeout_us);
  // A kPersist: the torus state changed (an end shows once durable).
  void note_state(sched::TaskKey key);
  // The write of these tasks' terminal records finished: (key, record_no).
  void on_ends_stored(const std::vector<std::pair<sched::TaskKey, std::uint64_t>>& ended,
                      const sched::Status& status);
  // Whether a waiter names the task (it must not be purged meanwhile).
  bool waited_on(sched::TaskKey key) const { return waited_on_.count(key) != 0; }
  // Answers every pending waiter with `error` (the node is going away).
  void finish_all(const std::string& error);

 private:
  // A `wait` call: answered once `remaining` of its keys have a durable end.
  struct Waiter {
    std::vector<sched::TaskKey> keys;  // as asked (the answer lists them in this order)
    std::size_t remaining = 0;         // keys whose end is not durable yet
    kj::Own<kj::PromiseFulfiller<kj::Own<rpc::WaitOutcome>>> fulfiller;
    std::unique_ptr<asio::steady_timer> timeout;
  };
  // Why a task's end could not be written, for the task stored as record_no.
  struct UnstoredEnd {
    std::uint64_t record_no = 0;
    std::string error;
  };

  kj::Own<rpc::WaitOutcome> outcome_of(const std::vector<sched::TaskKey>& keys) const;
  void on_end_durable(sched::TaskKey key);
  void fail_watchers(sched::TaskKey key, const std::string& error);
  void finish_waiter(std::uint64_t serial, bool timed_out, const std::string& error);
  void forget_waiter(std::uint64_t serial);             // its client went away
  void unwatch(std::uint64_t serial, const Waiter& w);  // drops its watchers_, waited_on_ entries
  void unreference(sched::TaskKey key);                 // one waited_on_ less

  asio::io_context& io_;
  Tasks& tasks_;
  std::unordered_map<std::uint64_t, Waiter> waiters_;  // by serial
  // Waiters (serials) of each key whose end is not durable yet; a serial is
  // listed once per time its waiter names the key.
  std::unordered_map<sched::TaskKey, std::vector<std::uint64_t>> watchers_;
  std::unordered_map<sched::TaskKey, int> waited_on_;  // waiters naming each key
  // Tasks whose end could not be written (the store refuses writes from
  // then on): why, for anyone who waits for them. An entry whose key now
  // holds another record is stale.
  std::unordered_map<sched::TaskKey, UnstoredEnd> unstored_ends_;
  std::uint64_t next_waiter_serial_ = 1;
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace braid::node
