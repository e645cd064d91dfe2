#include "rpc/peer_transport.h"

#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <fcntl.h>
#include <kj/async.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <variant>

#include "rpc/fd_stream.h"
#include "rpc/migration_convert.h"
#include "rpc/peer.capnp.h"
#include "rpc/peer_auth.h"
#include "rpc/peer_convert.h"
#include "rpc/peer_endpoint.h"

namespace braid::rpc {

namespace {

using Clock = std::chrono::steady_clock;
using capnp::rpc::twoparty::VatId;

capnp::ReaderOptions peer_reader_options() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kPeerTraversalLimitWords;
  options.nestingLimit = kPeerNestingLimit;
  return options;
}

// A connected TCP socket's fd, as a stream on the loop; TCP_NODELAY, since
// gossip messages are small and Nagle would hold them back.
kj::Own<FdStream> stream_of(asio::io_context& io, asio::ip::tcp::socket& socket) {
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  const int fd = ::dup(socket.native_handle());
  socket.close(ec);
  if (fd < 0) KJ_FAIL_SYSCALL("dup", errno);
  return kj::heap<FdStream>(io, fd);
}

Nonce nonce_of(capnp::Data::Reader data) {
  Nonce nonce{};
  if (data.size() != nonce.size()) KJ_FAIL_REQUIRE("nonce of the wrong size", data.size());
  std::copy(data.begin(), data.end(), nonce.begin());
  return nonce;
}

Mac mac_of(capnp::Data::Reader data) {
  Mac mac{};
  if (data.size() != mac.size()) KJ_FAIL_REQUIRE("mac of the wrong size", data.size());
  std::copy(data.begin(), data.end(), mac.begin());
  return mac;
}

capnp::Data::Reader bytes(const auto& array) {
  return capnp::Data::Reader(array.data(), array.size());
}

class TaskErrors final : public kj::TaskSet::ErrorHandler {
 public:
  explicit TaskErrors(std::function<void(const kj::Exception&)> on_error)
      : on_error_(std::move(on_error)) {}
  void taskFailed(kj::Exception&& exception) override { on_error_(exception); }

 private:
  std::function<void(const kj::Exception&)> on_error_;
};

}  // namespace

// A question on its way (read_log, list_tasks): issued on the link once it
// is ready; answered once, by the answer, an error, or its deadline timer.
struct PendingQuery {
  explicit PendingQuery(asio::io_context& io) : timer(io) {}
  bool done = false;
  asio::steady_timer timer;
  // Sends the call and hands the answer to the caller (marks done).
  std::function<kj::Promise<void>(schema::Peer::Client&)> issue;
  std::function<void(std::string)> on_error;  // the caller's done, with an Error
  // At most once: the caller is told from a fresh handler.
  void fail(asio::io_context& io, std::string why) {
    if (done) return;
    done = true;
    timer.cancel();
    asio::post(io, [f = std::move(on_error), why = std::move(why)] { f(why); });
  }
};
using Queued =
    std::variant<gossip::Message, sched::MigrationMessage, std::shared_ptr<PendingQuery>>;

// One outgoing connection: resolve, connect, handshake, then deliver calls.
struct Link {
  enum class Phase { kConnecting, kHandshake, kReady };
  std::string address;
  Phase phase = Phase::kConnecting;
  Clock::time_point phase_began;
  Clock::time_point last_used;
  std::unique_ptr<asio::ip::tcp::resolver> resolver;
  std::unique_ptr<asio::ip::tcp::socket> socket;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<VatId>> rpc;
  kj::Maybe<schema::Peer::Client> peer;
  std::deque<Queued> queue;
  std::deque<Clock::time_point> calls;  // start of each call in flight
  bool failed = false;
  std::unique_ptr<TaskErrors> errors;
  kj::Own<kj::TaskSet> tasks;  // last: its promises go before the rest
};

// One accepted connection.
struct Incoming {
  Clock::time_point accepted_at;
  Clock::time_point last_used;
  bool authenticated = false;
  std::string proven_name;  // the name proven with the secret (none without one)
  bool closing = false;
  int gate_calls = 0;  // challenge and prove: one each
  // Token bucket of deliver calls (kDeliverBurst, refilled kDeliversPerSecond).
  double deliver_tokens = PeerTransport::kDeliverBurst;
  Clock::time_point tokens_at;
  // Questions have their own bucket (kQueryBurst, kQueriesPerSecond): past
  // it they are answered "busy", and the connection (gossip) stays.
  double query_tokens = PeerTransport::kQueryBurst;
  Clock::time_point query_tokens_at;
  // Since when our answers wait for the peer to read (it never reads: close).
  std::optional<Clock::time_point> write_blocked_since;
  FdStream* fd_stream = nullptr;  // = stream
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<VatId>> rpc;
  std::unique_ptr<TaskErrors> errors;
  kj::Own<kj::TaskSet> tasks;
};

