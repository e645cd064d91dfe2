// Review 15: braidd's migration glue on main (outcomes, outbox, restart,
// WorkRequest, drain). Real braidd processes; where a finding needs a peer
// that says exactly what the test wants, the test plays that peer itself
// with node::Peers (real gossip, real transport) in this process, and, to
// send as a name that is no member, with a bare rpc::PeerTransport.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "node/clock.h"
#include "node/peers.h"
#include "rpc/asio_event_port.h"
#include "rpc/peer_transport.h"
#include "sched/migration_message.h"
#include "storage/migration_records.h"
#include "storage/store.h"
#include "tests/integration/fake_peer.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> node_args(const std::string& name, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--name",           name,  "--listen", "127.0.0.1:0",
                                   "--gossip-profile", "fast"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

nlohmann::json migration_stats(const Daemon& d) {
  return d.json({"stats", "--json"}).at("migration");
}

sched::MigratingTask task_running(const std::string& id, const std::string& script,
                                  const std::string& cwd) {
  sched::MigratingTask t;
  t.id = id;
  t.spec.argv = {"/bin/sh", "-c", script};
  t.spec.cwd = cwd;
  t.hops = 1;
  return t;
}

sched::OutcomeReport outcome(const std::string& id, const std::string& executor,
                             sched::TaskState state, const std::string& reason) {
  sched::OutcomeReport r;
  r.task_id = id;
  r.executor = executor;
  r.state = state;
  r.reason = reason;
  r.attempts = 1;
  return r;
}

// n0 with one slot: a long task runs, `queued` more wait behind it.
std::vector<std::string> busy_with_queue(Daemon& d, int queued, const std::string& ledger) {
  std::vector<std::string> ids;
  ids.push_back(d.submit({"--", "sleep", "60"}));
  EXPECT_TRUE(eventually([&] { return task_state(d, ids[0]) == "running"; }, 10s, 20ms));
  for (int i = 0; i < queued; ++i) {
    ids.push_back(d.submit({"--", "sh", "-c", "echo ran >> " + ledger}));
  }
  return ids;
}

// Finding 1 (executor side). An adopted task that the executor's restart
// fails (requeue-on-restart false, or past --max-node-requeues) is written
// by Durability::recover() directly (store_->write), not through persist():
// no outbox entry. Its origin never hears of the end: the task stays
// `moved` there for ever (wait, --after never end).
void adopted_task_failed_by_a_restart_reports_home(bool kill9) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "2", "--migrate", "--requeue-on-restart", "false"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  // Control: an adopted task that completes reports home.
  ASSERT_TRUE(fake.send("n0", sched::HandoffOffer{1, task_running("fake:2", "true", tmp.path())}));
  ASSERT_TRUE(
      eventually([&] { return fake.got_answer("fake:2", 1, sched::HandoffAnswerKind::kAccepted); },
                 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::HandoffConfirm{"fake:2", 1, true}));
  ASSERT_TRUE(eventually([&] { return fake.got_outcome("fake:2"); }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::OutcomeAck{"fake:2"}));
  // The one the restart fails.
  ASSERT_TRUE(fake.send(
      "n0",
      sched::HandoffOffer{
          2, task_running("fake:1", "echo ran >> " + ledger + "; exec sleep 60", tmp.path())}));
  ASSERT_TRUE(
      eventually([&] { return fake.got_answer("fake:1", 2, sched::HandoffAnswerKind::kAccepted); },
                 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::HandoffConfirm{"fake:1", 2, true}));
  ASSERT_TRUE(eventually([&] { return lines_in(ledger) == 1; }, 10s, 20ms));
  if (kill9) {
    d.kill9();
  } else {
    d.terminate();
  }
  d.restart();
  ASSERT_TRUE(eventually([&] { return task_state(d, "fake:1") == "failed"; }, 10s, 50ms))
      << task_state(d, "fake:1");
  ASSERT_TRUE(eventually([&] { return state_of(d, "fake") == "alive"; }, 15s, 50ms));
  EXPECT_TRUE(eventually([&] { return fake.got_outcome("fake:1"); }, 15s, 50ms))
      << "n0 failed fake:1 at its restart but never told its origin; n0's outbox holds "
      << migration_stats(d).at("outcomes_owed") << " outcomes";
}

