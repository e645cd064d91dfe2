#include "rpc/http_listener.h"

#include <fcntl.h>
#include <kj/debug.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <functional>

#include "rpc/fd_stream.h"
#include "rpc/tcp_peer_uid.h"

namespace braid::rpc {

sched::Result<std::unique_ptr<HttpListener>> HttpListener::open(
    asio::io_context& io, kj::Timer& timer, const kj::HttpHeaderTable& headers,
    kj::HttpService& service, const std::string& host, std::uint16_t port, Options options) {
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return sched::Error{address + ": HOST must be an IP address or localhost"};
  std::unique_ptr<HttpListener> listener(new HttpListener(io, timer, headers, service, options));
  const asio::ip::tcp::endpoint endpoint(ip, port);
  auto& acceptor = listener->acceptor_;
  if (!acceptor.open(endpoint.protocol(), ec)) {
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(kBacklog, ec);
  }
  if (ec) return sched::Error{"cannot listen on " + address + ": " + ec.message()};
  ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
  listener->port_ = acceptor.local_endpoint(ec).port();
  listener->accept_next();
  return listener;
}

namespace {

// kj-http 0.9.2 writes "Connection: close" when the callbacks' shouldClose()
// says so but then keeps the connection for the next request. This stream
// ends it: once its connection is marked closing, the next read (kj's wait
// for another request, or its discarding of an unread body, which follow the
// flush of the answer) sees end of stream, so kj ends the connection cleanly.
// A request kj had already buffered (pipelined after the closing one) needs
// no read: ConnectionService calls `end` for it instead of serving it.
class ClosingStream final : public kj::AsyncIoStream {
 public:
  ClosingStream(kj::Own<kj::AsyncIoStream> inner, std::function<void()> end)
      : end(std::move(end)), inner_(kj::mv(inner)) {}
  bool closing = false;
  std::function<void()> end;  // ends the connection (on the loop's next turn)

