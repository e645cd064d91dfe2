// Review 14: braidd's migration glue (node/migration.{h,cc}, --migrate).
// Real braidd processes; where a finding needs a peer that says exactly
// what the test wants (a donor's confirm go=false, a hostile offer), the
// test plays that peer itself with node::Peers (real gossip, real
// transport) in this process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "node/clock.h"
#include "node/peers.h"
#include "rpc/asio_event_port.h"
#include "sched/migration_message.h"
#include "tests/integration/fake_peer.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> node_args(const std::string& name, const std::vector<std::string>& join,
                                   std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--name",           name,  "--listen", "127.0.0.1:0",
                                   "--gossip-profile", "fast"};
  for (const auto& seed : join) args.insert(args.end(), {"--join", seed});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

sched::MigratingTask task_writing(const std::string& id, const std::string& ledger,
                                  const std::string& cwd) {
  sched::MigratingTask t;
  t.id = id;
  t.spec.argv = {"/bin/sh", "-c", "echo ran >> " + ledger};
  t.spec.cwd = cwd;
  t.hops = 1;
  return t;
}

struct OneNodeAndAFake {
  OneNodeAndAFake()
      : d(node_args("n0", {}, {"--slots", "2", "--migrate"})), fake("fake", address_of(d)) {}
  bool converged() {
    return eventually([&] { return state_of(d, "fake") == "alive" && fake.sees_alive("n0"); }, 10s,
                      50ms);
  }
  Daemon d;
  FakePeer fake;
};

// Finding 1. A held adoption discarded on the donor's go=false is only
// cancelled (Torus::cancel), not forgotten: the record stays, and
// Migration::on_offer counts it as "have" (known and not moved). The donor's
// next offer of the same task (a new epoch, after it took the task back:
// it had declared this receiver dead) is answered `accepted` without an
// adoption: the donor drops its copy and the task never runs anywhere.
TEST(Review14, ADiscardedAdoptionIsAdoptedAgainByTheDonorsNextOffer) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  OneNodeAndAFake c;
  ASSERT_TRUE(c.converged());
  const std::string id = "fake:7";
  ASSERT_TRUE(c.fake.send("n0", sched::HandoffOffer{1, task_writing(id, ledger, tmp.path())}));
  ASSERT_TRUE(eventually([&] { return !c.fake.answers(id, 1).empty(); }, 10s, 20ms));
  ASSERT_EQ(c.fake.answers(id, 1)[0].kind, sched::HandoffAnswerKind::kAccepted);
  EXPECT_EQ(task_state(c.d, id), "held");
  // The donor took it back (it had declared n0 dead): discard.
  ASSERT_TRUE(c.fake.send("n0", sched::HandoffConfirm{id, 1, false}));
  ASSERT_TRUE(eventually([&] { return task_state(c.d, id) != "held"; }, 10s, 20ms));
  // ... and offers it again, later, with a new epoch.
  ASSERT_TRUE(c.fake.send("n0", sched::HandoffOffer{2, task_writing(id, ledger, tmp.path())}));
  ASSERT_TRUE(eventually([&] { return !c.fake.answers(id, 2).empty(); }, 10s, 20ms));
  const sched::HandoffAnswer second = c.fake.answers(id, 2)[0];
  if (second.kind == sched::HandoffAnswerKind::kAccepted) {
    // Accepted: the donor journals moved and confirms; the task must run.
    ASSERT_TRUE(c.fake.send("n0", sched::HandoffConfirm{id, 2, true}));
    EXPECT_TRUE(eventually([&] { return lines_in(ledger) >= 1; }, 10s, 50ms))
        << "accepted epoch 2 of " << id << " but it never ran; n0 shows it " << task_state(c.d, id)
        << ": " << c.d.cli({"show", id}).out;
  } else {
    SUCCEED() << "refused: the donor keeps it";
  }
}

// Finding 2. An offer of a task in this node's own id space (an id it never
// issued: "n0:<seq>") is adopted under that id. When the node's own
// sequence reaches it, its own submission collides with the adopted task.
TEST(Review14, AnOfferOfAnIdInTheNodesOwnIdSpaceIsRefused) {
  TempDir tmp;
  const std::string ledger = tmp.path() + "/ledger";
  OneNodeAndAFake c;
  ASSERT_TRUE(c.converged());
  const std::string id = "n0:3";
  ASSERT_TRUE(c.fake.send("n0", sched::HandoffOffer{1, task_writing(id, ledger, tmp.path())}));
  ASSERT_TRUE(eventually([&] { return !c.fake.answers(id, 1).empty(); }, 10s, 20ms));
  const sched::HandoffAnswer a = c.fake.answers(id, 1)[0];
  if (a.kind == sched::HandoffAnswerKind::kAccepted) {
    ASSERT_TRUE(c.fake.send("n0", sched::HandoffConfirm{id, 1, true}));
  }
  // n0's own submissions: sequences 1, 2, 3, ...
  for (int i = 0; i < 5; ++i) {
    const RunResult r = c.d.cli({"submit", "--", "true"});
    ASSERT_EQ(r.exit_code, 0) << "submission " << i + 1 << " failed: " << r.err << " (the offer of "
                              << id << " was " << sched::to_string(a.kind)
                              << "); braidd alive: " << c.d.alive() << "; its log ends:\n"
                              << c.d.log().substr(c.d.log().size() > 3000 ? c.d.log().size() - 3000
                                                                          : 0);
  }
}

}  // namespace
}  // namespace braid::testing