struct PeerTransport::State : std::enable_shared_from_this<PeerTransport::State> {
  State(asio::io_context& io_in, PeerTransportConfig config_in, OnMessage on_message_in)
      : io(io_in),
        config(std::move(config_in)),
        on_message(std::move(on_message_in)),
        acceptor(io_in),
        sweep_timer(io_in),
        rng(config.faults.seed) {}

  asio::io_context& io;
  PeerTransportConfig config;
  OnMessage on_message;
  OnMigration on_migration;
  QueryHandlers query_handlers;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer sweep_timer;
  bool sweep_armed = false;
  std::mt19937_64 rng;
  PeerTransportStats stats;
  std::map<std::string, std::unique_ptr<Link>> links;
  std::map<std::string, Clock::time_point> retry_after;
  std::list<std::unique_ptr<Incoming>> incoming;
  Clock::time_point refusal_logged_at{};
  std::uint64_t refusals_unlogged = 0;
  bool closed = false;

  void listen();
  void accept_next();
  void on_accepted(asio::ip::tcp::socket socket);
  void close_incoming(Incoming* conn);
  void note_refusal(const std::string& name);

  void send(const std::string& address, Queued message);
  // A question: queued like a message, answered within `deadline`.
  void ask(const std::string& address, std::chrono::milliseconds deadline,
           std::shared_ptr<PendingQuery> query);
  void enqueue(const std::string& address, std::shared_ptr<PendingQuery> query);
  // Starts one call on the link and pumps the next when it is answered.
  template <typename Response>
  void call(Link* link, capnp::RemotePromise<Response> promise);
  Link* link_to(const std::string& address);
  bool make_room();
  void connect(Link* link);
  void handshake(Link* link);
  void pump(Link* link);
  void fail(Link* link, const std::string& why);
  void drop(const std::string& address);

  void arm_sweep();
  void sweep();
};

// The server side of a connection: a Gate until the peer proves the secret.
class PeerImpl final : public schema::Peer::Server {
 public:
  PeerImpl(std::weak_ptr<PeerTransport::State> state, Incoming* conn)
      : state_(std::move(state)), conn_(conn) {}

  kj::Promise<void> deliver(DeliverContext context) override {
    auto state = state_.lock();
    if (!state || state->closed || conn_->closing) return kj::READY_NOW;
    if (!take_token(*state)) {
      return KJ_EXCEPTION(FAILED, "too many messages: the connection is closed");
    }
    state->stats.bytes_received += context.getParams().totalSize().wordCount * 8;
    auto message = from_wire(context.getParams().getMessage());
    if (!message) {
      ++state->stats.invalid;
      context.getResults().setError(message.error().message);
      return kj::READY_NOW;
    }
    ++state->stats.received;
    state->on_message(std::move(message).value());
    return kj::READY_NOW;
  }

  kj::Promise<void> migrate(MigrateContext context) override {
    auto state = state_.lock();
    if (!state || state->closed || conn_->closing) return kj::READY_NOW;
    if (!take_token(*state)) {
      return KJ_EXCEPTION(FAILED, "too many messages: the connection is closed");
    }
    state->stats.migration_bytes_received += context.getParams().totalSize().wordCount * 8;
    auto message = from_wire(context.getParams().getMessage());
    if (!message) {
      ++state->stats.invalid;
      context.getResults().setError(message.error().message);
      return kj::READY_NOW;
    }
    if (!conn_->proven_name.empty() && message.value().from != conn_->proven_name) {
      ++state->stats.invalid;  // a migration message speaks for its sender only
      context.getResults().setError("from \"" + message.value().from +
                                    "\" is not the name this connection proved");
      return kj::READY_NOW;
    }
    ++state->stats.migration_received;
    if (state->on_migration) state->on_migration(std::move(message).value());
    return kj::READY_NOW;
  }

  kj::Promise<void> readLog(ReadLogContext context) override {
    return question(context, &PeerTransport::QueryHandlers::read_log, "log",
                    [](const auto& handler, const PeerLogRequest& request, auto results) {
                      PeerLogAnswer answer = handler(request);
                      if (answer.data.size() > request.max_bytes) {
                        answer.data.resize(request.max_bytes);
                      }
                      to_wire(answer, results);
                    });
  }

