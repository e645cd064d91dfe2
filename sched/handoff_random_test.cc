// The handoff under random faults: one donor "a", one receiver "b", one task,
// a network that loses, duplicates and reorders, crashes that lose all but
// the store, and gossip on either side that declares the other dead (rightly
// or not). The donor may start the task whenever it holds it queued; the
// receiver may start it only on kRelease. The invariant: the task starts
// exactly once, in every seed: never twice at any moment, and once after
// healing (nobody holds it pending any more). force_release is not used.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "sched/handoff.h"

namespace braid::sched {
namespace {

const std::string kTask = "a:1";

enum class MsgKind : std::uint8_t { kOffer, kQuery, kAnswer, kConfirmQuery, kConfirm };

struct Msg {
  MsgKind kind;
  Epoch epoch;
  Answer answer = Answer::kAccepted;  // kAnswer
  std::string reason = {};            // kAnswer
  bool go = false;                    // kConfirm
};

class World {
 public:
  explicit World(std::uint64_t seed) : rng_(seed), deaths_(seed % 2 == 0) {
    donor_.emplace();
    receiver_.emplace();
    ReceiverActions unused;
    BRAID_CHECK(receiver_->restore({}, {}, now_, unused).ok());
  }

  // Returns "" or what went wrong.
  std::string run() {
    for (int step = 0; step < 80; ++step) random_step();
    heal();
    return check();
  }
  const std::string& log() const { return log_; }
  bool false_death() const { return false_death_; }
  bool released_at_b() const { return released_; }
  int b_waited_for_dead_a() const { return waited_; }
  bool started_twice() const { return starts_ > 1; }

 private:
  enum class Held : std::uint8_t { kNone, kHeld, kReleased };

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void note(const std::string& s) { log_ += "  " + std::to_string(now_) + " " + s + "\n"; }

  void random_step() {
    int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (roll < 38) {
      deliver_one(0.2, 0.1);
    } else if (roll < 52) {
      now_ += std::uniform_int_distribution<Micros>(0, 2 * kMicrosPerSecond)(rng_);
      tick();
    } else if (roll < 64) {
      try_begin();
    } else if (roll < 67) {
      donor_runs();
    } else if (roll < 71) {
      crash_donor("crash a");
    } else if (roll < 75) {
      crash_receiver("crash b");
    } else if (roll < 85) {
      restart_donor();
      restart_receiver();
    } else if (roll < 88) {
      if (deaths_) declare_b_dead();
    } else if (roll < 91) {
      if (deaths_) declare_a_dead();
    } else if (roll < 96) {
      declare_b_alive();
    } else {
      declare_a_alive();
    }
  }

  void tick() {
    if (donor_) {
      DonorActions out;
      donor_->tick(now_, out);
      carry_out(out);
    }
    if (receiver_) {
      ReceiverActions out;
      receiver_->tick(now_, out);
      carry_out(out);
    }
  }

  // The donor's store holds the task as its own and on its run queue.
  bool donor_holds() const {
    if (!d_has_task_) return false;
    for (const auto& [e, r] : journal_) {
      if (r.state == HandoffState::kMigrating) return false;
    }
    return true;
  }

  void started(const char* who) {
    ++starts_;
    note(std::string(who) + " STARTS the task");
    if (starts_ > 1 && failure_.empty()) failure_ = "the task started twice";
  }

  void donor_runs() {
    if (!donor_ || !donor_holds() || d_started_) return;
    d_started_ = true;
    started("a");
  }

  void try_begin() {
    if (!donor_ || !donor_holds() || d_started_ || donor_->migrating(kTask) || b_dead_) return;
    DonorActions out;
    Status s = donor_->begin(kTask, "b", now_, out);
    BRAID_CHECK(s.ok(), s.error().message);
    note("begin");
    carry_out(out);
  }

  void declare_b_dead() {
    if (b_dead_) return;
    b_dead_ = true;
    false_death_ |= receiver_.has_value();
    note(receiver_ ? "b declared dead (falsely)" : "b declared dead");
    if (!donor_) return;
    DonorActions out;
    donor_->on_peer_dead("b", now_, out);
    carry_out(out);
  }

  void declare_b_alive() {
    if (!b_dead_ || !receiver_) return;
    b_dead_ = false;
    note("b alive");
    if (!donor_) return;
    DonorActions out;
    donor_->on_peer_alive("b", now_, out);
    carry_out(out);
  }

  void declare_a_dead() {
    if (a_dead_) return;
    a_dead_ = true;
    false_death_ |= donor_.has_value();
    note(donor_ ? "a declared dead at b (falsely)" : "a declared dead at b");
    if (!receiver_) return;
    ReceiverActions out;
    receiver_->on_peer_dead("a", now_, out);
    carry_out(out);
    if (receiver_ && receiver_->held_from_dead_donors() > 0) ++waited_;
  }

  void declare_a_alive() {
    if (!a_dead_ || !donor_) return;
    a_dead_ = false;
    note("a alive at b");
    if (!receiver_) return;
    ReceiverActions out;
    receiver_->on_peer_alive("a", now_, out);
    carry_out(out);
  }

