#include "node/http_serving.h"

#include <spdlog/spdlog.h>

#include "rpc/peer_endpoint.h"

namespace braid::node {
namespace {

std::string shown(const rpc::Endpoint& e, std::uint16_t port) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(port);
}

// The address a host names ("localhost" is 127.0.0.1), to compare endpoints.
std::string resolved(const std::string& host) {
  std::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  return ec ? host : address.to_string();
}

}  // namespace

sched::Result<std::unique_ptr<HttpServing>> HttpServing::start(
    asio::io_context& io, rpc::ControlBackend& backend, const DaemonConfig& config,
    std::function<std::string()> metrics_text) {
  std::unique_ptr<HttpServing> serving(new HttpServing(io));
  std::optional<rpc::Endpoint> http;
  std::optional<rpc::Endpoint> metrics;
  if (config.http != "off") {
    auto parsed = rpc::parse_endpoint(config.http, /*allow_any_port=*/true);
    if (!parsed) return sched::Error{"--http: " + parsed.error().message};
    http = parsed.value();
  }
  if (config.metrics != "off") {
    auto parsed = rpc::parse_endpoint(config.metrics, /*allow_any_port=*/true);
    if (!parsed) return sched::Error{"--metrics: " + parsed.error().message};
    metrics = parsed.value();
  }
  const bool shared = http && metrics && resolved(http->host) == resolved(metrics->host) &&
                      http->port == metrics->port;

  if (http) {
    HttpApiOptions options;
    options.api = true;
    options.metrics = shared;
    options.metrics_text = metrics_text;
    options.token = config.api_token;
    options.loopback = rpc::is_loopback(*http);
    options.timer = &serving->timer_;
    rpc::HttpListener::Options listener_options;
    if (options.loopback && options.token.empty()) {
      // No token: only braidd's user and root get the API; others /metrics.
      HttpApiOptions stranger = options;
      stranger.stranger = true;
      serving->stranger_ = std::make_unique<HttpApi>(backend, std::move(stranger));
      listener_options.stranger_service = serving->stranger_.get();
      listener_options.stranger_callbacks = serving->stranger_.get();
    }
    serving->api_ = std::make_unique<HttpApi>(backend, std::move(options));
    listener_options.callbacks = serving->api_.get();
    auto opened = rpc::HttpListener::open(io, serving->timer_, serving->api_->header_table(),
                                          *serving->api_, http->host, http->port, listener_options);
    if (opened) {
      serving->api_listener_ = std::move(opened).value();
      serving->api_serves_metrics_ = shared;
      spdlog::info("http: API on {}{}{}", shown(*http, serving->api_listener_->port()),
                   shared ? " (and /metrics)" : "",
                   !config.api_token.empty() ? ", mutating requests need the token"
                   : serving->stranger_      ? ", for this user and root only"
                                             : "");
    } else if (config.http_given || shared) {
      // Shared with the default --http: the address the operator gave is --metrics'.
      const char* flag = config.http_given ? "--http" : "--metrics (the same address as --http)";
      return sched::Error{std::string(flag) + ": " + opened.error().message};
    } else {
      spdlog::warn("http: {} (the default --http); this node runs without the HTTP API",
                   opened.error().message);
      serving->api_.reset();
      serving->stranger_.reset();
    }
  }
  if (metrics && !shared) {
    HttpApiOptions options;
    options.api = false;
    options.metrics = true;
    options.metrics_text = std::move(metrics_text);
    options.loopback = rpc::is_loopback(*metrics);
    options.timer = &serving->timer_;
    serving->metrics_ = std::make_unique<HttpApi>(backend, std::move(options));
    rpc::HttpListener::Options listener_options;
    listener_options.callbacks = serving->metrics_.get();
    auto opened =
        rpc::HttpListener::open(io, serving->timer_, serving->metrics_->header_table(),
                                *serving->metrics_, metrics->host, metrics->port, listener_options);
    if (!opened) return sched::Error{"--metrics: " + opened.error().message};
    serving->metrics_listener_ = std::move(opened).value();
    spdlog::info("http: /metrics on {}", shown(*metrics, serving->metrics_listener_->port()));
  }
  return serving;
}

HttpServing::~HttpServing() {
  // Listeners (their connections and requests) before the services they call.
  metrics_listener_.reset();
  api_listener_.reset();
}

void HttpServing::close() {
  if (api_listener_) api_listener_->close();
  if (metrics_listener_) metrics_listener_->close();
}

std::uint16_t HttpServing::metrics_port() const {
  if (metrics_listener_) return metrics_listener_->port();
  return api_serves_metrics_ && api_listener_ ? api_listener_->port() : 0;
}

}  // namespace braid::node