TEST(Review15, AnAdoptedTaskFailedByACrashRestartReportsItsOutcomeHome) {
  adopted_task_failed_by_a_restart_reports_home(true);
}

TEST(Review15, AnAdoptedTaskFailedByAGracefulStopReportsItsOutcomeHome) {
  adopted_task_failed_by_a_restart_reports_home(false);
}

// Finding 2 (origin side). An outcome that reaches the origin while it still
// holds the task `migrating` (offered, the answer not yet in) is acked as
// "unexpected" and dropped; the executor deletes its outbox entry; the
// accepted answer then makes the task `moved`, and it stays moved for ever.
// A real executor sends such an outcome: `braid cancel` of a held adoption
// (next test), e.g. one held from a donor that is down.
TEST(Review15, AnOutcomeArrivingWhileTheOriginStillOffersTheTaskIsNotLost) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const auto ids = busy_with_queue(d, 1, ledger);
  const std::string x = ids[1];
  ASSERT_TRUE(fake.send("n0", sched::WorkRequest{1}));
  ASSERT_TRUE(eventually([&] { return fake.offer_of(x).has_value(); }, 10s, 20ms));
  const std::uint64_t epoch = fake.offer_of(x)->epoch;
  ASSERT_EQ(task_state(d, x), "migrating");
  // The executor (which cancelled it while held) reports, then answers. An
  // outcome for a task still being offered is not acknowledged: the
  // executor sends it again (every 2 s) until it is.
  ASSERT_TRUE(fake.send("n0", outcome(x, "fake", sched::TaskState::kCancelled, "cancelled")));
  EXPECT_FALSE(eventually([&] { return fake.got_ack(x); }, 1s, 20ms));
  ASSERT_TRUE(
      fake.send("n0", sched::HandoffAnswer{x, epoch, sched::HandoffAnswerKind::kAccepted, ""}));
  ASSERT_TRUE(eventually([&] { return task_state(d, x) != "migrating"; }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", outcome(x, "fake", sched::TaskState::kCancelled, "cancelled")));
  ASSERT_TRUE(eventually([&] { return fake.got_ack(x); }, 10s, 20ms));
  EXPECT_TRUE(eventually([&] { return task_state(d, x) == "cancelled"; }, 10s, 50ms))
      << x << " is " << task_state(d, x) << " at its origin, for ever: its outcome was acked and "
      << "dropped (outcomes_unexpected " << migration_stats(d).at("outcomes_unexpected") << ")";
}

// Finding 2 (executor side): a held adoption, cancelled before its donor
// confirmed, reports its outcome to the origin at once, while the origin's
// handoff is unresolved.
TEST(Review15, AHeldAdoptionCancelledBeforeItsConfirmationReportsNothingYet) {
  TempDir tmp;
  Daemon d(node_args("n0", {"--slots", "2", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  ASSERT_TRUE(fake.send("n0", sched::HandoffOffer{1, task_running("fake:5", "true", tmp.path())}));
  ASSERT_TRUE(
      eventually([&] { return fake.got_answer("fake:5", 1, sched::HandoffAnswerKind::kAccepted); },
                 10s, 20ms));
  ASSERT_EQ(task_state(d, "fake:5"), "held");
  const RunResult cancelled = d.cli({"cancel", "fake:5"});
  if (cancelled.exit_code != 0) {
    SUCCEED() << "cancel of a held adoption refused: " << cancelled.err;
    return;
  }
  // The donor never confirmed: an outcome now can only reach an origin that
  // has not resolved its handoff (previous test).
  EXPECT_FALSE(eventually([&] { return fake.got_outcome("fake:5"); }, 3s, 50ms))
      << "n0 reported the end of fake:5 before its donor confirmed the adoption";
}

// Finding 3. A WorkRequest's `from` is whatever the sender wrote. From a
// name that is no member (or this node's own), answer_pull offers it tasks:
// begin_migration + journal `migrating`, the offer is dropped (no such live
// member), the donor queries for ever, and no dead event ever comes for a
// name gossip never knew: the tasks stay `migrating` (never run) until a
// restart. Each request strands up to max_offers tasks.
TEST(Review15, AWorkRequestFromANameThatIsNoMemberStrandsNoTask) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const auto ids = busy_with_queue(d, 3, ledger);
  fake.send_as("ghost", address_of(d), sched::WorkRequest{3});
  auto migrating = [&] {
    int n = 0;
    for (std::size_t i = 1; i < ids.size(); ++i) n += task_state(d, ids[i]) == "migrating";
    return n;
  };
  if (!eventually([&] { return migrating() > 0; }, 5s, 20ms)) {
    SUCCEED() << "a WorkRequest from no member is ignored";
    return;
  }
  EXPECT_TRUE(eventually([&] { return migrating() == 0; }, 20s, 100ms))
      << migrating() << " tasks offered to \"ghost\" (no member) are still migrating";
  d.cli_ok({"cancel", ids[0]});
  EXPECT_TRUE(eventually([&] { return lines_in(ledger) == 3; }, 20s, 100ms))
      << lines_in(ledger) << " of 3 ran";
}

// Finding 4. The origin applies an outcome from any peer that names itself
// the executor: it does not check that the task went to that peer (its
// pointer, moved_to, names the first hop). A peer that never had the task
// ends it at the origin (wait returns, dependents resolve) while it runs
// elsewhere.
// Not fixed (docs/migration.md "Trust and pacing"): the origin's pointer
// names only the first hop, and relays do not update it, so the origin
// cannot tell a later hop's report from a member's lie; members (which
// proved the cluster secret) are trusted. Disabled until relays report
// their hops to the origin.
TEST(Review15, DISABLED_AnOutcomeFromAPeerThatNeverHadTheTaskIsNotApplied) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  FakePeer evil("evil", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  ASSERT_TRUE(converged(d, "n0", evil, "evil"));
  const auto ids = busy_with_queue(d, 1, ledger);
  const std::string x = ids[1];
  ASSERT_TRUE(fake.send("n0", sched::WorkRequest{1}));
  ASSERT_TRUE(eventually([&] { return fake.offer_of(x).has_value(); }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::HandoffAnswer{x, fake.offer_of(x)->epoch,
                                                   sched::HandoffAnswerKind::kAccepted, ""}));
  ASSERT_TRUE(eventually([&] { return task_state(d, x) == "moved"; }, 10s, 20ms));
  ASSERT_TRUE(evil.send("n0", outcome(x, "evil", sched::TaskState::kFailed, "evil says so")));
  ASSERT_TRUE(eventually([&] { return evil.got_ack(x); }, 10s, 20ms));
  EXPECT_EQ(task_state(d, x), "moved") << "n0 took the end of " << x << " from evil, which never "
                                       << "had it: " << d.cli({"show", x}).out;
}

// Finding 4b. `from` is not bound to the connection: a peer (here a bare
// transport) writes from = the executor's name and its outcome is applied.
TEST(Review15, AMessageCannotClaimAnotherPeersName) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  // With a cluster secret a peer proves its name at the handshake; without
  // one (loopback) nothing is proven and any member is trusted.
  const std::string secret_file = tmp.path() + "/secret";
  std::ofstream(secret_file) << "review15-secret-of-sixteen-bytes\n";
  ::chmod(secret_file.c_str(), 0600);
  Daemon d(node_args("n0", {"--slots", "1", "--migrate", "--cluster-secret-file", secret_file}));
  FakePeer fake("fake", address_of(d), "review15-secret-of-sixteen-bytes");
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const auto ids = busy_with_queue(d, 1, ledger);
  const std::string x = ids[1];
  ASSERT_TRUE(fake.send("n0", sched::WorkRequest{1}));
  ASSERT_TRUE(eventually([&] { return fake.offer_of(x).has_value(); }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::HandoffAnswer{x, fake.offer_of(x)->epoch,
                                                   sched::HandoffAnswerKind::kAccepted, ""}));
  ASSERT_TRUE(eventually([&] { return task_state(d, x) == "moved"; }, 10s, 20ms));
  // Not fake's connection, fake's name.
  fake.send_as("fake", address_of(d), outcome(x, "fake", sched::TaskState::kFailed, "spoofed"));
  EXPECT_FALSE(eventually([&] { return task_state(d, x) == "failed"; }, 3s, 50ms))
      << "a message claiming to be from fake ended " << x;
}

// Finding 5. Restart: a task stored `migrating` without a `migrating`
// journal entry (the crash came after its unsynced record was written and
// before the synced journal write) is finished as moved if the journal has
// ANY `moved` entry of it, even one of an earlier epoch: a task that went
// to fake, came back, and was offered again is pointed at fake, which gave
// it back. Nobody runs it. (The crash window is simulated by deleting the
// newest journal entry from the stopped node's database: exactly the state
// such a crash leaves.)
TEST(Review15, ATaskThatCameBackIsNotPointedAtItsOldReceiverByARestart) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const auto ids = busy_with_queue(d, 1, ledger);
  const std::string x = ids[1];
  // x goes to fake (epoch e1) ...
  ASSERT_TRUE(fake.send("n0", sched::WorkRequest{1}));
  ASSERT_TRUE(eventually([&] { return fake.offer_of(x).has_value(); }, 10s, 20ms));
  const sched::HandoffOffer first = *fake.offer_of(x);
  ASSERT_TRUE(fake.send(
      "n0", sched::HandoffAnswer{x, first.epoch, sched::HandoffAnswerKind::kAccepted, ""}));
  ASSERT_TRUE(eventually([&] { return task_state(d, x) == "moved"; }, 10s, 20ms));
  // ... comes back (fake offers it to n0, whose slot is free for a moment) ...
  d.cli_ok({"cancel", ids[0]});
  ASSERT_TRUE(eventually([&] { return task_state(d, ids[0]) == "cancelled"; }, 10s, 20ms));
  sched::MigratingTask back = first.task;
  back.hops = first.task.hops + 1;
  ASSERT_TRUE(fake.send("n0", sched::HandoffOffer{100, back}));
  ASSERT_TRUE(eventually(
      [&] { return fake.got_answer(x, 100, sched::HandoffAnswerKind::kAccepted); }, 10s, 20ms));
  ASSERT_EQ(task_state(d, x), "held");
  const std::string blocker = d.submit({"--", "sleep", "60"});
  ASSERT_TRUE(eventually([&] { return task_state(d, blocker) == "running"; }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", sched::HandoffConfirm{x, 100, true}));
  ASSERT_TRUE(eventually([&] { return task_state(d, x) == "queued"; }, 10s, 20ms));
  // ... and is offered again (epoch e2).
  // (A peer's work requests are answered at most every 250 ms: ask until.)
  ASSERT_TRUE(eventually(
      [&] { return fake.offers().size() >= 2 || (fake.send("n0", sched::WorkRequest{1}), false); },
      10s, 100ms));
  ASSERT_EQ(task_state(d, x), "migrating");
  const std::uint64_t second = fake.offers().back().epoch;
  d.kill9();
  {
    auto store = storage::Store::open(d.data_dir() + "/db");
    ASSERT_TRUE(store) << store.error().message;
    bool found = false;
    ASSERT_TRUE(store.value()->load_handoffs([&](storage::HandoffRecord&& r) {
      found |= r.task_id == x && r.epoch == second && r.state == storage::kHandoffMigrating;
    }));
    ASSERT_TRUE(found) << "no migrating entry of epoch " << second;
    storage::Batch batch;
    batch.delete_handoff(x, second);  // the crash came before this write
    ASSERT_TRUE(store.value()->write(batch, true));
  }
  d.restart();
  EXPECT_NE(task_state(d, x), "moved")
      << x << " never left for epoch " << second << " but the restart points it at fake (the "
      << "epoch " << first.epoch << " pointer), which gave it back: " << d.cli({"show", x}).out;
  d.cli_ok({"cancel", blocker});
  EXPECT_TRUE(eventually([&] { return lines_in(ledger) == 1; }, 15s, 100ms))
      << x << " never ran; it is " << task_state(d, x);
}

// Finding 6. `braid drain` (waiting) calls the drain RPC again at every
// poll (cli_drain.cc: client.drain(cancel) in the loop), so a `braid drain
// --cancel` from another shell is undone within 100 ms while the first one
// waits: the node goes on refusing submissions after the cancel said "takes
// new tasks".
TEST(Review15, DrainCancelIsNotUndoneByAWaitingDrain) {
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  d.submit({"--", "sleep", "60"});
  d.submit({"--", "sleep", "60"});  // queued; no peer to take it: the drain waits
  auto waiting = std::async(std::launch::async, [&] {
    return d.cli({"drain", "--timeout", "6s"});
  });
  ASSERT_TRUE(eventually(
      [&] {
        return d.cli({"submit", "--hold", "--", "true"}).exit_code == 2;
      },
      5s, 50ms));
  const RunResult cancelled = d.cli({"drain", "--cancel"});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    refused += d.cli({"submit", "--hold", "--", "true"}).exit_code != 0;
    std::this_thread::sleep_for(100ms);  // probing over time, not synchronising
  }
  EXPECT_EQ(refused, 0) << "after `drain --cancel` said \"" << cancelled.out << "\", " << refused
                        << " of 10 submissions were refused as draining";
  waiting.get();
}

// Finding 7. A node without --migrate (the default) gossips its load with
// accepting = true, so a --migrate peer offers it tasks; it drops every
// migration message (no on_migration), the donor never gets an answer, and
// since the receiver is alive no dead event ever comes: the tasks stay
// `migrating` for ever (a mixed cluster: migration being turned on node by
// node, or a rolling restart that forgot the flag).
TEST(Review15, TasksOfferedToANodeWithoutMigrateAreNotStranded) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon n0(node_args("n0", {"--slots", "1", "--migrate"}));
  Daemon n1(node_args("n1", {"--slots", "4", "--no-migrate", "--join", address_of(n0)}));
  ASSERT_TRUE(eventually(
      [&] { return state_of(n0, "n1") == "alive" && state_of(n1, "n0") == "alive"; }, 10s, 50ms));
  const auto ids = busy_with_queue(n0, 3, ledger);
  auto migrating = [&] {
    int n = 0;
    for (std::size_t i = 1; i < ids.size(); ++i) n += task_state(n0, ids[i]) == "migrating";
    return n;
  };
  if (!eventually([&] { return migrating() > 0; }, 10s, 50ms)) {
    SUCCEED() << "n0 offered nothing to n1 (no --migrate)";
    return;
  }
  n0.cli_ok({"cancel", ids[0]});
  EXPECT_TRUE(eventually([&] { return lines_in(ledger) == 3; }, 20s, 100ms))
      << lines_in(ledger) << " of 3 ran; " << migrating()
      << " are still migrating to n1, which runs without --migrate";
}

// Finding 7b. A node restarted without --migrate never resolves what its
// store holds of migration: a task stored `migrating` stays so (not run),
// as do held adoptions and the outbox.
TEST(Review15, ARestartWithoutMigrateStrandsNoMigratingTask) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const auto ids = busy_with_queue(d, 1, ledger);
  const std::string x = ids[1];
  ASSERT_TRUE(fake.send("n0", sched::WorkRequest{1}));
  ASSERT_TRUE(eventually([&] { return fake.offer_of(x).has_value(); }, 10s, 20ms));
  ASSERT_EQ(task_state(d, x), "migrating");
  d.kill9();
  std::vector<std::string> argv = d.argv();
  std::replace(argv.begin(), argv.end(), std::string("--migrate"), std::string("--no-migrate"));
  d.restart_with(argv);
  // The blocker was requeued by the crash; cancel it so x has the slot.
  d.cli({"cancel", ids[0]});
  // n0 asks fake about its unresolved offer even without --migrate; fake
  // (which never adopted it) says so, and x runs at n0.
  const std::uint64_t epoch = fake.offer_of(x)->epoch;
  ASSERT_TRUE(eventually(
      [&] {
        return !fake.got<sched::HandoffQuery>([&](const sched::HandoffQuery& q) {
                      return q.task_id == x && q.epoch == epoch;
                    })
                    .empty();
      },
      15s, 50ms))
      << "n0 never asked fake about " << x << " after a restart without --migrate";
  ASSERT_TRUE(
      fake.send("n0", sched::HandoffAnswer{x, epoch, sched::HandoffAnswerKind::kNotHave, ""}));
  EXPECT_TRUE(eventually([&] { return lines_in(ledger) == 1; }, 15s, 100ms))
      << x << " is " << task_state(d, x) << " after a restart without --migrate";
}