  kj::Promise<void> listTasks(ListTasksContext context) override {
    return question(context, &PeerTransport::QueryHandlers::list_tasks, "list",
                    [](const auto& handler, const PeerListRequest& request, auto results) {
                      fill_list_answer(handler(request), request.limit, results);
                    });
  }

 private:
  // One question (readLog, listTasks): the connection's question rate, the
  // request checked at the edge, then `answer` with the node's handler.
  template <typename Context, typename Handler, typename Answer>
  kj::Promise<void> question(Context& context, Handler PeerTransport::QueryHandlers::*handler,
                             std::string_view what, Answer&& answer) {
    auto state = state_.lock();
    if (!state || state->closed || conn_->closing) return kj::READY_NOW;
    auto results = context.getResults();
    if (!take_query_token(*state)) {
      results.setError(busy(*state));
      return kj::READY_NOW;
    }
    auto request = from_wire(context.getParams());
    if (!request) {
      ++state->stats.invalid;
      results.setError(request.error().message);
      return kj::READY_NOW;
    }
    if (!(state->query_handlers.*handler)) {
      results.setError("node " + state->config.name + " does not answer " + std::string(what) +
                       " questions");
      return kj::READY_NOW;
    }
    ++state->stats.queries_answered;
    answer(state->query_handlers.*handler, request.value(), results);
    return kj::READY_NOW;
  }

  // One call from the connection's token bucket (kDeliverBurst, refilled at
  // kDeliversPerSecond); a connection past it is closed as a flood.
  static std::string busy(const PeerTransport::State& state) {
    return "node " + state.config.name + " is busy: more than " +
           std::to_string(PeerTransport::kQueriesPerSecond) +
           " questions per second on this link; try again";
  }

  bool take_query_token(PeerTransport::State& state) {
    const auto now = Clock::now();
    if (conn_->query_tokens_at == Clock::time_point{}) conn_->query_tokens_at = now;
    const double refill = PeerTransport::kQueriesPerSecond *
                          std::chrono::duration<double>(now - conn_->query_tokens_at).count();
    conn_->query_tokens =
        std::min<double>(PeerTransport::kQueryBurst, conn_->query_tokens + refill);
    conn_->query_tokens_at = now;
    conn_->last_used = now;
    if (conn_->query_tokens < 1) {
      ++state.stats.queries_busy;
      return false;
    }
    conn_->query_tokens -= 1;
    return true;
  }

  bool take_token(PeerTransport::State& state) {
    const auto now = Clock::now();
    const double refill = PeerTransport::kDeliversPerSecond *
                          std::chrono::duration<double>(now - conn_->tokens_at).count();
    conn_->deliver_tokens =
        std::min<double>(PeerTransport::kDeliverBurst, conn_->deliver_tokens + refill);
    conn_->tokens_at = now;
    if (conn_->deliver_tokens < 1) {
      ++state.stats.flooded;
      state.close_incoming(conn_);
      return false;
    }
    conn_->deliver_tokens -= 1;
    conn_->last_used = now;
    return true;
  }

  std::weak_ptr<PeerTransport::State> state_;
  Incoming* conn_;
};

class GateImpl final : public schema::Gate::Server {
 public:
  GateImpl(std::weak_ptr<PeerTransport::State> state, Incoming* conn)
      : state_(std::move(state)), conn_(conn) {}

  kj::Promise<void> challenge(ChallengeContext context) override {
    auto state = state_.lock();
    if (!state || state->closed || conn_->closing) return kj::READY_NOW;
    // One challenge, then one proof: anything more is a peer that floods
    // (its unread answers would pile up in memory), and it is shut out.
    if (++conn_->gate_calls > 1 || conn_->authenticated) {
      state->note_refusal("(a second challenge)");
      state->close_incoming(conn_);
      return KJ_EXCEPTION(FAILED, "refused: one challenge per connection");
    }
    server_nonce_ = random_nonce();
    challenged_ = true;
    context.getResults().setServerNonce(bytes(*server_nonce_));
    return kj::READY_NOW;
  }

