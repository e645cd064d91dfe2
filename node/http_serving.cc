#include "node/http_serving.h"

#include <spdlog/spdlog.h>

#include "rpc/peer_endpoint.h"

namespace braid::node {
namespace {

std::string shown(const rpc::Endpoint& e, std::uint16_t port) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(port);
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
  const bool shared = http && metrics && http->host == metrics->host && http->port == metrics->port;

  if (http) {
    HttpApiOptions options;
    options.api = true;
    options.metrics = shared;
    options.metrics_text = metrics_text;
    options.token = config.api_token;
    serving->api_ = std::make_unique<HttpApi>(backend, std::move(options));
    auto opened = rpc::HttpListener::open(io, serving->timer_, serving->api_->header_table(),
                                          *serving->api_, http->host, http->port);
    if (opened) {
      serving->api_listener_ = std::move(opened).value();
      serving->api_serves_metrics_ = shared;
      spdlog::info("http: API on {}{}{}", shown(*http, serving->api_listener_->port()),
                   shared ? " (and /metrics)" : "",
                   config.api_token.empty() ? "" : ", mutating requests need the token");
    } else if (config.http_given || shared) {
      return sched::Error{"--http: " + opened.error().message};
    } else {
      spdlog::warn("http: {} (the default --http); this node runs without the HTTP API",
                   opened.error().message);
      serving->api_.reset();
    }
  }
  if (metrics && !shared) {
    HttpApiOptions options;
    options.api = false;
    options.metrics = true;
    options.metrics_text = std::move(metrics_text);
    serving->metrics_ = std::make_unique<HttpApi>(backend, std::move(options));
    auto opened = rpc::HttpListener::open(io, serving->timer_, serving->metrics_->header_table(),
                                          *serving->metrics_, metrics->host, metrics->port);
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
