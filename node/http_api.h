// HttpApi: braidd's HTTP/JSON API (docs/api.md) as a kj::HttpService, served
// by rpc::HttpListener on the daemon's loop. It calls the same
// rpc::ControlBackend as the control socket, speaks the CLI's JSON
// (node/cli_output.h) and takes task specs in the CLI's JSONL shape
// (node/spec_file.h), checked by the same limits as the control socket
// (rpc/convert.h).
//
// Endpoints: the original scheduler API's three (GET /kernel/scheduler/stats,
// PUT /kernel/scheduler/policy, POST /kernel/schedule-next), a /v1/ REST
// surface (tasks, stats, peers, drain) and GET /metrics, each only where the
// options enable it. Every answer but /metrics is JSON: {"success": true, ...}
// or {"success": false, "error": "<one line>"} with 400 (bad input), 401
// (token), 404 (path or task), 405 (method), 413 (body too big), 503 (the node
// is shutting down).
//
// Contract
// - Single-threaded, on the loop that owns the backend. `backend` must
//   outlive the service and every request in flight; destroying the
//   HttpListener that serves it drops those first.
// - Bad input never throws out of request(): it is a 4xx with one line.
// - GET, HEAD and DELETE never read a body: one sent with them is a 400 (and
//   the connection closes). A PUT/POST body must arrive within
//   body_timeout_ms: else 408 and the connection closes.
// - 403 (one line naming the rule): a foreign Origin or Host
//   (foreign_request()), or a stranger's request for more than GET /metrics.
// - With a token set, PUT, POST and DELETE need "Authorization: Bearer
//   <token>" (the scheme in any case, the token compared in constant time);
//   reads never do. A mutating method without it is 401 even where the path
//   does not allow that method (405 only once authorised).
#pragma once

#include <kj/async.h>
#include <kj/compat/http.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "rpc/control_backend.h"

namespace braid::node {

struct HttpApiOptions {
  bool api = true;       // /kernel/... and /v1/...
  bool metrics = false;  // GET /metrics
  // The Prometheus text exposition (GET /metrics), computed per scrape.
  std::function<std::string()> metrics_text;
  std::string token;  // non-empty: mutating requests need it as a bearer token
  std::size_t body_bytes_max = 8u << 20;
  // Serves a connection from another local user on a token-less loopback
  // listener (rpc::HttpListener's stranger_service): all but GET /metrics is 403.
  bool stranger = false;
  // The listener is bound to loopback: a Host header must name a loopback
  // address or localhost (DNS rebinding), else 403.
  bool loopback = false;
  // Bounds reading a PUT/POST body (null: unbounded, unit tests): 408 and close.
  kj::Timer* timer = nullptr;
  std::uint32_t body_timeout_ms = 10000;
};

// One answer, before it is written (what the unit tests look at).
struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Allow, ...)
  bool close = false;                                        // end the connection after this answer
};

// Why a request's Host/Origin pair is refused ("" when it is not): an Origin
// present that does not name `host` (a cross-site browser request), or on a
// loopback listener a Host that is not a loopback address or localhost (DNS
// rebinding). `host` "" (absent, HTTP/1.0) is accepted.
std::string foreign_request(std::string_view host, std::string_view origin, bool loopback);

// The length of `data` without an incomplete UTF-8 sequence at its end: a
// valid start of a character (lead C2..F4, its second byte in range) that
// more bytes could complete. Bytes no continuation can make valid are kept.
std::size_t utf8_complete_prefix(std::string_view data);

class HttpApi final : public kj::HttpService, public kj::HttpServerCallbacks {
 public:
  // The longest a /v1/tasks/ID/wait long poll may be asked to wait.
  static constexpr sched::Micros kWaitMaxUs = 600 * sched::kMicrosPerSecond;
  static constexpr sched::Micros kWaitDefaultUs = 30 * sched::kMicrosPerSecond;
  static constexpr std::uint32_t kLogBytesDefault = 64 * 1024;

  HttpApi(rpc::ControlBackend& backend, HttpApiOptions options);
  ~HttpApi();

  const kj::HttpHeaderTable& header_table() const { return *table_; }

  // kj::HttpServerCallbacks: asked as an answer starts; true after a request
  // with "Connection: close" or without Host (HTTP/1.0), and after answers
  // that leave a body unread (408, 413, a body on GET).
  bool shouldClose() override { return closing_; }

  // kj::HttpService: checks the route, the token and the body size before it
  // reads the body, then answers as handle() does.
  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                            Response& response) override;

  // The whole answer to one request whose body was read. `authorization` is
  // the Authorization header's value ("" when absent).
  kj::Promise<HttpReply> handle(kj::HttpMethod method, const std::string& url,
                                const std::string& authorization, std::string body);

 private:
  struct Route;
  // Resolves the path and method; a reply when the request ends here
  // (404, 405, 401), else the route.
  std::variant<Route, HttpReply> resolve(kj::HttpMethod method, const std::string& url,
                                         const std::string& authorization) const;
  kj::Promise<HttpReply> dispatch(const Route& route, std::string body);
  kj::Promise<HttpReply> submit(std::vector<sched::TaskSpec> specs);

  rpc::ControlBackend& backend_;
  HttpApiOptions options_;
  kj::Own<kj::HttpHeaderTable> table_;
  kj::HttpHeaderId authorization_;
  kj::HttpHeaderId allow_;
  kj::HttpHeaderId www_authenticate_;
  kj::HttpHeaderId origin_;
  bool closing_ = false;
};

// {"success": false, "error": message} with `status`.
HttpReply http_error(unsigned status, const std::string& message);

}  // namespace braid::node
