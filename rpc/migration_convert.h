// Conversions between migration messages (sched/migration_message.h) and the
// peer schema (rpc/peer.capnp MigrationMessage). from_wire() is the edge:
// every text is length-checked before it is copied, the spec goes through
// the control interface's checks (rpc/convert.h), unknown enums are errors,
// and sched::validate() runs last. Errors are one line naming the field.
#pragma once

#include "rpc/peer.capnp.h"
#include "sched/migration_message.h"

namespace braid::rpc {

void to_wire(const sched::MigrationMessage& message, schema::MigrationMessage::Builder out);
sched::Result<sched::MigrationMessage> from_wire(schema::MigrationMessage::Reader in);

}  // namespace braid::rpc