  kj::Promise<void> prove(ProveContext context) override {
    auto state = state_.lock();
    if (!state || state->closed || conn_->closing) return kj::READY_NOW;
    ++conn_->gate_calls;
    auto params = context.getParams();
    const std::string name(params.getName().cStr(),
                           std::min<std::size_t>(params.getName().size(), gossip::kNameMaxBytes));
    const bool shaped = challenged_ && params.getClientNonce().size() == kNonceBytes &&
                        params.getMac().size() == kMacBytes && !conn_->authenticated;
    bool proven = false;
    Nonce client_nonce{};
    if (shaped) {
      client_nonce = nonce_of(params.getClientNonce());
      proven = same_mac(mac_of(params.getMac()),
                        peer_mac(state->config.secret, MacSide::kClient, *server_nonce_,
                                 client_nonce, params.getName().cStr()));
    }
    challenged_ = false;  // one proof per challenge
    if (!proven) {
      state->note_refusal(name);
      state->close_incoming(conn_);
      return KJ_EXCEPTION(FAILED, "refused: no proof of the cluster secret");
    }
    conn_->authenticated = true;
    conn_->proven_name = name;
    auto results = context.getResults();
    results.setPeer(kj::heap<PeerImpl>(state_, conn_));
    results.setServerMac(bytes(peer_mac(state->config.secret, MacSide::kServer, *server_nonce_,
                                        client_nonce, params.getName().cStr())));
    return kj::READY_NOW;
  }

 private:
  std::weak_ptr<PeerTransport::State> state_;
  Incoming* conn_;
  std::optional<Nonce> server_nonce_;
  bool challenged_ = false;
};

void PeerTransport::State::listen() {
  auto endpoint = parse_endpoint(config.listen, /*allow_any_port=*/true);
  if (!endpoint) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            endpoint.error().message);
  }
  const std::string host =
      endpoint.value().host == "localhost" ? "127.0.0.1" : endpoint.value().host;
  std::error_code bad_host;
  const asio::ip::address ip = asio::ip::make_address(host, bad_host);
  if (bad_host) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "listen address " + config.listen + ": HOST must be an IP address");
  }
  asio::ip::tcp::endpoint ep(ip, endpoint.value().port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(128);
  ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
}

void PeerTransport::State::accept_next() {
  acceptor.async_accept([weak = weak_from_this()](std::error_code ec,
                                                  asio::ip::tcp::socket socket) {
    auto self = weak.lock();
    if (!self || self->closed || ec == asio::error::operation_aborted) return;
    if (!ec) self->on_accepted(std::move(socket));
    if (ec) {
      // EMFILE and the like: try again a little later, never stop accepting.
      auto timer = std::make_shared<asio::steady_timer>(self->io, std::chrono::milliseconds(100));
      timer->async_wait([weak, timer](const std::error_code&) {
        if (auto s = weak.lock(); s && !s->closed) s->accept_next();
      });
      return;
    }
    self->accept_next();
  });
}

void PeerTransport::State::on_accepted(asio::ip::tcp::socket socket) {
  if (incoming.size() >= kMaxIncoming) return;  // closed by socket's destructor
  auto conn = std::make_unique<Incoming>();
  Incoming* raw = conn.get();
  conn->accepted_at = conn->last_used = conn->tokens_at = Clock::now();
  auto stream = stream_of(io, socket);
  conn->fd_stream = stream.get();
  conn->stream = kj::mv(stream);
  conn->network = kj::heap<capnp::TwoPartyVatNetwork>(
      *conn->stream, capnp::rpc::twoparty::Side::SERVER, peer_reader_options());
  conn->rpc =
      kj::heap(capnp::makeRpcServer(*conn->network, kj::heap<GateImpl>(weak_from_this(), raw)));
  conn->errors = std::make_unique<TaskErrors>([](const kj::Exception&) {});
  conn->tasks = kj::heap<kj::TaskSet>(*conn->errors);
  conn->tasks->add(conn->network->onDisconnect().then([weak = weak_from_this(), raw] {
    if (auto self = weak.lock()) self->close_incoming(raw);
  }));
  incoming.push_back(std::move(conn));
  arm_sweep();
}

void PeerTransport::State::close_incoming(Incoming* conn) {
  if (conn->closing) return;
  conn->closing = true;
  // Destroyed from a fresh Asio handler: never inside its own KJ callbacks.
  asio::post(io, [weak = weak_from_this(), conn] {
    auto self = weak.lock();
    if (!self) return;
    self->incoming.remove_if(
        [conn](const std::unique_ptr<Incoming>& c) { return c.get() == conn; });
  });
}