  void crash_donor(const char* why) {
    if (!donor_) return;
    note(why);
    donor_.reset();
  }
  void crash_receiver(const char* why) {
    if (!receiver_) return;
    note(why);
    receiver_.reset();
  }

  void restart_donor() {
    if (donor_) return;
    note("restart a");
    donor_.emplace();
    std::vector<HandoffRecord> records;
    for (const auto& [e, r] : journal_) records.push_back(r);
    DonorActions out;
    Status s = donor_->restore(records, floor_, now_, out);
    BRAID_CHECK(s.ok(), s.error().message);
    if (b_dead_) {
      donor_->on_peer_dead("b", now_, out);
    } else if (receiver_) {
      donor_->on_peer_alive("b", now_, out);  // gossip finds b again
    }
    carry_out(out);
  }

  void restart_receiver() {
    if (receiver_) return;
    note("restart b");
    receiver_.emplace();
    std::vector<Fence> fences;
    for (const auto& [task_donor, e] : fences_) fences.push_back({kTask, "a", e});
    std::vector<HeldAdoption> held;
    if (r_held_ == Held::kHeld) held.push_back({kTask, "a", r_epoch_});
    ReceiverActions out;
    Status s = receiver_->restore(fences, held, now_, out);
    BRAID_CHECK(s.ok(), s.error().message);
    if (a_dead_) receiver_->on_peer_dead("a", now_, out);
    carry_out(out);
  }

  static bool is_persist(DonorAction::Kind k) {
    using K = DonorAction::Kind;
    return k == K::kPersist || k == K::kErase || k == K::kPersistEpochs || k == K::kDropLocal;
  }
  static bool is_persist(ReceiverAction::Kind k) {
    using K = ReceiverAction::Kind;
    return k == K::kAdopt || k == K::kPersistFence || k == K::kRelease || k == K::kDiscard;
  }

  // Carries out the donor's actions in order. A crash may fall between two
  // actions, but not inside a run of persists (one write batch).
  void carry_out(const DonorActions& out) {
    using K = DonorAction::Kind;
    bool in_batch = false;
    for (const DonorAction& a : out) {
      bool persist = is_persist(a.kind);
      if (!(in_batch && persist) && chance(crash_p_)) return crash_donor("crash a mid-actions");
      in_batch = persist;
      const HandoffRecord& r = a.record;
      switch (a.kind) {
        case K::kPersist:
          journal_[r.epoch] = r;
          break;
        case K::kErase:
          journal_.erase(r.epoch);
          break;
        case K::kPersistEpochs:
          floor_ = r.epoch;
          break;
        case K::kSendOffer:
          net_.push_back({MsgKind::kOffer, r.epoch});
          break;
        case K::kSendQuery:
          net_.push_back({MsgKind::kQuery, r.epoch});
          break;
        case K::kSendConfirm:
          net_.push_back({MsgKind::kConfirm, r.epoch, Answer::kAccepted, {}, a.go});
          break;
        case K::kDropLocal:
          if (d_started_ && failure_.empty()) failure_ = "a moved a task it had started";
          d_has_task_ = false;
          break;
        case K::kRequeue:
        case K::kRecordRefusal:
          break;
      }
      note(std::string("a: ") + std::string(to_string(a.kind)) + " e" + std::to_string(r.epoch) +
           (a.kind == K::kPersist ? " " + std::string(to_string(r.state)) : "") +
           (a.kind == K::kSendConfirm ? (a.go ? " go" : " no") : ""));
    }
  }

  void carry_out(const ReceiverActions& out) {
    using K = ReceiverAction::Kind;
    bool in_batch = false;
    for (const ReceiverAction& a : out) {
      bool persist = is_persist(a.kind);
      if (!(in_batch && persist) && chance(crash_p_)) return crash_receiver("crash b mid-actions");
      in_batch = persist;
      auto fail = [&](const char* what) {
        if (failure_.empty()) failure_ = what;
      };
      switch (a.kind) {
        case K::kAdopt:
          if (r_held_ == Held::kReleased) fail("b adopted a task it had released");
          r_held_ = Held::kHeld;
          r_epoch_ = a.fence.epoch;
          break;
        case K::kPersistFence:
          fences_[{a.fence.task_id, a.fence.donor}] = a.fence.epoch;
          break;
        case K::kSendAnswer:
          net_.push_back({MsgKind::kAnswer, a.fence.epoch, a.answer, a.reason});
          break;
        case K::kSendConfirmQuery:
          net_.push_back({MsgKind::kConfirmQuery, a.fence.epoch});
          break;
        case K::kRelease:
          if (r_held_ != Held::kHeld || r_epoch_ != a.fence.epoch) {
            fail("b released a task it did not hold at that epoch");
          }
          r_held_ = Held::kReleased;
          released_ = true;
          started("b");
          break;
        case K::kDiscard:
          if (r_held_ != Held::kHeld) fail("b discarded a task it did not hold");
          r_held_ = Held::kNone;
          break;
      }
      note(std::string("b: ") + std::string(to_string(a.kind)) + " e" +
           std::to_string(a.fence.epoch) +
           (a.kind == K::kSendAnswer ? " " + std::string(to_string(a.answer)) : ""));
    }
  }

