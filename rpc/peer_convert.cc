#include "rpc/peer_convert.h"

#include <string>

namespace braid::rpc {

namespace {

using gossip::Update;

void load_to_wire(const gossip::Load& load, schema::Load::Builder out) {
  out.setQueued(load.queued);
  out.setRunning(load.running);
  out.setBlocked(load.blocked);
  out.setSlots(load.slots);
  out.setFreeSlots(load.free_slots);
  out.setTopQueuedPriority(load.top_queued_priority);
  out.setAccepting(load.accepting);
}

gossip::Load load_from_wire(schema::Load::Reader in) {
  gossip::Load load;
  load.queued = in.getQueued();
  load.running = in.getRunning();
  load.blocked = in.getBlocked();
  load.slots = in.getSlots();
  load.free_slots = in.getFreeSlots();
  load.top_queued_priority = in.getTopQueuedPriority();
  load.accepting = in.getAccepting();
  return load;
}

// A text field of at most `max_bytes`, or an error naming it.
sched::Result<std::string> text(capnp::Text::Reader in, std::size_t max_bytes, const char* field) {
  if (in.size() > max_bytes) {
    return sched::Error{std::string(field) + ": " + std::to_string(in.size()) +
                        " bytes (allowed: at most " + std::to_string(max_bytes) + ")"};
  }
  return std::string(in.cStr(), in.size());
}

schema::MemberState state_to_wire(gossip::MemberState state) {
  switch (state) {
    case gossip::MemberState::kAlive:
      return schema::MemberState::ALIVE;
    case gossip::MemberState::kSuspect:
      return schema::MemberState::SUSPECT;
    case gossip::MemberState::kDead:
      return schema::MemberState::DEAD;
    case gossip::MemberState::kLeft:
      return schema::MemberState::LEFT;
  }
  return schema::MemberState::ALIVE;
}

sched::Result<gossip::MemberState> state_from_wire(schema::MemberState state) {
  switch (state) {
    case schema::MemberState::ALIVE:
      return gossip::MemberState::kAlive;
    case schema::MemberState::SUSPECT:
      return gossip::MemberState::kSuspect;
    case schema::MemberState::DEAD:
      return gossip::MemberState::kDead;
    case schema::MemberState::LEFT:
      return gossip::MemberState::kLeft;
  }
  return sched::Error{"member state " + std::to_string(static_cast<unsigned>(state)) +
                      " unknown (allowed: alive, suspect, dead, left)"};
}

schema::Update::Kind kind_to_wire(Update::Kind kind) {
  switch (kind) {
    case Update::Kind::kAlive:
      return schema::Update::Kind::ALIVE;
    case Update::Kind::kSuspect:
      return schema::Update::Kind::SUSPECT;
    case Update::Kind::kDead:
      return schema::Update::Kind::DEAD;
    case Update::Kind::kLeft:
      return schema::Update::Kind::LEFT;
    case Update::Kind::kLoad:
      return schema::Update::Kind::LOAD;
  }
  return schema::Update::Kind::ALIVE;
}

sched::Result<Update::Kind> kind_from_wire(schema::Update::Kind kind) {
  switch (kind) {
    case schema::Update::Kind::ALIVE:
      return Update::Kind::kAlive;
    case schema::Update::Kind::SUSPECT:
      return Update::Kind::kSuspect;
    case schema::Update::Kind::DEAD:
      return Update::Kind::kDead;
    case schema::Update::Kind::LEFT:
      return Update::Kind::kLeft;
    case schema::Update::Kind::LOAD:
      return Update::Kind::kLoad;
  }
  return sched::Error{"update kind " + std::to_string(static_cast<unsigned>(kind)) +
                      " unknown (allowed: alive, suspect, dead, left, load)"};
}

sched::Result<Update> update_from_wire(schema::Update::Reader in) {
  Update u;
  auto kind = kind_from_wire(in.getKind());
  if (!kind) return kind.error();
  u.kind = kind.value();
  auto name = text(in.getName(), gossip::kNameMaxBytes, "update name");
  if (!name) return name.error();
  u.name = std::move(name).value();
  auto address = text(in.getAddress(), gossip::kAddressMaxBytes, "update address");
  if (!address) return address.error();
  u.address = std::move(address).value();
  u.incarnation = in.getIncarnation();
  auto accuser = text(in.getAccuser(), gossip::kNameMaxBytes, "update accuser");
  if (!accuser) return accuser.error();
  u.accuser = std::move(accuser).value();
  u.load = load_from_wire(in.getLoad());
  u.load_version = in.getLoadVersion();
  u.load_age_ms = in.getLoadAgeMs();
  return u;
}

sched::Result<gossip::SyncMember> member_from_wire(schema::SyncMember::Reader in) {
  gossip::SyncMember m;
  auto name = text(in.getName(), gossip::kNameMaxBytes, "sync member name");
  if (!name) return name.error();
  m.name = std::move(name).value();
  auto address = text(in.getAddress(), gossip::kAddressMaxBytes, "sync member address");
  if (!address) return address.error();
  m.address = std::move(address).value();
  m.incarnation = in.getIncarnation();
  auto state = state_from_wire(in.getState());
  if (!state) return state.error();
  m.state = state.value();
  m.load = load_from_wire(in.getLoad());
  m.load_version = in.getLoadVersion();
  m.load_age_ms = in.getLoadAgeMs();
  m.load_incarnation = in.getLoadIncarnation();
  return m;
}

// The body, by the union's tag.
using Body = decltype(gossip::Message::body);

sched::Result<Body> body_from_wire(schema::GossipMessage::Body::Reader in) {
  switch (in.which()) {
    case schema::GossipMessage::Body::PING: {
      auto target = text(in.getPing().getTarget(), gossip::kNameMaxBytes, "ping target");
      if (!target) return target.error();
      return Body{gossip::Ping{in.getPing().getSeq(), std::move(target).value()}};
    }
    case schema::GossipMessage::Body::ACK:
      return Body{gossip::Ack{in.getAck().getSeq()}};
    case schema::GossipMessage::Body::PING_REQ: {
      auto req = in.getPingReq();
      auto target = text(req.getTarget(), gossip::kNameMaxBytes, "ping-req target");
      if (!target) return target.error();
      auto address =
          text(req.getTargetAddress(), gossip::kAddressMaxBytes, "ping-req target address");
      if (!address) return address.error();
      return Body{
          gossip::PingReq{req.getSeq(), std::move(target).value(), std::move(address).value()}};
    }
    case schema::GossipMessage::Body::NACK:
      return Body{gossip::Nack{in.getNack().getSeq()}};
    case schema::GossipMessage::Body::SYNC: {
      auto sync = in.getSync();
      if (sync.getMembers().size() > gossip::kMaxSyncMembers) {
        return sched::Error{"sync: " + std::to_string(sync.getMembers().size()) +
                            " members (allowed: at most " +
                            std::to_string(gossip::kMaxSyncMembers) + ")"};
      }
      gossip::Sync out{sync.getJoin(), sync.getReply(), {}};
      out.members.reserve(sync.getMembers().size());
      for (auto m : sync.getMembers()) {
        auto member = member_from_wire(m);
        if (!member) return member.error();
        out.members.push_back(std::move(member).value());
      }
      return Body{std::move(out)};
    }
  }
  return sched::Error{"message body " + std::to_string(static_cast<unsigned>(in.which())) +
                      " unknown (allowed: ping, ack, pingReq, nack, sync)"};
}

}  // namespace

void to_wire(const gossip::Message& message, schema::GossipMessage::Builder out) {
  out.setFrom(message.from);
  out.setFromAddress(message.from_address);
  out.setFromIncarnation(message.from_incarnation);
  auto updates = out.initUpdates(static_cast<unsigned>(message.updates.size()));
  for (std::size_t i = 0; i < message.updates.size(); ++i) {
    const Update& u = message.updates[i];
    auto w = updates[static_cast<unsigned>(i)];
    w.setKind(kind_to_wire(u.kind));
    w.setName(u.name);
    w.setAddress(u.address);
    w.setIncarnation(u.incarnation);
    w.setAccuser(u.accuser);
    load_to_wire(u.load, w.initLoad());
    w.setLoadVersion(u.load_version);
    w.setLoadAgeMs(u.load_age_ms);
  }
  auto body = out.initBody();
  if (const auto* ping = std::get_if<gossip::Ping>(&message.body)) {
    auto w = body.initPing();
    w.setSeq(ping->seq);
    w.setTarget(ping->target);
  } else if (const auto* ack = std::get_if<gossip::Ack>(&message.body)) {
    body.initAck().setSeq(ack->seq);
  } else if (const auto* req = std::get_if<gossip::PingReq>(&message.body)) {
    auto w = body.initPingReq();
    w.setSeq(req->seq);
    w.setTarget(req->target);
    w.setTargetAddress(req->target_address);
  } else if (const auto* nack = std::get_if<gossip::Nack>(&message.body)) {
    body.initNack().setSeq(nack->seq);
  } else if (const auto* sync = std::get_if<gossip::Sync>(&message.body)) {
    auto w = body.initSync();
    w.setJoin(sync->join);
    w.setReply(sync->reply);
    auto members = w.initMembers(static_cast<unsigned>(sync->members.size()));
    for (std::size_t i = 0; i < sync->members.size(); ++i) {
      const gossip::SyncMember& m = sync->members[i];
      auto wm = members[static_cast<unsigned>(i)];
      wm.setName(m.name);
      wm.setAddress(m.address);
      wm.setIncarnation(m.incarnation);
      wm.setState(state_to_wire(m.state));
      load_to_wire(m.load, wm.initLoad());
      wm.setLoadVersion(m.load_version);
      wm.setLoadAgeMs(m.load_age_ms);
      wm.setLoadIncarnation(m.load_incarnation);
    }
  }
}

sched::Result<gossip::Message> from_wire(schema::GossipMessage::Reader in) {
  gossip::Message message;
  auto from = text(in.getFrom(), gossip::kNameMaxBytes, "from");
  if (!from) return from.error();
  message.from = std::move(from).value();
  auto from_address = text(in.getFromAddress(), gossip::kAddressMaxBytes, "from address");
  if (!from_address) return from_address.error();
  message.from_address = std::move(from_address).value();
  message.from_incarnation = in.getFromIncarnation();
  if (in.getUpdates().size() > gossip::kMaxUpdatesPerMessage) {
    return sched::Error{"updates: " + std::to_string(in.getUpdates().size()) +
                        " (allowed: at most " + std::to_string(gossip::kMaxUpdatesPerMessage) +
                        ")"};
  }
  message.updates.reserve(in.getUpdates().size());
  for (auto u : in.getUpdates()) {
    auto update = update_from_wire(u);
    if (!update) return update.error();
    message.updates.push_back(std::move(update).value());
  }
  auto body = body_from_wire(in.getBody());
  if (!body) return body.error();
  message.body = std::move(body).value();
  if (auto why = gossip::validate_message(message)) return sched::Error{*why};
  return message;
}

}  // namespace braid::rpc
