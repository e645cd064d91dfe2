#include "rpc/http_listener.h"

#include <fcntl.h>
#include <kj/debug.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <chrono>

#include "rpc/fd_stream.h"

namespace braid::rpc {

sched::Result<std::unique_ptr<HttpListener>> HttpListener::open(
    asio::io_context& io, kj::Timer& timer, const kj::HttpHeaderTable& headers,
    kj::HttpService& service, const std::string& host, std::uint16_t port) {
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return sched::Error{address + ": HOST must be an IP address or localhost"};
  std::unique_ptr<HttpListener> listener(new HttpListener(io, timer, headers, service));
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

HttpListener::HttpListener(asio::io_context& io, kj::Timer& timer,
                           const kj::HttpHeaderTable& headers, kj::HttpService& service)
    : io_(io),
      server_(timer, headers, service),
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
  if (connections_ >= kMaxConnections) return;  // closed by the socket's destructor
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  const int fd = ::dup(socket.native_handle());  // FdStream owns its fd; the socket closes its own
  socket.close(ec);
  if (fd < 0) {
    spdlog::warn("http: accept: dup failed: {}", std::strerror(errno));
    return;
  }
  kj::Own<kj::AsyncIoStream> stream = kj::heap<FdStream>(io_, fd);
  ++connections_;
  tasks_.add(server_.listenHttp(kj::mv(stream)).attach(kj::defer([this] { --connections_; })));
}

void HttpListener::taskFailed(kj::Exception&& exception) {
  // A client that vanished or sent garbage: its connection is gone, nothing else.
  spdlog::debug("http: connection ended: {}", exception.getDescription().cStr());
}

}  // namespace braid::rpc
