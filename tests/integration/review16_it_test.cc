// Review 16: what landed on main for issue 11 (labels, following, migration
// on by default). Real braidd processes on loopback; where a finding needs a
// peer that says exactly what the test wants, the test plays it (FakePeer,
// as in review15_it_test.cc: real gossip and the real peer transport).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "node/clock.h"
#include "node/peers.h"
#include "rpc/asio_event_port.h"
#include "rpc/peer_query.h"
#include "rpc/peer_transport.h"
#include "sched/migration_message.h"
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

// Finding 1 (security, migration on by default). braidd's defaults listen on
// loopback (127.0.0.1:7420) with no cluster secret, and now adopt offers
// (--migrate is on unless --no-migrate). Any local user can therefore start a
// "peer" that joins the node and offers it a task, which the node runs as
// its own user (root for a system braidd): the peer port can submit, which
// README says it cannot ("Nothing on the peer port can submit or cancel").
// Before migration was on by default, such an offer was refused
// ("migration is off on this node").
TEST(Review16, ADefaultNodeRunsNoTaskOfferedByAPeerThatProvedNoSecret) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ran-as-the-daemon";
  Daemon d(node_args("n0"));  // the defaults: no secret, no --migrate given
  FakePeer intruder("intruder", address_of(d));
  ASSERT_TRUE(converged(d, "n0", intruder, "intruder"));
  sched::MigratingTask t;
  t.id = "intruder:1";
  t.spec.argv = {"/bin/sh", "-c", "id -u > " + ledger};
  t.spec.cwd = tmp.path();
  t.hops = 1;
  ASSERT_TRUE(intruder.send("n0", sched::HandoffOffer{1, t}));
  ASSERT_TRUE(eventually([&] { return !intruder.got<sched::HandoffAnswer>().empty(); }, 10s, 20ms));
  const sched::HandoffAnswer answer = intruder.got<sched::HandoffAnswer>().front();
  EXPECT_NE(answer.kind, sched::HandoffAnswerKind::kAccepted)
      << "a default node accepted a task from a peer that proved no secret";
  if (answer.kind == sched::HandoffAnswerKind::kAccepted) {
    ASSERT_TRUE(intruder.send("n0", sched::HandoffConfirm{"intruder:1", 1, true}));
    EXPECT_FALSE(eventually([&] { return lines_in(ledger) == 1; }, 10s, 20ms))
        << "and ran it as the daemon's user: uid written to " << ledger;
  }
}

// Finding 2 (confidentiality, following). Peer.readLog and Peer.listTasks
// answer any connection on a node without a secret, even one that never
// joined (a bare TCP connection to the default loopback port): any local
// user reads every task's output and lists every task's command line,
// which the control socket (the user's runtime dir) kept private before.
TEST(Review16, ADefaultNodeShowsNoTaskOutputToAConnectionThatProvedNothing) {
  Daemon d(node_args("n0", {"--no-migrate"}));
  const std::string id = d.submit({"--", "sh", "-c", "echo the-users-secret"});
  ASSERT_TRUE(eventually([&] { return task_state(d, id) == "completed"; }, 10s, 20ms));
  FakePeer stranger("stranger", "127.0.0.1:1");  // joins nothing real
  auto log = stranger.read_log(address_of(d), rpc::PeerLogRequest{id, false, 0, 4096});
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log.value().data.find("the-users-secret"), std::string::npos)
      << "Peer.readLog gave task " << id << "'s output to a connection that proved nothing";
  auto list = stranger.list_tasks(address_of(d));
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_TRUE(list.value().tasks.empty())
      << "Peer.listTasks listed " << list.value().tasks.size()
      << " tasks (argv included) to a connection that proved nothing";
}

// Finding 4 (labels, pulls). An idle node that holds one queued task that
// never runs here (a label nobody has yet) stops pulling work: gossip's and
// the balancer's `queued` count it, and Balancer::pull() (target_backlog 0)
// pulls only when queued == 0. Its free slots then get work only from pushes,
// which go to peers whose figure is fresh (an idle node gossips no news).
// The busy peer is played by the test: it publishes a backlog and counts
// the WorkRequests it gets. The control (no such task) passes.
void idle_node_pulls(bool holding_a_task_for_a_missing_label) {
  Daemon d(node_args("n0", {"--slots", "2", "--io-aware", "off", "--migrate"}));
  FakePeer busy("busy", address_of(d));
  ASSERT_TRUE(converged(d, "n0", busy, "busy"));
  if (holding_a_task_for_a_missing_label) {
    const std::string id = d.submit({"--node-label", "gpu=1", "--", "true"});
    ASSERT_TRUE(eventually([&] { return task_state(d, id) == "queued"; }, 10s, 20ms));
  }
  gossip::Load load;
  load.queued = 10;
  load.running = 1;
  load.slots = 1;
  load.free_slots = 0;
  load.top_queued_priority = 0;
  load.accepting = true;
  const bool pulled = eventually(
      [&] {
        ++load.queued;  // a new version: the figure stays fresh
        busy.set_load(load);
        // n0's own load changes, so that it runs rounds (a peer's load does
        // not wake it: finding 5).
        d.submit({"--", "true"});
        return !busy.got<sched::WorkRequest>().empty();
      },
      8s, 200ms);
  EXPECT_TRUE(pulled) << "idle n0 (2 free slots) never asked the busy peer for work"
                      << (holding_a_task_for_a_missing_label
                              ? " while it held one task that needs gpu=1 (no node has it)"
                              : "")
                      << "; n0's peers: " << d.cli({"peers", "--json"}).out
                      << " stats: " << migration_stats(d).dump();
}