  void deliver_one(double loss, double dup) {
    if (net_.empty()) return;
    std::size_t i = std::uniform_int_distribution<std::size_t>(0, net_.size() - 1)(rng_);
    Msg m = net_[i];
    if (!chance(dup)) net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
    if (chance(loss)) return;
    bool have = r_held_ != Held::kNone;
    switch (m.kind) {
      case MsgKind::kOffer:
      case MsgKind::kQuery:
      case MsgKind::kConfirm: {
        if (!receiver_) return;
        ReceiverActions out;
        if (m.kind == MsgKind::kOffer) {
          std::optional<std::string> cannot;
          if (chance(0.2)) cannot = "no such directory";
          receiver_->on_offer(kTask, "a", m.epoch, have, cannot, now_, out);
        } else if (m.kind == MsgKind::kQuery) {
          receiver_->on_query(kTask, "a", m.epoch, have, out);
        } else {
          receiver_->on_confirm(kTask, "a", m.epoch, m.go, now_, out);
        }
        carry_out(out);
        return;
      }
      case MsgKind::kAnswer:
      case MsgKind::kConfirmQuery: {
        if (!donor_) return;
        DonorActions out;
        if (m.kind == MsgKind::kAnswer) {
          donor_->on_answer(kTask, m.epoch, "b", m.answer, m.reason, now_, out);
        } else {
          donor_->on_confirm_query(kTask, m.epoch, "b", now_, out);
        }
        carry_out(out);
        return;
      }
    }
  }

  void heal() {
    note("heal");
    crash_p_ = 0;
    restart_donor();
    restart_receiver();
    b_dead_ = false;  // gossip sees both again
    DonorActions d_out;
    donor_->on_peer_alive("b", now_, d_out);
    carry_out(d_out);
    a_dead_ = false;
    ReceiverActions r_out;
    receiver_->on_peer_alive("a", now_, r_out);
    carry_out(r_out);
    for (int i = 0; i < 10'000; ++i) {
      if (!net_.empty()) {
        deliver_one(0, 0);
        continue;
      }
      Micros due = std::min(donor_->next_tick_us(), receiver_->next_tick_us());
      if (due == kNever) break;
      now_ = std::max(now_, due);
      tick();
    }
    if (donor_holds() && !d_started_) donor_runs();  // its queue gets to it
  }

  std::string check() const {
    if (!failure_.empty()) return failure_;
    if (donor_->entries() != 0) return "a's handoffs are unresolved after healing";
    if (receiver_->held_count() != 0 || r_held_ == Held::kHeld) {
      return "b still holds the task pending after healing";
    }
    if (starts_ == 0) return "the task is lost";
    if (starts_ != 1) return "the task started " + std::to_string(starts_) + " times";
    if (released_ == (d_started_ || donor_holds())) return "not exactly one owner after healing";
    return "";
  }

  std::mt19937_64 rng_;
  Micros now_ = kMicrosPerSecond;
  double crash_p_ = 0.03;
  std::optional<HandoffDonor> donor_;  // nullopt: crashed
  std::optional<HandoffReceiver> receiver_;
  std::vector<Msg> net_;
  bool deaths_;          // this seed's failure detectors may declare the other dead
  bool b_dead_ = false;  // a's failure detector says b is dead
  bool a_dead_ = false;  // b's failure detector says a is dead
  bool false_death_ = false;
  int waited_ = 0;
  int starts_ = 0;
  // The stores: only carried-out persists write them.
  std::map<Epoch, HandoffRecord> journal_;
  Epoch floor_ = 0;
  bool d_has_task_ = true;
  bool d_started_ = false;  // a started it (it is no longer movable)
  Held r_held_ = Held::kNone;
  Epoch r_epoch_ = 0;
  bool released_ = false;
  std::map<std::pair<std::string, std::string>, Epoch> fences_;
  std::string failure_;
  std::string log_;
};

TEST(HandoffRandom, TenThousandSeedsStartTheTaskExactlyOnce) {
  constexpr std::uint64_t kSeeds = 10'000;
  int failures = 0;
  int false_deaths = 0;
  int at_b = 0;
  int waited = 0;
  int twice = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    World w(seed);
    std::string bad = w.run();
    false_deaths += w.false_death();
    at_b += w.released_at_b();
    waited += w.b_waited_for_dead_a() > 0;
    twice += w.started_twice();
    if (!bad.empty() && ++failures <= 3) {
      ADD_FAILURE() << "seed " << seed << ": " << bad << "\n" << w.log();
    }
  }
  EXPECT_EQ(failures, 0);
  std::cout << "[ handoff ] " << kSeeds << " seeds, " << false_deaths << " with a false death, "
            << at_b << " ran at b, " << kSeeds - at_b << " at a, " << waited
            << " where b held the task while a was declared dead, " << twice << " started twice\n";
}

}  // namespace
}  // namespace braid::sched
