// HttpListener: serves HTTP/1.1 on a TCP address with Cap'n Proto's kj-http
// (kj::HttpServer) on braidd's one Asio loop. Asio accepts; each connection
// becomes an FdStream handed to HttpServer::listenHttp(), which parses the
// requests and calls `service`. No HTTP is parsed here.
//
// Contract
// - Single-threaded: construct, use and destroy it on the thread that runs
//   `io` and owns the AsioEventPort. `timer`, `headers` and `service` must
//   outlive it.
// - open() binds and listens at once (backlog 128, SO_REUSEADDR,
//   close-on-exec) or returns one line naming the address and the reason.
//   HOST must be an IP address or "localhost"; port 0 picks a free port
//   (port() says which).
// - At most `max_connections` (kMaxConnections) connections at once. When
//   full, a new TRUSTED connection (see below) closes the oldest stranger's
//   connection if there is one, else the oldest connection (and drops its
//   request in flight), so stalled or abandoned connections cannot keep new
//   clients out for good; a new STRANGER's connection closes the oldest
//   stranger's, and is itself closed at once when every open one is trusted:
//   strangers never end a trusted peer's connection.
//   A connection that sends no complete request within the server's header
//   timeout (15 s), or idles past its pipeline timeout (5 s), is closed.
// - close() or destruction stops accepting; destruction also ends every open
//   connection (and drops the requests in flight). Handlers still queued in
//   `io` then do nothing.
// - With `stranger_service` set, each connection's peer is looked up at
//   accept (rpc/tcp_peer_uid.h): a peer running as braidd's own uid or root
//   is served by `service`, any other (or one not found) by
//   `stranger_service`. Without it every connection gets `service` and
//   counts as trusted. `trusted_peer` (tests) replaces the uid lookup.
// - `callbacks` / `stranger_callbacks` (may be null) become the servers'
//   HttpServerCallbacks: when shouldClose() is true as an answer starts, it
//   carries "Connection: close" and its connection ends once it is sent:
//   a request pipelined after it (already read) is not served.
#pragma once

#include <kj/async.h>
#include <kj/compat/http.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "sched/result.h"

namespace braid::rpc {

inline constexpr std::size_t kHttpMaxConnections = 256;

struct HttpListenerOptions {
  kj::HttpServerCallbacks* callbacks = nullptr;
  kj::HttpService* stranger_service = nullptr;
  kj::HttpServerCallbacks* stranger_callbacks = nullptr;
  std::size_t max_connections = kHttpMaxConnections;
  // Whether a peer is trusted (gets `service`); null: its uid is braidd's or root's.
  std::function<bool(const asio::ip::tcp::endpoint& peer, const asio::ip::tcp::endpoint& ours)>
      trusted_peer;
};

class HttpListener final : private kj::TaskSet::ErrorHandler {
 public:
  static constexpr int kBacklog = 128;
  static constexpr std::size_t kMaxConnections = kHttpMaxConnections;

  using Options = HttpListenerOptions;

  static sched::Result<std::unique_ptr<HttpListener>> open(
      asio::io_context& io, kj::Timer& timer, const kj::HttpHeaderTable& headers,
      kj::HttpService& service, const std::string& host, std::uint16_t port, Options options = {});
  ~HttpListener() noexcept;
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  std::uint16_t port() const { return port_; }
  std::size_t connections() const { return connections_.size(); }
  void close();

 private:
  HttpListener(asio::io_context& io, kj::Timer& timer, const kj::HttpHeaderTable& headers,
               kj::HttpService& service, const Options& options);
  void accept_next();
  void on_accepted(asio::ip::tcp::socket socket);
  void taskFailed(kj::Exception&& exception) override;
  void end_connection(std::uint64_t id);

  struct Connection {
    kj::Own<kj::PromiseFulfiller<void>> end;  // fulfilling it ends the connection
    bool trusted = true;
  };

  asio::io_context& io_;
  kj::HttpServer server_;
  kj::Own<kj::HttpServer> stranger_server_;  // null: every peer gets server_
  std::function<bool(const asio::ip::tcp::endpoint&, const asio::ip::tcp::endpoint&)> trusted_peer_;
  std::size_t max_connections_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  // Open connections, oldest first.
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_connection_ = 0;
  kj::TaskSet tasks_;                      // after what its tasks' cleanup touches
  std::shared_ptr<HttpListener*> anchor_;  // *anchor_ = nullptr once destroyed
};

}  // namespace braid::rpc