TEST(Review16, AnIdleNodePullsWorkControl) { idle_node_pulls(false); }

TEST(Review16, AnIdleNodeHoldingATaskForAMissingLabelStillPullsWork) { idle_node_pulls(true); }

// Finding 5 (pulls never happen on a peer's news). node::Peers drops kLoad
// events before its member listeners (peers.cc: "event.kind != kLoad"), so
// Migration::on_member's "a peer's load: maybe a round" never runs: an idle
// node runs a round only when its own load changes. Once it has been idle
// for stale_after_us (3 s) its figure is stale at its peers, which then push
// nothing to it; and it never pulls, since nothing wakes it. Two real nodes:
// the idle one stays idle while the other's queue waits.
TEST(Review16, AnIdlePeerTakesWorkFromANodeThatBecameBusyAfterItWentQuiet) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ran";
  Daemon busy(node_args("busy", {"--slots", "1", "--io-aware", "off", "--migrate"}));
  Daemon idle(node_args(
      "idle", {"--slots", "2", "--io-aware", "off", "--migrate", "--join", address_of(busy)}));
  ASSERT_TRUE(eventually(
      [&] { return state_of(busy, "idle") == "alive" && state_of(idle, "busy") == "alive"; }, 10s,
      50ms));
  std::this_thread::sleep_for(4s);  // the scenario: idle's figure is older than stale_after_us
  const std::string running = busy.submit({"--", "sleep", "60"});
  ASSERT_TRUE(eventually([&] { return task_state(busy, running) == "running"; }, 10s, 20ms));
  for (int i = 0; i < 4; ++i) busy.submit({"--", "sh", "-c", "echo ran >> " + ledger});
  EXPECT_TRUE(eventually([&] { return lines_in(ledger) == 4; }, 15s, 50ms))
      << "4 quick tasks queued on 'busy' (1 slot, taken for 60 s) while 'idle' (2 free slots) "
         "stayed idle: ran "
      << lines_in(ledger) << "; busy offers_made " << migration_stats(busy).value("offers_made", 0)
      << ", idle adopted " << migration_stats(idle).value("adopted", 0);
}

// Finding 6 (labels, offer storm). A busy node with gpu=1 offers its queued
// gpu=1 task to an idle peer that lacks the label; the peer refuses; the
// refusal withdraws the promise, the task is queued again (a load change,
// so another round 25 ms later) and the same task goes to the same peer
// again: only tasks that MUST leave get refusal_backoff_us. Each offer is a
// handoff record written and erased on both sides, and a load change
// gossiped. Counted over 3 s (a backoff as must_leave's would make it 1).
TEST(Review16, ARefusedLabelledTaskIsNotOfferedToTheSamePeerEveryRound) {
  Daemon gpu(
      node_args("gpu", {"--slots", "1", "--io-aware", "off", "--migrate", "--label", "gpu=1"}));
  Daemon plain(node_args(
      "plain", {"--slots", "2", "--io-aware", "off", "--migrate", "--join", address_of(gpu)}));
  ASSERT_TRUE(eventually(
      [&] { return state_of(gpu, "plain") == "alive" && state_of(plain, "gpu") == "alive"; }, 10s,
      50ms));
  const std::string running = gpu.submit({"--", "sleep", "60"});
  ASSERT_TRUE(eventually([&] { return task_state(gpu, running) == "running"; }, 10s, 20ms));
  gpu.submit({"--node-label", "gpu=1", "--", "sleep", "60"});
  std::this_thread::sleep_for(3s);  // the measurement window
  const int offers = migration_stats(gpu).value("offers_made", 0);
  EXPECT_LE(offers, 10) << "one gpu=1 task was offered " << offers
                        << " times in 3 s to a peer that refuses it for its label ('plain' "
                           "refused "
                        << migration_stats(plain).value("refused_by_us", 0) << ")";
}

// Finding 7 (labels: a task that can never run is accepted). A task whose
// spec does not travel (node/migration_checks travels(): argv + env over
// half of kMaxMigrationMessageBytes) is never movable; submitted with a
// --node-label this node lacks, it never runs here either. The submission
// is accepted and the task waits queued for ever, "waits to move to a node
// that has it", although a peer has the label (and drain never ends). A
// pinned one is refused at submission ("it could never run"): so should this.
TEST(Review16, ALabelledTaskTooBigToTravelIsRefusedOrRunsWhereTheLabelIs) {
  TempDir tmp;
  Daemon plain(node_args("plain", {"--slots", "2", "--migrate"}));
  Daemon gpu(node_args(
      "gpu", {"--slots", "2", "--migrate", "--label", "gpu=1", "--join", address_of(plain)}));
  ASSERT_TRUE(eventually(
      [&] { return state_of(gpu, "plain") == "alive" && state_of(plain, "gpu") == "alive"; }, 10s,
      50ms));
  std::vector<std::string> args = {"submit", "--node-label", "gpu=1", "--", "true"};
  for (int i = 0; i < 6; ++i) args.push_back(std::string(100 * 1024, 'x'));
  const RunResult r = plain.cli(args);
  if (r.exit_code != 0) return;  // refused at submission: fine
  std::string id = r.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  EXPECT_TRUE(eventually([&] { return task_state(plain, id) != "queued"; }, 10s, 100ms))
      << "task " << id << " (gpu=1, " << 6 * 100 << " KiB of argv) was accepted by 'plain' "
      << "and waits queued for ever although 'gpu' has the label: "
      << plain.cli({"show", id}).out.substr(0, 400);
}

}  // namespace
}  // namespace braid::testing