void PeerTransport::State::note_refusal(const std::string& name) {
  ++stats.refused_auth;
  ++refusals_unlogged;
  const auto now = Clock::now();
  if (now - refusal_logged_at < kRefusalLogPeriod) return;
  spdlog::warn(
      "peer: refused {} connection(s) without the cluster secret (last claimed name \"{}\")",
      refusals_unlogged, name);
  refusals_unlogged = 0;
  refusal_logged_at = now;
}

void PeerTransport::State::ask(const std::string& address, std::chrono::milliseconds deadline,
                               std::shared_ptr<PendingQuery> query) {
  if (closed) return;
  ++stats.queries_sent;
  query->timer.expires_after(deadline);
  query->timer.async_wait(
      [weak = weak_from_this(), query, address, deadline](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->closed || query->done) return;
        ++self->stats.queries_failed;
        query->fail(self->io, "no answer from " + address + " within " +
                                  std::to_string(deadline.count()) + " ms");
      });
  const PeerFaults& faults = config.faults;
  if (faults.blocked.contains(address)) {
    ++stats.queries_failed;
    query->fail(io, address + " is blocked (injected fault)");
    return;
  }
  enqueue(address, std::move(query));
}

void PeerTransport::State::enqueue(const std::string& address,
                                   std::shared_ptr<PendingQuery> query) {
  if (closed || query->done) return;
  if (!links.contains(address)) {
    // The link failed moments ago: ask once its retry delay passed (the
    // query's own deadline still bounds the wait).
    if (auto it = retry_after.find(address); it != retry_after.end() && Clock::now() < it->second) {
      auto timer = std::make_shared<asio::steady_timer>(io, it->second);
      timer->async_wait([weak = weak_from_this(), address, query, timer](const std::error_code&) {
        if (auto self = weak.lock()) self->enqueue(address, query);
      });
      return;
    }
  }
  Link* link = link_to(address);
  if (link == nullptr || link->queue.size() >= kMaxQueuedPerLink) {
    ++stats.queries_failed;
    query->fail(io, link == nullptr ? "cannot reach " + address + " (no room for a link)"
                                    : "too many calls queued to " + address);
    return;
  }
  link->queue.push_back(std::move(query));
  link->last_used = Clock::now();
  pump(link);
}

void PeerTransport::State::send(const std::string& address, Queued message) {
  if (closed) return;
  const PeerFaults& faults = config.faults;
  if (faults.blocked.contains(address) ||
      (faults.drop_permille > 0 && static_cast<int>(rng() % 1000) < faults.drop_permille)) {
    ++stats.dropped;
    return;
  }
  Link* link = link_to(address);
  if (link == nullptr || link->queue.size() >= kMaxQueuedPerLink) {
    ++stats.dropped;
    return;
  }
  link->queue.push_back(std::move(message));
  link->last_used = Clock::now();
  pump(link);
}

Link* PeerTransport::State::link_to(const std::string& address) {
  if (auto it = links.find(address); it != links.end()) return it->second.get();
  if (auto it = retry_after.find(address); it != retry_after.end()) {
    if (Clock::now() < it->second) return nullptr;
    retry_after.erase(it);
  }
  if (links.size() >= kMaxLinks && !make_room()) return nullptr;
  auto link = std::make_unique<Link>();
  link->address = address;
  link->phase_began = link->last_used = Clock::now();
  link->errors =
      std::make_unique<TaskErrors>([weak = weak_from_this(), address](const kj::Exception& e) {
        auto self = weak.lock();
        if (!self) return;
        if (auto it = self->links.find(address); it != self->links.end()) {
          self->fail(it->second.get(), e.getDescription().cStr());
        }
      });
  link->tasks = kj::heap<kj::TaskSet>(*link->errors);
  Link* raw = link.get();
  links.emplace(address, std::move(link));
  stats.links = links.size();
  connect(raw);
  arm_sweep();
  return raw;
}

bool PeerTransport::State::make_room() {
  Link* oldest = nullptr;
  for (auto& [address, link] : links) {
    if (link->failed || link->phase != Link::Phase::kReady || !link->calls.empty() ||
        !link->queue.empty()) {
      continue;
    }
    if (oldest == nullptr || link->last_used < oldest->last_used) oldest = link.get();
  }
  if (oldest == nullptr) return false;
  ++stats.links_closed;
  drop(oldest->address);
  return true;
}

