#include "gossip/message.h"

#include <string_view>
#include <type_traits>

namespace braid::gossip {
namespace {

// The bound counts Cap'n Proto's unpacked layout in 8-byte words and then
// charges kBytesPerWord for each: packing writes at most a tag byte and a
// run-length byte on top of a word's 8 bytes, so 10 bytes per word bounds
// both the packed and the unpacked encodings.
constexpr std::size_t kBytesPerWord = 10;

// Text: its bytes plus the NUL, rounded up to words (the pointer to it is
// counted in its parent's fixed words).
std::size_t text_words(std::string_view text) { return (text.size() + 1 + 7) / 8; }

// Fixed words of a Message: segment table and root pointer (2), the struct's
// data (incarnation, body union tag: 2) and pointers (from, from_address,
// body, updates: 4, 2 spare), the body's own struct (data 2 + pointers 3),
// the updates list tag (1), and slack for a multi-segment message's larger
// segment table and far-pointer landing pads (12).
constexpr std::size_t kMessageFixedWords = 2 + 2 + 6 + 5 + 1 + 12;
// Fixed words of an Update: data (kind, incarnation, load_version,
// load_age_ms: 4 with padding), pointers (name, address, accuser, load: 4,
// 2 spare), and the Load struct (7 fields of 4 bytes and a bool: 5, 1 spare).
constexpr std::size_t kUpdateFixedWords = 4 + 6 + 6;
// Fixed words of a SyncMember: data (incarnation, state, load_version,
// load_age_ms, load_incarnation: 5), pointers (name, address, load: 3, 2
// spare), Load (6).
constexpr std::size_t kSyncMemberFixedWords = 5 + 5 + 6;
// A list's tag word.
constexpr std::size_t kListTagWords = 1;

std::size_t body_words(const decltype(Message::body)& body) {
  return std::visit(
      [](const auto& b) -> std::size_t {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Ping>) {
          return text_words(b.target);
        } else if constexpr (std::is_same_v<T, PingReq>) {
          return text_words(b.target) + text_words(b.target_address);
        } else if constexpr (std::is_same_v<T, Sync>) {
          return kListTagWords;  // the members list; its elements are counted below
        } else {
          return 0;
        }
      },
      body);
}

bool valid_state(MemberState state) { return static_cast<int>(state) < kMemberStates; }

std::optional<std::string> validate_update(const Update& u, std::size_t index) {
  const std::string at = "update " + std::to_string(index) + ": ";
  if (static_cast<int>(u.kind) > static_cast<int>(Update::Kind::kLoad)) {
    return at + "kind " + std::to_string(static_cast<int>(u.kind)) + " is not 0..4";
  }
  if (!valid_name(u.name)) return at + "name is not 1..64 of [A-Za-z0-9._-]";
  if (u.incarnation > kIncarnationMax) return at + "incarnation above 2^62";
  const bool alive = u.kind == Update::Kind::kAlive;
  const bool accused = u.kind == Update::Kind::kSuspect || u.kind == Update::Kind::kDead;
  const bool load = u.kind == Update::Kind::kLoad;
  if (alive && !valid_address(u.address)) return at + "alive needs a HOST:PORT address";
  if (!alive && !u.address.empty()) return at + "only alive carries an address";
  if (accused && !valid_name(u.accuser)) return at + "suspect and dead need a valid accuser";
  if (!accused && !u.accuser.empty()) return at + "only suspect and dead carry an accuser";
  if (load) {
    if (!valid_load(u.load)) return at + "load out of range";
    if (u.load_version == 0) return at + "load_version must be >= 1";
    if (u.load_age_ms > kLoadAgeMaxMs) return at + "load_age_ms above 86400000";
  } else if (!(u.load == Load{}) || u.load_version != 0 || u.load_age_ms != 0) {
    return at + "only load carries load fields";
  }
  return std::nullopt;
}

std::optional<std::string> validate_sync_member(const SyncMember& m, std::size_t index) {
  const std::string at = "sync member " + std::to_string(index) + ": ";
  if (!valid_name(m.name)) return at + "name is not 1..64 of [A-Za-z0-9._-]";
  if (!valid_address(m.address)) return at + "address is not HOST:PORT";
  if (!valid_state(m.state)) return at + "state is not 0..3";
  if (m.incarnation > kIncarnationMax || m.load_incarnation > kIncarnationMax) {
    return at + "incarnation above 2^62";
  }
  if (!valid_load(m.load)) return at + "load out of range";
  if (m.load_age_ms > kLoadAgeMaxMs) return at + "load_age_ms above 86400000";
  return std::nullopt;
}

}  // namespace

std::size_t encoded_size_bound(const Update& update) {
  return kBytesPerWord * (kUpdateFixedWords + text_words(update.name) + text_words(update.address) +
                          text_words(update.accuser));
}

std::size_t encoded_size_bound(const SyncMember& member) {
  return kBytesPerWord *
         (kSyncMemberFixedWords + text_words(member.name) + text_words(member.address));
}

std::size_t encoded_size_without_updates(const Message& message) {
  std::size_t bytes = kBytesPerWord * (kMessageFixedWords + text_words(message.from) +
                                       text_words(message.from_address) + body_words(message.body));
  if (const auto* sync = std::get_if<Sync>(&message.body)) {
    for (const SyncMember& m : sync->members) bytes += encoded_size_bound(m);
  }
  return bytes;
}

std::size_t encoded_size_bound(const Message& message) {
  std::size_t bytes = encoded_size_without_updates(message);
  for (const Update& u : message.updates) bytes += encoded_size_bound(u);
  return bytes;
}

std::optional<std::string> validate_message(const Message& message) {
  if (!valid_name(message.from)) return "from is not 1..64 of [A-Za-z0-9._-]";
  if (!valid_address(message.from_address)) return "from_address is not HOST:PORT";
  if (message.from_incarnation > kIncarnationMax) return "from_incarnation above 2^62";
  if (message.updates.size() > kMaxUpdatesPerMessage) {
    return "more than " + std::to_string(kMaxUpdatesPerMessage) + " updates";
  }
  for (std::size_t i = 0; i < message.updates.size(); ++i) {
    if (auto why = validate_update(message.updates[i], i)) return why;
  }
  if (const auto* ping = std::get_if<Ping>(&message.body)) {
    if (!valid_name(ping->target)) return "ping target is not a valid name";
  } else if (const auto* req = std::get_if<PingReq>(&message.body)) {
    if (!valid_name(req->target)) return "ping-req target is not a valid name";
    if (!valid_address(req->target_address)) return "ping-req target_address is not HOST:PORT";
  } else if (const auto* sync = std::get_if<Sync>(&message.body)) {
    if (sync->members.size() > kMaxSyncMembers) {
      return "sync carries more than " + std::to_string(kMaxSyncMembers) + " members";
    }
    for (std::size_t i = 0; i < sync->members.size(); ++i) {
      if (auto why = validate_sync_member(sync->members[i], i)) return why;
    }
  }
  if (encoded_size_bound(message) > kMaxMessageBytes) {
    return "message above " + std::to_string(kMaxMessageBytes) + " bytes";
  }
  return std::nullopt;
}

}  // namespace braid::gossip
