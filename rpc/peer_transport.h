// PeerTransport: gossip messages between braidd nodes, over Cap'n Proto RPC
// on TCP (rpc/peer.capnp), on the daemon's one loop (Asio + AsioEventPort).
//
// Contract
// - Single-threaded: construct, use and destroy it on the loop's thread.
// - listen: binds `config.listen` ("HOST:PORT"; port 0 picks one: port())
//   at construction; throws std::system_error if it cannot.
// - send() never blocks and never throws: it queues the message on the
//   link to its address (connecting, and authenticating, first if needed).
//   Gossip tolerates loss, so anything that cannot go promptly is dropped
//   and counted, never buffered without bound:
//     - at most kMaxLinks outgoing links (the least recently used idle one
//       is closed to make room; with none idle, the message is dropped);
//     - at most kMaxQueuedPerLink messages wait per link (connecting or
//       busy), at most kMaxInFlightPerLink calls are outstanding;
//     - a connect, the handshake, or any call that takes longer than
//       call_deadline closes the link (its queue is dropped); the next send
//       to that address after link_retry_delay connects afresh;
//     - a link unused for idle_close is closed.
// - Incoming: at most kMaxIncoming connections (more are closed at once).
//   With a secret, a connection gets only a Gate until the peer proves the
//   secret (HMAC challenge-response, rpc/peer_auth.h); a wrong proof is
//   refused, logged (at most once per kRefusalLogPeriod, with a count) and
//   the connection closed. Every delivered message is converted and
//   validated (rpc/peer_convert.h) before on_message sees it; a bad one is
//   answered with its error and counted, and the connection stays.
//   Reader limits (kPeerTraversalLimitWords) bound each message's memory.
// - Fault injection (tests: no netem here): faults.drop_permille of sent
//   messages are dropped before they leave; messages to a blocked address
//   are dropped (a partition, one-way if only one side blocks).
// - Questions (read_log, list_tasks: rpc/peer_query.h) ride the same links
//   and queues, with their own deadline: `done` runs exactly once, from a
//   fresh handler on the loop (never inside the call), with the checked
//   answer or an Error (cannot connect, queue full, blocked by faults, no
//   answer within the deadline, an invalid answer). Incoming questions are
//   answered by the handlers of set_query_handlers(), at most kQueryBurst
//   then kQueriesPerSecond per connection; past that each is answered with
//   a "busy" error (the connection, which carries gossip too, stays).
//   A question to an address whose link failed moments ago waits for the
//   link's retry delay (within its deadline) instead of failing at once.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "gossip/message.h"
#include "rpc/peer_query.h"
#include "sched/migration_message.h"

namespace braid::rpc {

struct PeerFaults {
  int drop_permille = 0;          // 0..1000 of sent messages dropped
  std::set<std::string> blocked;  // addresses nothing is sent to
  std::uint64_t seed = 1;         // for the drops
};

struct PeerTransportConfig {
  std::string listen;  // "HOST:PORT"; PORT 0: any free port
  std::string name;    // our node name, proven in the handshake
  std::string secret;  // empty: no authentication (loopback or --insecure)
  std::chrono::milliseconds call_deadline{1000};
  std::chrono::milliseconds idle_close{60'000};
  std::chrono::milliseconds link_retry_delay{200};
  PeerFaults faults;
};

struct PeerTransportStats {
  std::uint64_t sent = 0;              // messages delivered to a peer (its answer came)
  std::uint64_t received = 0;          // valid messages handed to on_message
  std::uint64_t dropped = 0;           // could not be sent (queue full, link failed, faults)
  std::uint64_t flooded = 0;           // connections closed: too many calls, or answers unread
  std::uint64_t refused_auth = 0;      // incoming handshakes without the secret
  std::uint64_t invalid = 0;           // incoming messages that failed validation
  std::uint64_t connect_failures = 0;  // links that failed to connect or authenticate
  std::uint64_t links_closed = 0;      // by deadline, idle or failure
  std::uint64_t bytes_sent = 0;        // gossip messages as encoded (Cap'n Proto words x 8)
  std::uint64_t bytes_received = 0;
  std::uint64_t migration_received = 0;  // valid migration messages handed to on_migration
  std::uint64_t migration_bytes_sent = 0;
  std::uint64_t migration_bytes_received = 0;
  std::uint64_t queries_sent = 0;      // questions asked (read_log, list_tasks)
  std::uint64_t queries_failed = 0;    // of them: no valid answer within the deadline
  std::uint64_t queries_answered = 0;  // questions from peers answered
  std::uint64_t queries_busy = 0;      // questions from peers refused: over their rate
  std::size_t links = 0;               // outgoing, now
  std::size_t incoming = 0;            // connections, now
};

class PeerTransport {
 public:
  using OnMessage = std::function<void(gossip::Message)>;
  using OnMigration = std::function<void(sched::MigrationMessage)>;

  static constexpr std::size_t kMaxLinks = 64;
  static constexpr std::size_t kMaxQueuedPerLink = 32;
  static constexpr std::size_t kMaxInFlightPerLink = 8;
  static constexpr std::size_t kMaxIncoming = 256;
  static constexpr std::chrono::seconds kRefusalLogPeriod{10};
  // Deliver calls per incoming connection: a burst, then a rate. Gossip
  // sends a peer a few messages per probe interval; a connection above this
  // (or one that stops reading our answers for a call deadline) is closed.
  static constexpr int kDeliverBurst = 256;
  static constexpr int kDeliversPerSecond = 256;
  // Questions per incoming connection (their own bucket): past it, each is
  // answered "busy" and the connection stays.
  static constexpr int kQueryBurst = 256;
  static constexpr int kQueriesPerSecond = 256;

  PeerTransport(asio::io_context& io, PeerTransportConfig config, OnMessage on_message);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  void send(const gossip::Outgoing& outgoing);
  // A migration message: the same links, bounds, deadlines and faults as
  // gossip (the handoff state machines retry what is lost).
  void send(const std::string& address, sched::MigrationMessage message);
  // Where valid incoming migration messages go (none: they are dropped).
  void set_on_migration(OnMigration on_migration);
  // Questions (see above).
  using OnLogAnswer = std::function<void(sched::Result<PeerLogAnswer>)>;
  using OnListAnswer = std::function<void(sched::Result<PeerListAnswer>)>;
  void read_log(const std::string& address, PeerLogRequest request,
                std::chrono::milliseconds deadline, OnLogAnswer done);
  void list_tasks(const std::string& address, PeerListRequest request,
                  std::chrono::milliseconds deadline, OnListAnswer done);
  // How this node answers questions (unset: an error answer).
  struct QueryHandlers {
    std::function<PeerLogAnswer(const PeerLogRequest&)> read_log;
    std::function<PeerListAnswer(const PeerListRequest&)> list_tasks;
  };
  void set_query_handlers(QueryHandlers handlers);
  std::uint16_t port() const;  // the bound port
  PeerTransportStats stats() const;
  // Tests: change the injected faults while running.
  void set_faults(PeerFaults faults);

  struct State;  // the implementation's (public so its RPC servers can name it)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace braid::rpc