// Finding 8. docs/migration.md: "A report for a task the origin does not
// hold as moved (one that ran here too) is acknowledged and counted". A task
// that ran here and ENDED is taken for a repeat and not counted: the one
// duplicate the counter exists to show (a task reclaimed, run here, and run
// by a forced release elsewhere) is invisible.
TEST(Review15, AnOutcomeForATaskThatRanAtTheOriginIsCountedUnexpected) {
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  const std::string x = d.submit({"--", "true"});
  ASSERT_TRUE(eventually([&] { return task_state(d, x) == "completed"; }, 10s, 20ms));
  ASSERT_TRUE(fake.send("n0", outcome(x, "fake", sched::TaskState::kCompleted, "")));
  ASSERT_TRUE(eventually([&] { return fake.got_ack(x); }, 10s, 20ms));
  EXPECT_EQ(migration_stats(d).at("outcomes_unexpected").get<int>(), 1)
      << x << " ran on n0 and fake reports it ran there too";
}

// Measurement (not a finding's proof; DISABLED: slow). The cost of a round
// and of a WorkRequest with 100k queued tasks: each scans every admitted
// task (may_migrate, travels over the whole base environment) and sorts.
// Prints braidd's CPU time per WorkRequest and per second of peer load
// changes. Run: --gtest_also_run_disabled_tests --gtest_filter='*Measure*'.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return utime + stime;
}

