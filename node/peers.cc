#include "node/peers.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio/post.hpp>
#include <set>
#include <system_error>

#include "gossip/membership.h"
#include "rpc/peer_endpoint.h"

namespace braid::node {

namespace {

// How long a leave is given to spread before the node goes.
constexpr int kLeaveGossipRounds = 3;

// Link deadlines follow the protocol's pace: a call slower than a probe
// interval is as good as lost to it.
std::chrono::milliseconds call_deadline_of(const gossip::GossipConfig& config) {
  return std::chrono::milliseconds(
      std::max<sched::Micros>(200, config.probe_interval_us / sched::kMicrosPerMilli));
}

}  // namespace

Peers::Peers(asio::io_context& io, const Clock& clock, PeersOptions options, Persist persist)
    : io_(io),
      clock_(clock),
      options_(std::move(options)),
      persist_(std::move(persist)),
      timer_(io) {}

Peers::~Peers() {
  *alive_ = false;
  timer_.cancel();
}

sched::Result<std::unique_ptr<Peers>> Peers::start(asio::io_context& io, const Clock& clock,
                                                   PeersOptions options,
                                                   std::vector<storage::MemberRecord> known,
                                                   Persist persist) {
  if (auto why = options.gossip.validate()) return sched::Error{"gossip config: " + *why};
  auto listen = rpc::parse_endpoint(options.listen, /*allow_any_port=*/true);
  if (!listen) return sched::Error{"--listen: " + listen.error().message};
  std::unique_ptr<Peers> peers(new Peers(io, clock, std::move(options), std::move(persist)));
  PeersOptions& o = peers->options_;
  rpc::PeerTransportConfig transport;
  transport.listen = o.listen;
  transport.name = o.name;
  transport.secret = o.secret;
  transport.call_deadline = call_deadline_of(o.gossip);
  transport.faults = o.faults;
  Peers* raw = peers.get();
  try {
    peers->transport_ = std::make_unique<rpc::PeerTransport>(
        io, transport, [raw](gossip::Message m) { raw->on_message(std::move(m)); });
  } catch (const std::system_error& e) {
    return sched::Error{"cannot listen for peers on " + o.listen + ": " + e.what()};
  }
  if (o.advertise.empty()) {
    const std::string& host = listen.value().host;
    if (host == "0.0.0.0" || host == "::") {
      return sched::Error{"--listen " + o.listen +
                          ": peers cannot reach a wildcard address; give --advertise HOST:PORT"};
    }
    const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    o.advertise = shown + ":" + std::to_string(peers->transport_->port());
  }
  if (!gossip::valid_address(o.advertise)) {
    return sched::Error{"advertised peer address \"" + o.advertise + "\" is not HOST:PORT"};
  }
  if (!gossip::valid_name(o.name)) {
    return sched::Error{"node name \"" + o.name +
                        "\" cannot be a peer name (allowed: 1..64 of A-Z a-z 0-9 . _ -)"};
  }
  // Refutations raise the incarnation while braidd runs (flush() stores it as
  // this node's own member record): start above those too, so that a restarted
  // node is news to every peer that saw it refute.
  for (const storage::MemberRecord& member : known) {
    if (member.name == o.name) o.incarnation = std::max(o.incarnation, member.incarnation + 1);
  }
  const std::uint64_t seed = o.seed != 0 ? o.seed
                                         : static_cast<std::uint64_t>(clock.wall_us()) ^
                                               (static_cast<std::uint64_t>(::getpid()) << 32);
  peers->node_ = std::make_unique<gossip::Node>(
      o.gossip, gossip::Self{o.name, o.advertise, o.incarnation}, seed, clock.monotonic_us());
  std::vector<std::string> addresses = o.join;
  std::set<std::string> seen(addresses.begin(), addresses.end());
  for (const storage::MemberRecord& member : known) {
    if (member.name == o.name || member.address == o.advertise) continue;
    if (seen.insert(member.address).second) addresses.push_back(member.address);
  }
  if (!addresses.empty()) {
    spdlog::info("peers: {} joining through {} address(es)", o.advertise, addresses.size());
    peers->node_->join(addresses, peers->now_us(), peers->outbox_);
  } else {
    spdlog::info("peers: listening on {}, no seeds", o.advertise);
  }
  peers->flush();
  return peers;
}

bool Peers::send_migration(const std::string& to_name, sched::MigrationMessage message) {
  const auto member = node_->member(to_name);
  if (!member || !gossip::is_live(member->state) || to_name == options_.name) return false;
  message.from = options_.name;
  message.from_address = address();
  transport_->send(member->address, std::move(message));
  return true;
}

bool Peers::is_live_member(const std::string& name) const {
  const auto member = node_->member(name);
  return member && gossip::is_live(member->state) && name != options_.name;
}

void Peers::set_on_migration(std::function<void(sched::MigrationMessage)> on_migration) {
  transport_->set_on_migration(std::move(on_migration));
}

sched::Result<std::string> Peers::live_address(const std::string& name) const {
  if (name == options_.name) return sched::Error{"node " + name + " is this node"};
  const auto member = node_->member(name);
  if (!member) return sched::Error{"node " + name + " is not a known member"};
  if (!gossip::is_live(member->state)) {
    return sched::Error{"node " + name + " is " + std::string(gossip::to_string(member->state))};
  }
  return member->address;
}

void Peers::read_log(const std::string& to_name, rpc::PeerLogRequest request,
                     std::chrono::milliseconds deadline, rpc::PeerTransport::OnLogAnswer done) {
  auto address = live_address(to_name);
  if (!address) {
    asio::post(io_, [done = std::move(done), e = address.error()] { done(e); });
    return;
  }
  transport_->read_log(address.value(), std::move(request), deadline, std::move(done));
}

void Peers::list_tasks(const std::string& to_name, rpc::PeerListRequest request,
                       std::chrono::milliseconds deadline, rpc::PeerTransport::OnListAnswer done) {
  auto address = live_address(to_name);
  if (!address) {
    asio::post(io_, [done = std::move(done), e = address.error()] { done(e); });
    return;
  }
  transport_->list_tasks(address.value(), std::move(request), deadline, std::move(done));
}

void Peers::set_query_handlers(rpc::PeerTransport::QueryHandlers handlers) {
  transport_->set_query_handlers(std::move(handlers));
}

void Peers::add_member_listener(std::function<void(const gossip::Event&)> listener) {
  member_listeners_.push_back(std::move(listener));
}

void Peers::on_message(gossip::Message message) {
  node_->receive(message, now_us(), outbox_);
  flush();
}

void Peers::flush() {
  for (const gossip::Outgoing& out : outbox_.messages) transport_->send(out);
  if (probe_rtt_listener_) {
    for (const sched::Micros rtt_us : outbox_.probe_rtts_us) probe_rtt_listener_(rtt_us);
  }
  storage::Batch batch;
  if (node_->incarnation() > stored_self_incarnation_) {
    stored_self_incarnation_ = node_->incarnation();
    batch.put_member(storage::MemberRecord{
        options_.name, options_.advertise, stored_self_incarnation_,
        static_cast<std::uint8_t>(gossip::MemberState::kAlive), clock_.wall_us()});
  }
  for (const gossip::Event& event : outbox_.events) {
    if (event.name == options_.name) continue;
    switch (event.kind) {
      case gossip::Event::Kind::kJoined:
      case gossip::Event::Kind::kState: {
        if (auto m = node_->member(event.name)) {
          batch.put_member(storage::MemberRecord{m->name, m->address, m->incarnation,
                                                 static_cast<std::uint8_t>(m->state),
                                                 clock_.wall_us()});
        }
        if (event.state == gossip::MemberState::kDead ||
            event.kind == gossip::Event::Kind::kJoined) {
          spdlog::info("peer {} {} (incarnation {})", event.name, gossip::to_string(event.state),
                       event.incarnation);
        }
        break;
      }
      case gossip::Event::Kind::kRemoved:
        batch.delete_member(event.name);
        break;
      case gossip::Event::Kind::kLoad:
        break;
    }
  }
  std::vector<gossip::Event> events;
  for (const gossip::Event& event : outbox_.events) {
    if (event.name != options_.name) {  // load changes too: they wake migration's rounds
      events.push_back(event);
    }
  }
  outbox_.clear();
  if (!batch.empty() && persist_) persist_(std::move(batch));
  for (const gossip::Event& event : events) {
    for (const auto& listener : member_listeners_) listener(event);
  }
  arm_timer();
}

void Peers::arm_timer() {
  const sched::Micros due = node_->next_tick_us();
  if (timer_armed_ && due >= timer_due_us_) return;
  timer_armed_ = true;
  timer_due_us_ = due;
  timer_.expires_after(std::chrono::microseconds(std::max<sched::Micros>(0, due - now_us())));
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const std::error_code& ec) {
    if (ec || alive.expired()) return;
    timer_armed_ = false;
    const sched::Micros now = now_us();
    const sched::Micros late_us = std::max<sched::Micros>(0, now - timer_due_us_);
    ++timer_stats_.fires;
    if (late_us > 10'000) ++timer_stats_.late_10ms;
    timer_stats_.late_max_us = std::max(timer_stats_.late_max_us, late_us);
    node_->tick(now, outbox_);
    flush();
  });
}

void Peers::set_load(const gossip::Load& load, bool republish) {
  node_->set_load(load, now_us(), republish);
  arm_timer();  // the change rides on the next gossip round
}

std::vector<gossip::Member> Peers::members() const { return node_->members(); }

const std::string& Peers::address() const { return options_.advertise; }

const gossip::NodeStats& Peers::gossip_stats() const { return node_->stats(); }

rpc::PeerTransportStats Peers::transport_stats() const { return transport_->stats(); }

void Peers::set_faults(rpc::PeerFaults faults) { transport_->set_faults(std::move(faults)); }

void Peers::leave(std::function<void()> done) {
  if (leaving_) return;
  leaving_ = true;
  node_->leave(now_us(), outbox_);
  flush();
  if (node_->alive_count() <= 1) {
    done();
    return;
  }
  auto wait = std::make_shared<asio::steady_timer>(
      io_, std::chrono::microseconds(kLeaveGossipRounds * options_.gossip.gossip_interval_us));
  wait->async_wait([wait, done = std::move(done)](const std::error_code&) { done(); });
}

}  // namespace braid::node