void PeerTransport::State::connect(Link* link) {
  auto endpoint = parse_endpoint(link->address);
  if (!endpoint) {
    fail(link, endpoint.error().message);
    return;
  }
  link->resolver = std::make_unique<asio::ip::tcp::resolver>(io);
  link->socket = std::make_unique<asio::ip::tcp::socket>(io);
  const std::string address = link->address;
  link->resolver->async_resolve(
      endpoint.value().host, std::to_string(endpoint.value().port),
      [weak = weak_from_this(), address](std::error_code ec,
                                         asio::ip::tcp::resolver::results_type results) {
        auto self = weak.lock();
        if (!self || ec == asio::error::operation_aborted) return;
        auto it = self->links.find(address);
        if (it == self->links.end()) return;
        Link* link = it->second.get();
        if (ec) {
          self->fail(link, "cannot resolve: " + ec.message());
          return;
        }
        asio::async_connect(*link->socket, results,
                            [weak, address](std::error_code ec2, const asio::ip::tcp::endpoint&) {
                              auto self = weak.lock();
                              if (!self || ec2 == asio::error::operation_aborted) return;
                              auto it = self->links.find(address);
                              if (it == self->links.end()) return;
                              if (ec2) {
                                self->fail(it->second.get(), "cannot connect: " + ec2.message());
                                return;
                              }
                              self->handshake(it->second.get());
                            });
      });
}

void PeerTransport::State::handshake(Link* link) {
  link->phase = Link::Phase::kHandshake;
  link->phase_began = Clock::now();
  link->stream = stream_of(io, *link->socket);
  link->network = kj::heap<capnp::TwoPartyVatNetwork>(
      *link->stream, capnp::rpc::twoparty::Side::CLIENT, peer_reader_options());
  link->rpc = kj::heap(capnp::makeRpcClient(*link->network));
  capnp::MallocMessageBuilder vat_message(8);
  auto vat = vat_message.initRoot<VatId>();
  vat.setSide(capnp::rpc::twoparty::Side::SERVER);
  auto gate = link->rpc->bootstrap(vat).castAs<schema::Gate>();
  const std::string address = link->address;
  auto weak = weak_from_this();
  link->tasks->add(gate.challengeRequest().send().then(
      [weak, address, gate](capnp::Response<schema::Gate::ChallengeResults> answer) mutable {
        auto self = weak.lock();
        if (!self) return kj::Promise<void>(kj::READY_NOW);
        const Nonce server_nonce = nonce_of(answer.getServerNonce());
        const Nonce client_nonce = random_nonce();
        auto req = gate.proveRequest();
        req.setClientNonce(bytes(client_nonce));
        req.setName(self->config.name);
        req.setMac(bytes(peer_mac(self->config.secret, MacSide::kClient, server_nonce, client_nonce,
                                  self->config.name)));
        return req.send().then([weak, address, server_nonce,
                                client_nonce](capnp::Response<schema::Gate::ProveResults> proof) {
          auto self = weak.lock();
          if (!self) return;
          auto it = self->links.find(address);
          if (it == self->links.end()) return;
          Link* link = it->second.get();
          const Mac expected = peer_mac(self->config.secret, MacSide::kServer, server_nonce,
                                        client_nonce, self->config.name);
          if (proof.getServerMac().size() != kMacBytes ||
              !same_mac(mac_of(proof.getServerMac()), expected)) {
            self->fail(link, "the peer did not prove the cluster secret");
            return;
          }
          link->peer = proof.getPeer();
          link->phase = Link::Phase::kReady;
          link->phase_began = Clock::now();
          self->pump(link);
        });
      }));
  link->tasks->add(link->network->onDisconnect().then([weak, address] {
    auto self = weak.lock();
    if (!self) return;
    if (auto it = self->links.find(address); it != self->links.end()) {
      self->fail(it->second.get(), "disconnected");
    }
  }));
}

