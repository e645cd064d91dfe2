// How braidd joins its peers part to the rest of the node: the options from
// the daemon's config, the load projection from the torus, and what the
// `peers` control call shows.
#pragma once

#include <memory>

#include "gossip/types.h"
#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/peers.h"
#include "rpc/control_backend.h"
#include "sched/torus.h"

namespace braid::node {

class Durability;

PeersOptions peers_options(const DaemonConfig& config, std::uint64_t incarnation);
// The node's load as peers see it; `accepting` false while draining or
// shutting down.
gossip::Load load_of(const sched::Torus& torus, bool accepting);
rpc::PeersView peers_view(const Peers& peers, const Clock& clock);

// Starts the peers part, or returns nullptr when --listen is off, or when
// the default address is taken (logged once: several nodes on one host).
// An Error (an address given explicitly that cannot be bound, a bad
// config) means braidd must not start.
sched::Result<std::unique_ptr<Peers>> start_peers(asio::io_context& io, const Clock& clock,
                                                  const DaemonConfig& config,
                                                  Durability& durability);

}  // namespace braid::node
