// Conversions between gossip messages (gossip/message.h) and the peer
// schema (rpc/peer.capnp). from_wire() is the edge: it checks every length
// before copying (so a hostile message cannot make us allocate beyond the
// message's own bounded size), maps enums it does not know to an error, and
// finally runs gossip::validate_message(). Errors are one line naming the
// field.
#pragma once

#include "gossip/message.h"
#include "rpc/peer.capnp.h"
#include "sched/migration_message.h"
#include "sched/result.h"

namespace braid::rpc {

// Reader limits for a peer connection: a message larger than the largest
// valid one (a migration offer, sched::kMaxMigrationMessageBytes, with room
// for Cap'n Proto's framing) is refused by Cap'n Proto before we read it.
constexpr std::uint64_t kPeerTraversalLimitWords = 2 * sched::kMaxMigrationMessageBytes / 8;
constexpr int kPeerNestingLimit = 16;

void to_wire(const gossip::Message& message, schema::GossipMessage::Builder out);
sched::Result<gossip::Message> from_wire(schema::GossipMessage::Reader in);

}  // namespace braid::rpc
