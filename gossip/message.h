// Gossip messages: what one node sends another. Plain structs; rpc/ converts
// them to and from Cap'n Proto at the edge and validates every field there
// (validate_message()). Every message has a size bound that does not grow
// with the cluster: at most kMaxUpdatesPerMessage piggybacked updates, at
// most kMaxSyncMembers members per sync page, names and addresses bounded
// (gossip/types.h), so encoded_size_bound() <= kMaxMessageBytes always.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossip/types.h"

namespace braid::gossip {

constexpr std::size_t kMaxUpdatesPerMessage = 12;
constexpr std::size_t kMaxSyncMembers = 24;
constexpr std::size_t kMaxMessageBytes = 16 * 1024;
constexpr std::uint32_t kLoadAgeMaxMs = 24u * 3600u * 1000u;
// Incarnations above this are refused at the edge, so a refutation (one
// above the accusation) can never wrap around to 0.
constexpr Incarnation kIncarnationMax = Incarnation{1} << 62;

// A change of one member, spread by piggybacking on other messages, each
// retransmitted a bounded number of times (config retransmit_mult x log n).
struct Update {
  enum class Kind : std::uint8_t {
    kAlive = 0,    // name, address, incarnation (a join, or a refutation)
    kSuspect = 1,  // name, incarnation, accuser
    kDead = 2,     // name, incarnation, accuser
    kLeft = 3,     // name, incarnation: it left gracefully
    kLoad = 4,     // name, incarnation, load, load_version, load_age_ms
  };
  Kind kind = Kind::kAlive;
  std::string name;
  std::string address;  // kAlive only, else empty
  Incarnation incarnation = 0;
  std::string accuser;  // kSuspect and kDead: who suspects (Lifeguard counts independent ones)
  Load load;            // kLoad only
  std::uint64_t load_version = 0;
  std::uint32_t load_age_ms = 0;  // age of the figure when sent
  friend bool operator==(const Update&, const Update&) = default;
};

// Probe of `target` (its name: a node that is not `target` ignores it, e.g.
// a reused address). Answered by Ack with the same seq.
struct Ping {
  std::uint32_t seq = 0;
  std::string target;
  friend bool operator==(const Ping&, const Ping&) = default;
};
// Ack{seq = 0} answers nothing: it only carries piggybacked updates (a
// gossip round's message). Probes never use seq 0.
struct Ack {
  std::uint32_t seq = 0;
  friend bool operator==(const Ack&, const Ack&) = default;
};
// Indirect probe: please ping `target` at `target_address` and send me an
// Ack with `seq` if it answers, a Nack with `seq` if it does not in time.
struct PingReq {
  std::uint32_t seq = 0;
  std::string target;
  std::string target_address;
  friend bool operator==(const PingReq&, const PingReq&) = default;
};
struct Nack {
  std::uint32_t seq = 0;
  friend bool operator==(const Nack&, const Nack&) = default;
};
// One member as a sync page carries it.
struct SyncMember {
  std::string name;
  std::string address;
  Incarnation incarnation = 0;
  MemberState state = MemberState::kAlive;
  Load load;
  std::uint64_t load_version = 0;
  std::uint32_t load_age_ms = 0;
  // The origin's incarnation when it set this load (a load of a higher
  // incarnation is newer whatever its version: a restart counts from 1).
  Incarnation load_incarnation = 0;
  friend bool operator==(const SyncMember&, const SyncMember&) = default;
};
// Push-pull anti-entropy, one page of the sender's members (paged so the
// size stays bounded; successive syncs walk the whole table). A sync that is
// not a reply is answered by a sync reply with a page of the receiver's.
// `join`: the sender is joining (a seed answers even if it does not know it).
struct Sync {
  bool join = false;
  bool reply = false;
  std::vector<SyncMember> members;  // at most kMaxSyncMembers
  friend bool operator==(const Sync&, const Sync&) = default;
};

struct Message {
  std::string from;  // sender's name
  std::string from_address;
  Incarnation from_incarnation = 0;
  std::variant<Ping, Ack, PingReq, Nack, Sync> body;
  std::vector<Update> updates;  // piggybacked, at most kMaxUpdatesPerMessage
  friend bool operator==(const Message&, const Message&) = default;
};

// A message to send, to an address (the receiver may be unknown by name:
// a seed).
struct Outgoing {
  std::string to_address;
  Message message;
};

// An upper bound of the message's encoded size in bytes (any encoding braid
// uses: Cap'n Proto packed or not): fixed costs plus string lengths.
std::size_t encoded_size_bound(const Message& message);
std::size_t encoded_size_bound(const Update& update);
std::size_t encoded_size_bound(const SyncMember& member);
// The bound of the message without its updates: encoded_size_bound(message)
// is this plus the sum of its updates' bounds (so a sender fills updates
// until that sum would pass kMaxMessageBytes).
std::size_t encoded_size_without_updates(const Message& message);

// Why the message is not acceptable (a bad name, address, load, too many
// updates or members, an update kind's fields out of place), or nullopt.
// Receivers call it at the edge before the protocol sees the message.
std::optional<std::string> validate_message(const Message& message);

}  // namespace braid::gossip
