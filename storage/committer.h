// Committer: group commit on a helper thread.
//
// The node's loop thread never waits for a disk. It hands each Batch to
// commit() with a flag saying whether the caller needs it durable before
// answering (a submission) or only ordered after earlier writes (a state
// transition). The committer thread takes every batch queued so far (a
// round) and writes them, in order, as one RocksDB write - synced if any of
// them asked for durability - then reports its Status to each batch's `done`
// callback. While one sync is in flight new batches queue up and share the
// next one, so 8 concurrent submitters pay about one fsync between them.
//
// Ordering: batches are written in the order commit() was called.
// Callbacks run on the committer thread, in commit order; the node posts them
// back to its loop. A round is all or nothing: a failed write (disk full,
// read-only) fails every batch of the round and none of them is stored.
//
// The destructor writes everything already queued, then stops the thread.
//
// Timings (metrics): `observe`, when given, hears of every round on the
// committer's thread: how long its write took (steady clock) and whether it
// was synced. It must not block or lock (braidd adds the figure to a
// relaxed-atomic histogram that its loop reads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/store.h"

namespace braid::storage {

struct CommitterStats {
  std::uint64_t batches = 0;  // batches written
  std::uint64_t syncs = 0;    // fsyncs (rounds that needed durability)
};

class Committer {
 public:
  using Done = std::function<void(const sched::Status&)>;
  using RoundObserver = std::function<void(std::int64_t write_us, bool synced)>;

  explicit Committer(Store& store, RoundObserver observe = {});
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues the batch. `done` may be empty when nobody waits for the answer.
  void commit(Batch batch, bool durable, Done done);

  CommitterStats stats() const;

 private:
  struct Job {
    Batch batch;
    bool durable = false;
    Done done;
  };
  void run();

  Store& store_;
  const RoundObserver observe_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  CommitterStats stats_;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace braid::storage
