// Committer on a real Store: group commit under concurrency, commit-order
// callbacks and draining at destruction. Synchronisation by futures and
// condition variables only, never sleeps.
#include "storage/committer.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <vector>

#include "storage/test_util.h"

namespace braid::storage {
namespace {

using testing::open_ok;
using testing::TempDir;
using testing::typical_record;

std::size_t count_records(const std::filesystem::path& dir) {
  std::unique_ptr<Store> store = open_ok(dir);
  if (!store) return 0;
  std::size_t count = 0;
  EXPECT_TRUE(store->load_tasks([&](TaskRecord&&) { ++count; }));
  return count;
}

Batch task_batch(std::uint64_t record_no) {
  Batch batch;
  batch.put_task(typical_record(record_no));
  return batch;
}

// Counts callbacks; wait_for() blocks until `expected` arrived.
class Outcomes {
 public:
  Committer::Done callback() {
    return [this](const sched::Status& s) {
      const std::lock_guard lock(mutex_);
      (s ? ok_ : failed_)++;
      arrived_.notify_all();
    };
  }
  void wait_for(std::size_t expected) {
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] { return ok_ + failed_ >= expected; });
  }
  std::size_t ok() const {
    const std::lock_guard lock(mutex_);
    return ok_;
  }
  std::size_t failed() const {
    const std::lock_guard lock(mutex_);
    return failed_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::size_t ok_ = 0;
  std::size_t failed_ = 0;
};

TEST(Committer, ConcurrentDurableCommitsAllSucceedAndShareSyncs) {
  constexpr std::size_t kThreads = 8;
  constexpr std::size_t kCommitsPerThread = 200;
  constexpr std::size_t kCommits = kThreads * kCommitsPerThread;
  TempDir tmp;
  Outcomes outcomes;
  CommitterStats stats;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Committer committer(*store);
    std::vector<std::thread> producers;
    for (std::size_t t = 0; t < kThreads; ++t) {
      producers.emplace_back([&, t] {
        for (std::size_t i = 0; i < kCommitsPerThread; ++i) {
          committer.commit(task_batch(t * kCommitsPerThread + i + 1), /*durable=*/true,
                           outcomes.callback());
        }
      });
    }
    for (std::thread& producer : producers) producer.join();
    outcomes.wait_for(kCommits);
    stats = committer.stats();
  }
  EXPECT_EQ(outcomes.ok(), kCommits);
  EXPECT_EQ(outcomes.failed(), 0u);
  EXPECT_EQ(stats.batches, kCommits);
  EXPECT_GE(stats.syncs, 1u);
  EXPECT_LT(stats.syncs, stats.batches);
  std::printf("%zu durable commits from %zu threads: %llu syncs\n", kCommits, kThreads,
              static_cast<unsigned long long>(stats.syncs));
  EXPECT_EQ(count_records(tmp.path()), kCommits);
}

TEST(Committer, BatchesQueuedDuringASyncShareTheNextOne) {
  TempDir tmp;
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  Committer committer(*store);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Outcomes outcomes;
  // The first callback holds the committer thread until 100 more are queued.
  committer.commit(task_batch(1), true, [released](const sched::Status&) { released.wait(); });
  for (std::uint64_t no = 2; no <= 101; ++no)
    committer.commit(task_batch(no), true, outcomes.callback());
  release.set_value();
  outcomes.wait_for(100);
  EXPECT_EQ(outcomes.ok(), 100u);
  const CommitterStats stats = committer.stats();
  EXPECT_EQ(stats.batches, 101u);
  EXPECT_LE(stats.syncs, 2u);
}

TEST(Committer, CallbacksRunInCommitOrder) {
  TempDir tmp;
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::uint64_t> order;  // touched only by the committer thread until it is joined
  std::size_t without_callback = 0;
  {
    Committer committer(*store);
    for (std::uint64_t no = 1; no <= 500; ++no) {
      if (no % 7 == 0) {
        committer.commit(task_batch(no), false, {});  // nobody waits for this one
        ++without_callback;
        continue;
      }
      committer.commit(task_batch(no), /*durable=*/no % 3 == 0,
                       [&order, no](const sched::Status& s) {
                         EXPECT_TRUE(s) << s.error().message;
                         order.push_back(no);
                       });
    }
  }
  ASSERT_EQ(order.size(), 500 - without_callback);
  for (std::size_t i = 1; i < order.size(); ++i) ASSERT_LT(order[i - 1], order[i]);
}

TEST(Committer, CallbackMayCommitAgain) {
  TempDir tmp;
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  Outcomes outcomes;
  {
    Committer committer(*store);
    committer.commit(task_batch(1), true, [&](const sched::Status&) {
      committer.commit(task_batch(2), true, outcomes.callback());
    });
    outcomes.wait_for(1);
  }
  EXPECT_EQ(outcomes.ok(), 1u);
}

