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
// - At most kMaxConnections connections at once: more are closed at accept.
//   A connection that sends no complete request within the server's header
//   timeout (15 s), or idles past its pipeline timeout (5 s), is closed.
// - close() or destruction stops accepting; destruction also ends every open
//   connection (and drops the requests in flight). Handlers still queued in
//   `io` then do nothing.
#pragma once

#include <kj/async.h>
#include <kj/compat/http.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "sched/result.h"

namespace braid::rpc {

class HttpListener final : private kj::TaskSet::ErrorHandler {
 public:
  static constexpr int kBacklog = 128;
  static constexpr std::size_t kMaxConnections = 256;

  static sched::Result<std::unique_ptr<HttpListener>> open(asio::io_context& io, kj::Timer& timer,
                                                           const kj::HttpHeaderTable& headers,
                                                           kj::HttpService& service,
                                                           const std::string& host,
                                                           std::uint16_t port);
  ~HttpListener() noexcept;
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  std::uint16_t port() const { return port_; }
  std::size_t connections() const { return connections_; }
  void close();

 private:
  HttpListener(asio::io_context& io, kj::Timer& timer, const kj::HttpHeaderTable& headers,
               kj::HttpService& service);
  void accept_next();
  void on_accepted(asio::ip::tcp::socket socket);
  void taskFailed(kj::Exception&& exception) override;

  asio::io_context& io_;
  kj::HttpServer server_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::size_t connections_ = 0;
  kj::TaskSet tasks_;
  std::shared_ptr<HttpListener*> anchor_;  // *anchor_ = nullptr once destroyed
};

}  // namespace braid::rpc