void PeerTransport::State::pump(Link* link) {
  if (link->failed || link->phase != Link::Phase::kReady) return;
  KJ_IF_MAYBE (peer, link->peer) {
    while (!link->queue.empty() && link->calls.size() < kMaxInFlightPerLink) {
      if (auto* query = std::get_if<std::shared_ptr<PendingQuery>>(&link->queue.front())) {
        std::shared_ptr<PendingQuery> q = std::move(*query);
        link->queue.pop_front();
        if (q->done) continue;
        link->calls.push_back(Clock::now());
        link->last_used = Clock::now();
        auto finished = [weak = weak_from_this(), address = link->address] {
          auto self = weak.lock();
          if (!self) return;
          auto it = self->links.find(address);
          if (it == self->links.end()) return;
          if (!it->second->calls.empty()) it->second->calls.pop_front();
          self->pump(it->second.get());
        };
        link->tasks->add(
            q->issue(*peer).then([finished] { finished(); },
                                 [finished, q, weak = weak_from_this()](kj::Exception&& e) {
                                   if (auto self = weak.lock(); self && !q->done) {
                                     ++self->stats.queries_failed;
                                     q->fail(self->io, e.getDescription().cStr());
                                   }
                                   finished();
                                 }));
        continue;
      }
      if (const auto* gossip = std::get_if<gossip::Message>(&link->queue.front())) {
        auto req = peer->deliverRequest();
        to_wire(*gossip, req.initMessage());
        stats.bytes_sent += req.totalSize().wordCount * 8;
        call(link, req.send());
      } else {
        auto req = peer->migrateRequest();
        to_wire(std::get<sched::MigrationMessage>(link->queue.front()), req.initMessage());
        stats.migration_bytes_sent += req.totalSize().wordCount * 8;
        call(link, req.send());
      }
      link->queue.pop_front();
    }
  }
}

template <typename Response>
void PeerTransport::State::call(Link* link, capnp::RemotePromise<Response> promise) {
  link->calls.push_back(Clock::now());
  link->last_used = Clock::now();
  link->tasks->add(
      promise.then([weak = weak_from_this(), address = link->address](capnp::Response<Response>) {
        auto self = weak.lock();
        if (!self) return;
        auto it = self->links.find(address);
        if (it == self->links.end()) return;
        Link* link = it->second.get();
        if (!link->calls.empty()) link->calls.pop_front();
        ++self->stats.sent;
        self->pump(link);
      }));
}

void PeerTransport::State::fail(Link* link, const std::string& why) {
  if (link->failed) return;
  link->failed = true;
  spdlog::debug("peer link to {} closed: {}", link->address, why);
  if (link->phase != Link::Phase::kReady) ++stats.connect_failures;
  ++stats.links_closed;
  stats.dropped += link->queue.size() + link->calls.size();
  for (Queued& queued : link->queue) {  // questions in flight wait for their deadline
    if (auto* query = std::get_if<std::shared_ptr<PendingQuery>>(&queued)) {
      if (!(*query)->done) ++stats.queries_failed;
      (*query)->fail(io, "link to " + link->address + " failed: " + why);
    }
  }
  retry_after[link->address] = Clock::now() + config.link_retry_delay;
  drop(link->address);
}

void PeerTransport::State::drop(const std::string& address) {
  auto it = links.find(address);
  if (it == links.end()) return;
  it->second->failed = true;
  // Destroyed from a fresh Asio handler: never inside its own KJ callbacks.
  auto doomed = std::make_shared<std::unique_ptr<Link>>(std::move(it->second));
  links.erase(it);
  stats.links = links.size();
  if (auto& socket = (*doomed)->socket; socket) {
    std::error_code ec;
    socket->close(ec);
  }
  if ((*doomed)->resolver) (*doomed)->resolver->cancel();
  asio::post(io, [doomed] { doomed->reset(); });
}

void PeerTransport::State::arm_sweep() {
  if (sweep_armed || closed) return;
  sweep_armed = true;
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(10), std::min(config.call_deadline, config.idle_close) / 4);
  sweep_timer.expires_after(period);
  sweep_timer.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->sweep_armed = false;
    self->sweep();
  });
}

void PeerTransport::State::sweep() {
  const auto now = Clock::now();
  std::vector<Link*> late;
  std::vector<std::string> idle;
  for (auto& [address, link] : links) {
    if (link->failed) continue;
    if (link->phase != Link::Phase::kReady && now - link->phase_began > config.call_deadline) {
      late.push_back(link.get());
    } else if (!link->calls.empty() && now - link->calls.front() > config.call_deadline) {
      late.push_back(link.get());
    } else if (link->calls.empty() && link->queue.empty() &&
               now - link->last_used > config.idle_close) {
      idle.push_back(address);
    }
  }
  for (Link* link : late) fail(link, "no answer within the call deadline");
  for (const std::string& address : idle) {
    ++stats.links_closed;
    drop(address);
  }
  for (auto& conn : incoming) {
    const bool unproven =
        !conn->authenticated && now - conn->accepted_at > 2 * config.call_deadline;
    const bool unused = now - conn->last_used > 2 * config.idle_close;
    // A peer that does not read our answers for a call deadline.
    if (!conn->fd_stream->write_blocked()) {
      conn->write_blocked_since.reset();
    } else if (!conn->write_blocked_since) {
      conn->write_blocked_since = now;
    }
    const bool not_reading =
        conn->write_blocked_since && now - *conn->write_blocked_since > config.call_deadline;
    if (not_reading && !conn->closing) ++stats.flooded;
    if (unproven || unused || not_reading) close_incoming(conn.get());
  }
  // Forget retry delays that have passed.
  std::erase_if(retry_after, [&](const auto& entry) { return entry.second <= now; });
  if (!links.empty() || !incoming.empty() || !retry_after.empty()) arm_sweep();
}

