// Group commit (see committer.h for the contract).
//
// One round = everything queued when the thread wakes. The lock is held only
// to swap the queue out and to update stats, never across a write, a sync or
// a callback, so commit() never waits for the disk and callbacks may commit.
#include "storage/committer.h"

#include <cassert>
#include <vector>

namespace braid::storage {
namespace {

struct RoundOutcome {
  std::vector<sched::Status> statuses;  // one per job, in commit order
  bool synced = false;
};

}  // namespace

Committer::Committer(Store& store) : store_(store), thread_([this] { run(); }) {}

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
    assert(!stopping_);
    queue_.push_back(Job{std::move(batch), durable, std::move(done)});
  }
  wake_.notify_one();
}

CommitterStats Committer::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

namespace {

// Writes every batch unsynced, in order, then syncs once if a batch that
// asked for durability was written. A failed sync fails exactly those.
template <typename Jobs>
RoundOutcome write_round(Store& store, const Jobs& jobs) {
  RoundOutcome outcome;
  outcome.statuses.reserve(jobs.size());
  bool durable_written = false;
  for (const auto& job : jobs) {
    outcome.statuses.push_back(store.write(job.batch, /*sync=*/false));
    durable_written = durable_written || (job.durable && outcome.statuses.back().ok());
  }
  if (!durable_written) return outcome;
  outcome.synced = true;
  const sched::Status synced = store.sync();
  if (synced) return outcome;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].durable && outcome.statuses[i].ok()) outcome.statuses[i] = synced;
  }
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
    const RoundOutcome outcome = write_round(store_, round);
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
