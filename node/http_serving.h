// HttpServing: what braidd serves over HTTP (docs/api.md), built from its
// config: the API (HttpApi) on `http`, GET /metrics on `metrics` (the same
// listener when both name one address, else a second listener that serves
// only /metrics), and the kj::Timer their kj::HttpServers share. The two
// addresses are compared resolved ("localhost" is 127.0.0.1). On a loopback
// `http` without a token, only braidd's own user and root get the API (the
// peer's uid, rpc/tcp_peer_uid.h); other local users get GET /metrics only.
//
// Contract
// - start() binds at once. `http` at its default (not given) that cannot be
//   bound: one warning, no API, the rest goes on. An address given that
//   cannot be bound: an Error (braidd does not start).
// - Single-threaded, on the loop that owns `backend`, which must outlive it.
//   Destroy it before the backend and the AsioEventPort: that ends every
//   connection and request in flight.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "node/daemon_config.h"
#include "node/http_api.h"
#include "rpc/control_backend.h"
#include "rpc/http_listener.h"
#include "rpc/kj_timer.h"
#include "sched/result.h"

namespace braid::node {

class HttpServing final {
 public:
  static sched::Result<std::unique_ptr<HttpServing>> start(
      asio::io_context& io, rpc::ControlBackend& backend, const DaemonConfig& config,
      std::function<std::string()> metrics_text);
  ~HttpServing();

  // Stops accepting connections (shutdown); open ones finish their request.
  void close();
  // Bound ports; 0: not served.
  std::uint16_t http_port() const { return api_listener_ ? api_listener_->port() : 0; }
  std::uint16_t metrics_port() const;

 private:
  explicit HttpServing(asio::io_context& io) : timer_(io) {}

  rpc::AsioKjTimer timer_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<HttpApi> stranger_;  // other local users' view of a token-less loopback API
  std::unique_ptr<rpc::HttpListener> api_listener_;
  bool api_serves_metrics_ = false;
  std::unique_ptr<HttpApi> metrics_;
  std::unique_ptr<rpc::HttpListener> metrics_listener_;
};

}  // namespace braid::node
