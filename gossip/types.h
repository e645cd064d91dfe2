// Gossip value types: members, their states and load projections. Plain
// structs, shared by the protocol (gossip/node.h), the wire edge (rpc/), the
// store and the simulator (tests/sim/). gossip/ is pure: no sockets, no
// clock reads, no threads; time is always passed in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace braid::gossip {

using Micros = std::int64_t;  // microseconds of the caller's monotonic clock
using Incarnation = std::uint64_t;

constexpr Micros kMicrosPerMilli = 1'000;
constexpr Micros kMicrosPerSecond = 1'000'000;

// A node name: 1..kNameMaxBytes of [A-Za-z0-9._-]; unique in a cluster.
constexpr std::size_t kNameMaxBytes = 64;
// A peer address "HOST:PORT" (HOST a name or an IPv4 address, or "[v6]"):
// 3..kAddressMaxBytes bytes, port 1..65535.
constexpr std::size_t kAddressMaxBytes = 96;

bool valid_name(std::string_view name);
bool valid_address(std::string_view address);

// SWIM states. Precedence for the same incarnation: left > dead > suspect >
// alive; a higher incarnation of alive or suspect overrides a lower one of
// any state except left and dead, which only the member itself overrides by
// coming back with a higher incarnation (a restart).
enum class MemberState : std::uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
constexpr int kMemberStates = 4;
std::string_view to_string(MemberState state);

// A node's load projection: what balancing decides from. The origin sets
// it; it rides on gossip messages with a version the origin increments on
// every change (a higher version is newer).
struct Load {
  std::uint32_t queued = 0;      // tasks waiting to start (movable)
  std::uint32_t running = 0;     // started attempts on a slot
  std::uint32_t blocked = 0;     // running but mostly blocked (lent their slot)
  std::uint32_t slots = 0;       // the node's CPU slots
  std::uint32_t free_slots = 0;  // slots nothing holds
  // Highest priority among queued tasks (sched's 0..10); -1: none queued.
  std::int32_t top_queued_priority = -1;
  bool accepting = true;  // false while draining or shutting down
  friend bool operator==(const Load&, const Load&) = default;
};

// Limits of a Load that a receiver checks at the edge.
constexpr std::uint32_t kLoadCountMax = 100'000'000;
constexpr std::int32_t kQueuedPriorityMax = 10;
bool valid_load(const Load& load);

// What one node knows of a member (itself included).
struct Member {
  std::string name;
  std::string address;
  Incarnation incarnation = 0;
  MemberState state = MemberState::kAlive;
  Micros state_since_us = 0;  // local time this state was learned
  Load load;
  std::uint64_t load_version = 0;  // 0: no load known yet
  // Local time the load's version was learned, minus its age then: now minus
  // this is the figure's age (the origin's measurement, not our receipt).
  Micros load_measured_us = 0;
  // The origin's incarnation when it sent this load: a load of a higher
  // incarnation is newer whatever its version (the origin restarted and
  // counts versions from 1 again).
  Incarnation load_incarnation = 0;
};

}  // namespace braid::gossip
