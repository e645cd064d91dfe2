// Group commit (see committer.h for the contract).
//
// One round = everything queued when the thread wakes. The lock is held only
// to swap the queue out and to update stats, never across a write, a sync or
// a callback, so commit() never waits for the disk and callbacks may commit.
#include "storage/committer.h"

#include <chrono>
#include <vector>

#include "sched/check.h"

namespace braid::storage {
namespace {

struct RoundOutcome {
  std::vector<sched::Status> statuses;  // one per job, in commit order
  bool synced = false;
};

}  // namespace

Committer::Committer(Store& store, RoundObserver observe)
    : store_(store), observe_(std::move(observe)), thread_([this] { run(); }) {}

Committer::~Committer() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Committer::commit(Batch batch, bool durable, Done done) {
  {
    const std::lock_guard lock(mutex_);
    BRAID_CHECK(!stopping_, queue_.size());
    queue_.push_back(Job{std::move(batch), durable, std::move(done)});
  }
  wake_.notify_one();
}

CommitterStats Committer::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

namespace {

// Writes the whole round as one RocksDB write, synced if any batch asked for
// durability: all of it or none, so a failed write changes nothing, and no
// call ever reaches a log writer that already failed (Debian's RocksDB
// asserts on that).
template <typename Jobs>
RoundOutcome write_round(Store& store, const Jobs& jobs) {
  std::vector<const Batch*> batches;
  batches.reserve(jobs.size());
  bool durable = false;
  for (const auto& job : jobs) {
    batches.push_back(&job.batch);
    durable = durable || job.durable;
  }
  RoundOutcome outcome;
  outcome.synced = durable;
  outcome.statuses.assign(jobs.size(), store.write_all(batches, durable));
  return outcome;
}

}  // namespace

void Committer::run() {
  std::deque<Job> round;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      round.swap(queue_);
    }
    const auto began = std::chrono::steady_clock::now();
    const RoundOutcome outcome = write_round(store_, round);
    if (observe_) {
      observe_(std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - began)
                   .count(),
               outcome.synced);
    }
    {
      // Before the callbacks: whoever hears "done" also sees it counted.
      const std::lock_guard lock(mutex_);
      stats_.batches += round.size();
      stats_.syncs += outcome.synced ? 1 : 0;
    }
    for (std::size_t i = 0; i < round.size(); ++i) {
      if (round[i].done) round[i].done(outcome.statuses[i]);
    }
    round.clear();
  }
}

}  // namespace braid::storage