TEST(Review15, DISABLED_MeasureRoundAndWorkRequestCostAt100kQueued) {
  Daemon d(node_args("n0", {"--slots", "1", "--migrate"}));
  FakePeer fake("fake", address_of(d));
  ASSERT_TRUE(converged(d, "n0", fake, "fake"));
  d.submit({"--", "sleep", "3600"});
  d.cli_ok({"submit", "--array", "1-100000", "--", "true"});
  ASSERT_TRUE(eventually(
      [&] {
        return d.json({"stats", "--json"}).at("tasks").at("queued").get<int>() == 100000;
      },
      60s, 200ms));
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  // Idle baseline (fake publishes no load: rounds stop before the scan).
  long t0 = cpu_ticks(d.pid());
  std::this_thread::sleep_for(5s);
  const double idle = (cpu_ticks(d.pid()) - t0) / hz / 5;
  // WorkRequests (one slot each; fake never answers the offers).
  t0 = cpu_ticks(d.pid());
  const int requests = 200;
  for (int i = 0; i < requests; ++i) {
    fake.send("n0", sched::WorkRequest{1});
    if (i % 100 == 99) std::this_thread::sleep_for(500ms);  // under the transport's rate
  }
  // (After the first offer fake's room is 0: the others only scan.)
  std::this_thread::sleep_for(3s);  // a measurement window, not synchronisation
  const double per_request_ms = ((cpu_ticks(d.pid()) - t0) / hz - idle * 4) * 1000 / requests;
  // A peer whose load changes every 50 ms (no room: nothing is offered to it).
  t0 = cpu_ticks(d.pid());
  const auto until = std::chrono::steady_clock::now() + 5s;
  for (std::uint32_t i = 0; std::chrono::steady_clock::now() < until; ++i) {
    fake.set_load({5 + i % 2, 1, 0, 1, 0, 0, true});
    std::this_thread::sleep_for(50ms);
  }
  const double busy = (cpu_ticks(d.pid()) - t0) / hz / 5;
  std::printf(
      "100k queued: braidd idle %.1f%% CPU; %.1f ms CPU per WorkRequest; %.1f%% CPU "
      "with one peer changing load every 50 ms (rounds %s)\n",
      idle * 100, per_request_ms, busy * 100,
      migration_stats(d).value("rounds", nlohmann::json("?")).dump().c_str());
}

}  // namespace
}  // namespace braid::testing
