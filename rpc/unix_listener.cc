#include "rpc/unix_listener.h"

#include <fcntl.h>
#include <kj/exception.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio/error.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "rpc/fd_stream.h"

namespace braid::rpc {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Removes a socket file left by a server that is gone. Refuses a live one
// (it accepts a probe connection or its backlog is full) and non-sockets.
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno(errno, "stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) throw_errno(EEXIST, path + " exists and is not a socket");

  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw_errno(ENAMETOOLONG, path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) throw_errno(errno, "socket");
  int rc = ::connect(probe, reinterpret_cast<const struct sockaddr*>(&addr), sizeof(addr));
  int err = rc == 0 ? 0 : errno;
  ::close(probe);
  if (rc == 0 || err == EAGAIN) throw_errno(EADDRINUSE, "a server is listening on " + path);
  if (err != ECONNREFUSED && err != ENOENT) throw_errno(err, "probing " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno(errno, "unlink " + path);
}

void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) throw_errno(errno, "fcntl");
}

// Errors worth an immediate retry; anything else (EMFILE, ENFILE, ENOBUFS,
// ENOMEM, ...) waits kRetryDelay, or a full fd table would make us spin.
bool transient(const std::error_code& ec) {
  return ec == asio::error::connection_aborted || ec == asio::error::interrupted ||
         ec.value() == EPROTO;
}

}  // namespace

struct UnixListener::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, std::string path)
      : io(io), acceptor(io), retry(io), path(std::move(path)) {}

  void open();
  void start_accept();
  void on_accepted(const std::error_code& ec, asio::local::stream_protocol::socket socket);
  void close();

  asio::io_context& io;
  asio::local::stream_protocol::acceptor acceptor;
  asio::steady_timer retry;
  std::string path;
  AcceptCallback callback;
  dev_t dev = 0;  // identity of our socket file, so close() never unlinks a successor's
  ino_t ino = 0;
  bool pending = false;  // an accept or a retry timer is outstanding
  bool closed = false;
  std::size_t accepted = 0;
  std::size_t errors = 0;
};

void UnixListener::State::open() {
  remove_stale_socket(path);
  asio::local::stream_protocol::endpoint endpoint(path);  // throws if the path is too long
  acceptor.open(endpoint.protocol());
  set_cloexec(acceptor.native_handle());
  acceptor.bind(endpoint);
  try {
    // Before listen(): until then connect() is refused, so nobody slips in
    // while the file still has the umask's mode.
    if (::chmod(path.c_str(), 0600) != 0) throw_errno(errno, "chmod " + path);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw_errno(errno, "stat " + path);
    dev = st.st_dev;
    ino = st.st_ino;
    acceptor.listen(kBacklog);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

void UnixListener::State::start_accept() {
  if (closed || pending) return;
  pending = true;
  acceptor.async_accept([weak = weak_from_this()](const std::error_code& ec,
                                                  asio::local::stream_protocol::socket socket) {
    if (auto self = weak.lock()) self->on_accepted(ec, std::move(socket));
  });
}

void UnixListener::State::on_accepted(const std::error_code& ec,
                                      asio::local::stream_protocol::socket socket) {
  pending = false;
  if (closed) return;
  if (ec) {
    ++errors;
    if (ec == asio::error::operation_aborted) return;
    if (transient(ec)) {
      start_accept();
      return;
    }
    pending = true;
    retry.expires_after(kRetryDelay);
    retry.async_wait([weak = weak_from_this()](const std::error_code& timer_ec) {
      auto self = weak.lock();
      if (!self) return;
      self->pending = false;
      if (!timer_ec) self->start_accept();
    });
    return;
  }
  ++accepted;
  std::error_code release_ec;
  int fd = socket.release(release_ec);
  // Keeps the State alive even if the callback destroys the listener.
  auto keep = shared_from_this();
  start_accept();
  if (release_ec) return;
  kj::Own<kj::AsyncIoStream> stream;
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] { stream = kj::heap<FdStream>(io, fd); })) {
    ++errors;  // FdStream closed the fd
    return;
  }
  if (callback) callback(kj::mv(stream));
}

void UnixListener::State::close() {
  if (closed) return;
  closed = true;
  std::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
    ::unlink(path.c_str());
  }
}

UnixListener::UnixListener(asio::io_context& io, std::string path)
    : state_(std::make_shared<State>(io, std::move(path))) {
  state_->open();
}

UnixListener::~UnixListener() { state_->close(); }

void UnixListener::on_accept(AcceptCallback callback) {
  state_->callback = std::move(callback);
  state_->start_accept();
}

void UnixListener::close() { state_->close(); }

const std::string& UnixListener::path() const { return state_->path; }

std::size_t UnixListener::accepted() const { return state_->accepted; }

std::size_t UnixListener::accept_errors() const { return state_->errors; }

}  // namespace braid::rpc