TEST(Committer, DestructorWritesEverythingQueued) {
  TempDir tmp;
  Outcomes outcomes;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Committer committer(*store);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    committer.commit(task_batch(1), false, [released](const sched::Status&) { released.wait(); });
    for (std::uint64_t no = 2; no <= 300; ++no) {
      committer.commit(task_batch(no), no % 2 == 0, outcomes.callback());
    }
    release.set_value();
    // ~Committer with (most of) the 299 batches still queued.
  }
  EXPECT_EQ(outcomes.ok(), 299u);
  EXPECT_EQ(count_records(tmp.path()), 300u);
}

}  // namespace
}  // namespace braid::storage

namespace braid::storage {
namespace {

// In a child process (RLIMIT_FSIZE is per process): durable 64 KiB batches,
// one at a time, past the point where the write-ahead log may not grow. Exits with the number of
// batches that succeeded, or 255 when the outcomes were not "a run of
// successes, then failures naming the cause".
[[noreturn]] void commit_until_the_disk_refuses(const std::filesystem::path& dir) {
  std::signal(SIGXFSZ, SIG_IGN);  // fail the write with EFBIG instead of killing the process
  const rlimit limit{2 << 20, 2 << 20};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(255);
  sched::Result<std::unique_ptr<Store>> store = Store::open(dir);
  if (!store) _exit(255);
  std::vector<sched::Status> outcomes;
  {
    Committer committer(*store.value());
    for (std::uint64_t no = 1; no <= 64; ++no) {
      TaskRecord record = typical_record(no);
      record.task.spec.env = {"PAYLOAD=" + std::string(64 * 1024, 'x')};
      Batch batch;
      batch.put_task(record);
      std::promise<sched::Status> outcome;
      committer.commit(std::move(batch), /*durable=*/true,
                       [&outcome](const sched::Status& s) { outcome.set_value(s); });
      outcomes.push_back(outcome.get_future().get());  // one batch per round
    }
  }
  std::size_t ok = 0;
  while (ok < outcomes.size() && outcomes[ok].ok()) ++ok;
  const bool shaped =
      ok > 0 && ok < outcomes.size() &&
      std::all_of(outcomes.begin() + static_cast<std::ptrdiff_t>(ok), outcomes.end(),
                  [](const sched::Status& s) {
                    return !s.ok() && s.error().message.find("File too large") != std::string::npos;
                  });
  _exit(shaped ? static_cast<int>(ok) : 255);
}

TEST(Committer, AFailedWriteFailsItsBatchesAndKeepsTheOnesBefore) {
  TempDir tmp;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) commit_until_the_disk_refuses(tmp.path());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child ended by signal " << WTERMSIG(status);
  const int acknowledged = WEXITSTATUS(status);
  ASSERT_NE(acknowledged, 255) << "outcomes were not successes followed by clear failures";
  // Everything acknowledged is there after a reopen; nothing refused is.
  EXPECT_EQ(count_records(tmp.path()), static_cast<std::size_t>(acknowledged));
}

}  // namespace
}  // namespace braid::storage

namespace braid::storage {
namespace {

// Metrics: every round is reported once, on the committer's thread, with its
// write time and whether it was synced (here counted with relaxed atomics,
// as braidd does).
TEST(Committer, TheObserverHearsEachRoundsWriteTimeAndSync) {
  TempDir tmp;
  std::atomic<std::uint64_t> synced_rounds{0};
  std::atomic<std::uint64_t> plain_rounds{0};
  std::atomic<std::int64_t> negative{0};
  Outcomes outcomes;
  CommitterStats stats;
  {
    std::unique_ptr<Store> store = testing::open_ok(tmp.path());
    ASSERT_TRUE(store);
    Committer committer(*store, [&](std::int64_t write_us, bool synced) {
      (synced ? synced_rounds : plain_rounds).fetch_add(1, std::memory_order_relaxed);
      if (write_us < 0) negative.fetch_add(1, std::memory_order_relaxed);
    });
    committer.commit(task_batch(1), /*durable=*/true, outcomes.callback());
    outcomes.wait_for(1);
    committer.commit(task_batch(2), /*durable=*/false, outcomes.callback());
    outcomes.wait_for(2);
    stats = committer.stats();
  }
  EXPECT_EQ(synced_rounds.load(), 1u);
  EXPECT_EQ(plain_rounds.load(), 1u);
  EXPECT_EQ(synced_rounds.load(), stats.syncs);
  EXPECT_EQ(negative.load(), 0);
}

}  // namespace
}  // namespace braid::storage
