// UnixListener: accepts connections on a Unix stream socket with Asio and
// hands each one over as a kj::Own<kj::AsyncIoStream> (an FdStream), e.g.
//
//   capnp::TwoPartyServer server(kj::heap<NodeImpl>(...));
//   UnixListener listener(io, "/run/braid/node.sock");
//   listener.on_accept([&](kj::Own<kj::AsyncIoStream> s) { server.accept(kj::mv(s)); });
//
// Contract
// - Single-threaded: construct, use and destroy it on the thread that runs
//   `io` and owns the AsioEventPort (the callback creates KJ objects).
// - The constructor binds and listens at once (backlog 128): a stale socket
//   file left by a dead server is replaced, but a path where a server still
//   answers, or a path that is not a socket, is refused. The socket file gets
//   mode 0600 before listen(), so no other user can ever connect. Throws
//   std::system_error on failure.
// - Accepting starts with on_accept(). Accepted fds are non-blocking and
//   close-on-exec. Accept errors (EMFILE, ENFILE, ENOBUFS, ...) never stop
//   accepting: it retries after kRetryDelay. The next accept is armed before
//   the callback runs, so an exception from the callback (it propagates out of
//   io.run()) does not stop accepting either.
// - close() or destruction stops accepting, closes the socket and unlinks the
//   path if it is still this listener's socket file. Handlers still queued in
//   `io` then do nothing; `io` must outlive the listener.
#pragma once

#include <kj/async-io.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace braid::rpc {

class UnixListener {
 public:
  using AcceptCallback = std::function<void(kj::Own<kj::AsyncIoStream>)>;

  static constexpr int kBacklog = 128;
  static constexpr std::chrono::milliseconds kRetryDelay{100};

  UnixListener(asio::io_context& io, std::string path);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Sets (or replaces) the callback and starts accepting.
  void on_accept(AcceptCallback callback);

  // Stops accepting, closes the socket, unlinks the path. Idempotent.
  void close();

  const std::string& path() const;
  // Connections accepted / accept errors seen so far (for logs and tests).
  std::size_t accepted() const;
  std::size_t accept_errors() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace braid::rpc