  kj::Promise<std::size_t> tryRead(void* buffer, std::size_t min_bytes,
                                   std::size_t max_bytes) override {
    if (closing) return std::size_t{0};
    return inner_->tryRead(buffer, min_bytes, max_bytes);
  }
  kj::Maybe<std::uint64_t> tryGetLength() override { return inner_->tryGetLength(); }
  kj::Promise<void> write(const void* buffer, std::size_t size) override {
    return inner_->write(buffer, size);
  }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    return inner_->write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override { return inner_->whenWriteDisconnected(); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void abortRead() override { inner_->abortRead(); }
  void getsockopt(int level, int option, void* value, kj::uint* length) override {
    inner_->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, kj::uint length) override {
    inner_->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override {
    inner_->getsockname(addr, length);
  }
  void getpeername(struct sockaddr* addr, kj::uint* length) override {
    inner_->getpeername(addr, length);
  }

 private:
  kj::Own<kj::AsyncIoStream> inner_;
};

// Marks its connection closing when the answer it starts is to close it.
class ClosingResponse final : public kj::HttpService::Response {
 public:
  ClosingResponse(kj::HttpService::Response& inner, kj::HttpServerCallbacks* callbacks,
                  ClosingStream& stream)
      : inner_(inner), callbacks_(callbacks), stream_(stream) {}
  kj::Own<kj::AsyncOutputStream> send(kj::uint status, kj::StringPtr status_text,
                                      const kj::HttpHeaders& headers,
                                      kj::Maybe<std::uint64_t> body_size) override {
    if (callbacks_ != nullptr && callbacks_->shouldClose()) stream_.closing = true;
    return inner_.send(status, status_text, headers, body_size);
  }
  kj::Own<kj::WebSocket> acceptWebSocket(const kj::HttpHeaders& headers) override {
    return inner_.acceptWebSocket(headers);
  }

 private:
  kj::HttpService::Response& inner_;
  kj::HttpServerCallbacks* callbacks_;
  ClosingStream& stream_;
};

// One connection's service: `inner`, with its answers watched by ClosingResponse.
class ConnectionService final : public kj::HttpService {
 public:
  ConnectionService(kj::HttpService& inner, kj::HttpServerCallbacks* callbacks,
                    ClosingStream& stream)
      : inner_(inner), callbacks_(callbacks), stream_(stream) {}
  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                            Response& response) override {
    if (stream_.closing) {
      // Pipelined after an answer that closed the connection: never served.
      stream_.end();
      return kj::NEVER_DONE;
    }
    auto watched = kj::heap<ClosingResponse>(response, callbacks_, stream_);
    auto done = inner_.request(method, url, headers, body, *watched);
    return done.attach(kj::mv(watched));
  }

 private:
  kj::HttpService& inner_;
  kj::HttpServerCallbacks* callbacks_;
  ClosingStream& stream_;
};

kj::HttpServer::HttpServiceFactory per_connection(kj::HttpService& service,
                                                  kj::HttpServerCallbacks* callbacks) {
  return [&service, callbacks](kj::AsyncIoStream& stream) -> kj::Own<kj::HttpService> {
    // Every stream HttpListener hands to its servers is a ClosingStream.
    return kj::heap<ConnectionService>(service, callbacks, static_cast<ClosingStream&>(stream));
  };
}

kj::HttpServerSettings settings_with(kj::HttpServerCallbacks* callbacks) {
  kj::HttpServerSettings settings;
  if (callbacks != nullptr) settings.callbacks = *callbacks;
  return settings;
}

}  // namespace

HttpListener::HttpListener(asio::io_context& io, kj::Timer& timer,
                           const kj::HttpHeaderTable& headers, kj::HttpService& service,
                           const Options& options)
    : io_(io),
      server_(timer, headers, per_connection(service, options.callbacks),
              settings_with(options.callbacks)),
      stranger_server_(options.stranger_service == nullptr
                           ? kj::Own<kj::HttpServer>()
                           : kj::heap<kj::HttpServer>(timer, headers,
                                                      per_connection(*options.stranger_service,
                                                                     options.stranger_callbacks),
                                                      settings_with(options.stranger_callbacks))),
      trusted_peer_(options.trusted_peer),
      max_connections_(std::max<std::size_t>(options.max_connections, 1)),
      acceptor_(io),
      tasks_(*this),
      anchor_(std::make_shared<HttpListener*>(this)) {}

HttpListener::~HttpListener() noexcept {
  *anchor_ = nullptr;
  close();
}

void HttpListener::close() {
  std::error_code ec;
  acceptor_.close(ec);
}

void HttpListener::accept_next() {
  acceptor_.async_accept([anchor = anchor_](std::error_code ec, asio::ip::tcp::socket socket) {
    HttpListener* self = *anchor;
    if (self == nullptr || ec == asio::error::operation_aborted || !self->acceptor_.is_open()) {
      return;
    }
    if (ec) {
      // EMFILE and the like: try again a little later, never stop accepting.
      auto retry = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds(100));
      retry->async_wait([anchor, retry](const std::error_code&) {
        if (HttpListener* s = *anchor; s != nullptr && s->acceptor_.is_open()) s->accept_next();
      });
      return;
    }
    self->accept_next();  // armed first: a throw below must not stop accepting
    self->on_accepted(std::move(socket));
  });
}

void HttpListener::on_accepted(asio::ip::tcp::socket socket) {
  std::error_code ec;
  kj::HttpServer* server = &server_;
  bool trusted = true;
  if (stranger_server_) {
    const auto peer = socket.remote_endpoint(ec);
    const auto ours = ec ? asio::ip::tcp::endpoint() : socket.local_endpoint(ec);
    if (ec) {
      trusted = false;
    } else if (trusted_peer_) {
      trusted = trusted_peer_(peer, ours);
    } else {
      const std::optional<std::uint32_t> uid = peer_uid(peer, ours);
      trusted = uid && (*uid == 0 || *uid == static_cast<std::uint32_t>(::geteuid()));
    }
    if (!trusted) server = stranger_server_.get();
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  if (connections_.size() >= max_connections_) {
    // Full: the oldest stranger makes room, else (for a trusted peer only)
    // the oldest connection; a stranger never ends a trusted connection.
    auto victim = std::find_if(connections_.begin(), connections_.end(),
                               [](const auto& c) { return !c.second.trusted; });
    if (victim == connections_.end()) {
      if (!trusted) return;  // refused: `socket` closes
      victim = connections_.begin();
    }
    end_connection(victim->first);
  }
  const int fd = ::dup(socket.native_handle());  // FdStream owns its fd; the socket closes its own
  socket.close(ec);
  if (fd < 0) {
    spdlog::warn("http: accept: dup failed: {}", std::strerror(errno));
    return;
  }
  const std::uint64_t id = next_connection_++;
  auto end = [anchor = anchor_, id] {
    if (HttpListener* self = *anchor; self != nullptr) self->end_connection(id);
  };
  kj::Own<kj::AsyncIoStream> stream = kj::heap<ClosingStream>(kj::heap<FdStream>(io_, fd), end);
  auto evicted = kj::newPromiseAndFulfiller<void>();
  connections_.emplace(id, Connection{kj::mv(evicted.fulfiller), trusted});
  tasks_.add(server->listenHttp(kj::mv(stream))
                 .exclusiveJoin(kj::mv(evicted.promise))
                 .attach(kj::defer([this, id] { connections_.erase(id); })));
}

void HttpListener::end_connection(std::uint64_t id) {
  // Its promise ends on the next turn; it no longer counts from now.
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  it->second.end->fulfill();
  connections_.erase(it);
}

void HttpListener::taskFailed(kj::Exception&& exception) {
  // A client that vanished or sent garbage: its connection is gone, nothing else.
  spdlog::debug("http: connection ended: {}", exception.getDescription().cStr());
}

}  // namespace braid::rpc
