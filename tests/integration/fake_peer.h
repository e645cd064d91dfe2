// Helpers of the migration integration tests (review14/15/16): a node's
// peer address and view, a task's state, a ledger's lines, and FakePeer, a
// peer the test plays itself (real gossip and the real peer transport, on
// its own loop thread) to say exactly what a finding needs.
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/clock.h"
#include "node/peers.h"
#include "rpc/asio_event_port.h"
#include "rpc/peer_query.h"
#include "rpc/peer_transport.h"
#include "sched/migration_message.h"
#include "tests/integration/harness.h"

namespace braid::testing {

using namespace std::chrono_literals;

inline std::string address_of(const Daemon& d) {
  for (const auto& m : d.json({"peers", "--json"})) {
    if (m.at("self").get<bool>()) return m.at("address").get<std::string>();
  }
  return "";
}

// A peer's state as `d` sees it ("" if unknown or braidd does not answer).
inline std::string state_of(const Daemon& d, const std::string& peer) {
  const RunResult r = d.cli({"peers", "--json"});
  if (r.exit_code != 0) return "";
  for (const auto& m : nlohmann::json::parse(r.out)) {
    if (m.at("name") == peer) return m.at("state").get<std::string>();
  }
  return "";
}

inline std::string task_state(const Daemon& d, const std::string& id) {
  const RunResult r = d.cli({"show", id, "--json"});
  if (r.exit_code != 0) return "";
  const nlohmann::json j = nlohmann::json::parse(r.out);
  return (j.is_array() ? j.at(0) : j).value("state", "");
}

inline int lines_in(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// A peer played by the test: real gossip and the
// real peer transport on its own loop thread. It publishes no load, so
// braidd never offers it anything by itself. It also owns a bare
// PeerTransport (no gossip) to send messages under any `from`.
class FakePeer {
 public:
  FakePeer(const std::string& name, const std::string& seed, const std::string& secret = "")
      : name_(name) {
    std::promise<std::string> ready;
    thread_ = std::thread([this, name, seed, secret, &ready] {
      rpc::AsioEventPort port(io_);
      node::PeersOptions o;
      o.name = name;
      o.listen = "127.0.0.1:0";
      o.join = {seed};
      o.gossip = gossip::GossipConfig::fast();
      o.secret = secret;
      auto started = node::Peers::start(io_, clock_, o, {}, nullptr);
      if (!started) {
        ready.set_value(started.error().message);
        return;
      }
      peers_ = std::move(started).value();
      peers_->set_on_migration([this](sched::MigrationMessage m) {
        std::lock_guard lock(mu_);
        got_.push_back(std::move(m));
      });
      rpc::PeerTransportConfig raw;
      raw.listen = "127.0.0.1:0";
      raw.name = name + "-raw";
      raw.secret = secret;
      raw_ = std::make_unique<rpc::PeerTransport>(io_, raw, [](gossip::Message) {});
      ready.set_value("");
      auto work = asio::make_work_guard(io_);
      io_.run();
      raw_.reset();
      peers_.reset();
      io_.restart();
      io_.poll();
    });
    const std::string why = ready.get_future().get();
    if (!why.empty()) {
      thread_.join();
      throw std::runtime_error(why);
    }
  }
  ~FakePeer() {
    io_.stop();
    thread_.join();
  }
  bool sees_alive(const std::string& peer) {
    std::promise<bool> p;
    asio::post(io_, [&] {
      bool alive = false;
      for (const auto& m : peers_->members()) {
        alive |= m.name == peer && m.state == gossip::MemberState::kAlive;
      }
      p.set_value(alive);
    });
    return p.get_future().get();
  }
  template <typename Body>
  bool send(const std::string& to, Body body) {
    std::promise<bool> p;
    asio::post(io_, [&] { p.set_value(peers_->send_migration(to, {{}, {}, std::move(body)})); });
    return p.get_future().get();
  }
  // Sends `body` to `address` claiming to be `from` (no gossip involved).
  template <typename Body>
  void send_as(const std::string& from, const std::string& address, Body body) {
    std::promise<void> p;
    asio::post(io_, [&] {
      raw_->send(address, {from, "127.0.0.1:" + std::to_string(raw_->port()), std::move(body)});
      p.set_value();
    });
    p.get_future().get();
  }
  template <typename Body>
  std::vector<Body> got(const std::function<bool(const Body&)>& match = {}) {
    std::lock_guard lock(mu_);
    std::vector<Body> out;
    for (const auto& m : got_) {
      if (const auto* b = std::get_if<Body>(&m.body)) {
        if (!match || match(*b)) out.push_back(*b);
      }
    }
    return out;
  }
  std::optional<sched::HandoffOffer> offer_of(const std::string& task_id) {
    auto offers = got<sched::HandoffOffer>(
        [&](const sched::HandoffOffer& o) { return o.task.id == task_id; });
    if (offers.empty()) return std::nullopt;
    return offers.back();
  }
  std::vector<sched::HandoffOffer> offers() { return got<sched::HandoffOffer>(); }
  // Peer.readLog / Peer.listTasks through the bare transport: no gossip,
  // no membership, just a TCP connection to `address`.
  sched::Result<rpc::PeerLogAnswer> read_log(const std::string& address,
                                             rpc::PeerLogRequest request) {
    auto p = std::make_shared<std::promise<sched::Result<rpc::PeerLogAnswer>>>();
    asio::post(io_, [&, p] {
      raw_->read_log(address, request, 3000ms,
                     [p](sched::Result<rpc::PeerLogAnswer> a) { p->set_value(std::move(a)); });
    });
    return p->get_future().get();
  }
  sched::Result<rpc::PeerListAnswer> list_tasks(const std::string& address) {
    auto p = std::make_shared<std::promise<sched::Result<rpc::PeerListAnswer>>>();
    asio::post(io_, [&, p] {
      raw_->list_tasks(address, rpc::PeerListRequest{}, 3000ms,
                       [p](sched::Result<rpc::PeerListAnswer> a) { p->set_value(std::move(a)); });
    });
    return p->get_future().get();
  }
  void set_load(const gossip::Load& load) {
    std::promise<void> p;
    asio::post(io_, [&] {
      peers_->set_load(load);
      p.set_value();
    });
    p.get_future().get();
  }
  bool got_outcome(const std::string& task_id) {
    return !got<sched::OutcomeReport>([&](const sched::OutcomeReport& r) {
              return r.task_id == task_id;
            }).empty();
  }
  // The answers received so far for (task_id, epoch).
  std::vector<sched::HandoffAnswer> answers(const std::string& task_id, std::uint64_t epoch) {
    return got<sched::HandoffAnswer>(
        [&](const sched::HandoffAnswer& a) { return a.task_id == task_id && a.epoch == epoch; });
  }
  std::vector<sched::MigrationMessage> received() {
    std::lock_guard lock(mu_);
    return got_;
  }
  bool got_ack(const std::string& task_id) {
    return !got<sched::OutcomeAck>([&](const sched::OutcomeAck& a) {
              return a.task_id == task_id;
            }).empty();
  }
  bool got_answer(const std::string& task_id, std::uint64_t epoch, sched::HandoffAnswerKind kind) {
    return !got<sched::HandoffAnswer>([&](const sched::HandoffAnswer& a) {
              return a.task_id == task_id && a.epoch == epoch && a.kind == kind;
            }).empty();
  }

 private:
  std::string name_;
  asio::io_context io_;
  node::SystemClock clock_;
  std::unique_ptr<node::Peers> peers_;
  std::unique_ptr<rpc::PeerTransport> raw_;
  std::mutex mu_;
  std::vector<sched::MigrationMessage> got_;
  std::thread thread_;
};

inline bool converged(Daemon& d, const std::string& node, FakePeer& fake,
                      const std::string& fake_name) {
  return eventually([&] { return state_of(d, fake_name) == "alive" && fake.sees_alive(node); }, 10s,
                    50ms);
}

}  // namespace braid::testing