PeerTransport::PeerTransport(asio::io_context& io, PeerTransportConfig config, OnMessage on_message)
    : state_(std::make_shared<State>(io, std::move(config), std::move(on_message))) {
  state_->listen();
  state_->accept_next();
}

PeerTransport::~PeerTransport() {
  state_->closed = true;
  std::error_code ec;
  state_->acceptor.close(ec);
  state_->sweep_timer.cancel();
  // KJ objects go now, while the event loop exists; handlers left in Asio
  // find the state gone.
  state_->links.clear();
  state_->incoming.clear();
}

void PeerTransport::send(const gossip::Outgoing& outgoing) {
  state_->send(outgoing.to_address, outgoing.message);
}

void PeerTransport::send(const std::string& address, sched::MigrationMessage message) {
  state_->send(address, std::move(message));
}

void PeerTransport::read_log(const std::string& address, PeerLogRequest request,
                             std::chrono::milliseconds deadline, OnLogAnswer done) {
  auto query = std::make_shared<PendingQuery>(state_->io);
  query->on_error = [done](std::string why) { done(sched::Error{std::move(why)}); };
  std::weak_ptr<State> weak = state_;
  PendingQuery* raw = query.get();  // the query owns issue: a raw pointer breaks the cycle
  query->issue = [request, done, raw, weak](schema::Peer::Client& peer) {
    auto req = peer.readLogRequest();
    to_wire(request, req);
    return req.send().then([request, done, raw,
                            weak](capnp::Response<schema::Peer::ReadLogResults> response) {
      auto self = weak.lock();
      if (!self || raw->done) return;
      auto answer = from_wire(response, request);
      if (!answer) {
        ++self->stats.invalid;
        ++self->stats.queries_failed;
        raw->fail(self->io, "invalid answer: " + answer.error().message);
        return;
      }
      raw->done = true;
      raw->timer.cancel();
      asio::post(self->io, [done, a = std::move(answer).value()]() mutable { done(std::move(a)); });
    });
  };
  state_->ask(address, deadline, std::move(query));
}

void PeerTransport::list_tasks(const std::string& address, PeerListRequest request,
                               std::chrono::milliseconds deadline, OnListAnswer done) {
  auto query = std::make_shared<PendingQuery>(state_->io);
  query->on_error = [done](std::string why) { done(sched::Error{std::move(why)}); };
  std::weak_ptr<State> weak = state_;
  PendingQuery* raw = query.get();
  query->issue = [request, done, raw, weak](schema::Peer::Client& peer) {
    auto req = peer.listTasksRequest();
    to_wire(request, req);
    return req.send().then([done, raw,
                            weak](capnp::Response<schema::Peer::ListTasksResults> response) {
      auto self = weak.lock();
      if (!self || raw->done) return;
      auto answer = from_wire(response);
      if (!answer) {
        ++self->stats.invalid;
        ++self->stats.queries_failed;
        raw->fail(self->io, "invalid answer: " + answer.error().message);
        return;
      }
      raw->done = true;
      raw->timer.cancel();
      asio::post(self->io, [done, a = std::move(answer).value()]() mutable { done(std::move(a)); });
    });
  };
  state_->ask(address, deadline, std::move(query));
}

void PeerTransport::set_query_handlers(QueryHandlers handlers) {
  state_->query_handlers = std::move(handlers);
}

void PeerTransport::set_on_migration(OnMigration on_migration) {
  state_->on_migration = std::move(on_migration);
}

std::uint16_t PeerTransport::port() const {
  std::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

PeerTransportStats PeerTransport::stats() const {
  PeerTransportStats s = state_->stats;
  s.links = state_->links.size();
  s.incoming = state_->incoming.size();
  return s;
}

void PeerTransport::set_faults(PeerFaults faults) {
  state_->config.faults = std::move(faults);
  state_->rng.seed(state_->config.faults.seed);
}

}  // namespace braid::rpc
