#include "rpc/fd_stream.h"

#include <fcntl.h>
#include <kj/debug.h>
#include <kj/io.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <asio/error.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace braid::rpc {
namespace {

using WaitType = asio::posix::descriptor_base::wait_type;

// iovecs handed to one sendmsg(); the rest goes in the next call.
constexpr std::size_t kMaxIov = 64;

bool is_disconnect(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ECONNABORTED:
    case ETIMEDOUT:
    case ENETRESET:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ESHUTDOWN:
      return true;
    default:
      return false;
  }
}

kj::Exception errno_exception(int err, const char* what) {
  auto type = is_disconnect(err) ? kj::Exception::Type::DISCONNECTED : kj::Exception::Type::FAILED;
  return kj::Exception(type, __FILE__, __LINE__, kj::str(what, ": ", std::strerror(err)));
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

FdStream::FdStream(asio::io_context& io, int fd)
    : descriptor_(io), read_buffer_(kj::heapArray<kj::byte>(kReadBufferSize)) {
  kj::AutoCloseFd owned(fd);
  int flags;
  KJ_SYSCALL(flags = ::fcntl(fd, F_GETFL));
  if ((flags & O_NONBLOCK) == 0) {
    KJ_SYSCALL(::fcntl(fd, F_SETFL, flags | O_NONBLOCK));
  }
  KJ_SYSCALL(flags = ::fcntl(fd, F_GETFD));
  if ((flags & FD_CLOEXEC) == 0) {
    KJ_SYSCALL(::fcntl(fd, F_SETFD, flags | FD_CLOEXEC));
  }
  std::error_code ec;
  descriptor_.assign(fd, ec);
  if (ec) KJ_FAIL_REQUIRE("cannot watch fd with Asio", fd, ec.message());
  owned.release();
}

FdStream::~FdStream() {
  // Cancels pending waits (their handlers get operation_aborted) and closes.
  std::error_code ignored;
  descriptor_.close(ignored);
}

int FdStream::fd() const {
  // native_handle() is not const in Asio 1.22.
  return const_cast<asio::posix::stream_descriptor&>(descriptor_).native_handle();
}

kj::Maybe<int> FdStream::getFd() const { return fd(); }

kj::Promise<void> FdStream::ready(WaitType what) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  // The handler owns the fulfiller and nothing else: it may run after this
  // stream (and the promise) are gone, and then only drops the fulfiller.
  descriptor_.async_wait(
      what, [fulfiller = kj::mv(paf.fulfiller)](const std::error_code& ec) mutable {
        if (!ec) {
          fulfiller->fulfill();
        } else if (ec == asio::error::operation_aborted) {
          fulfiller->reject(KJ_EXCEPTION(DISCONNECTED, "FdStream closed while waiting"));
        } else {
          fulfiller->reject(errno_exception(ec.value(), "waiting for socket readiness"));
        }
      });
  return kj::mv(paf.promise);
}

kj::Promise<std::size_t> FdStream::tryRead(void* buffer, std::size_t minBytes,
                                           std::size_t maxBytes) {
  return read_some(static_cast<kj::byte*>(buffer), minBytes, maxBytes, 0);
}

kj::Promise<std::size_t> FdStream::read_some(kj::byte* out, std::size_t min_bytes,
                                             std::size_t max_bytes, std::size_t done) {
  for (;;) {
    // Serve buffered bytes first.
    std::size_t buffered = std::min(read_end_ - read_begin_, max_bytes - done);
    if (buffered > 0) {
      std::memcpy(out + done, read_buffer_.begin() + read_begin_, buffered);
      read_begin_ += buffered;
      done += buffered;
    }
    if (read_begin_ == read_end_) read_begin_ = read_end_ = 0;
    if (done >= min_bytes) return done;

    // The buffer is empty now. Large reads bypass it.
    std::size_t want = max_bytes - done;
    bool direct = want >= kReadBufferSize;
    ssize_t n = direct ? ::read(fd(), out + done, want)
                       : ::read(fd(), read_buffer_.begin(), read_buffer_.size());
    if (n > 0) {
      if (direct) {
        done += static_cast<std::size_t>(n);
      } else {
        read_end_ = static_cast<std::size_t>(n);
      }
      continue;
    }
    if (n == 0) return done;  // EOF: short read
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      // `out` is written only in this continuation, i.e. only while the
      // caller still holds the promise (and so the buffer).
      return ready(WaitType::wait_read).then([this, out, min_bytes, max_bytes, done]() {
        return read_some(out, min_bytes, max_bytes, done);
      });
    }
    return errno_exception(err, "read");
  }
}

kj::Promise<void> FdStream::write(const void* buffer, std::size_t size) {
  return write_bytes(static_cast<const kj::byte*>(buffer), size);
}

kj::Promise<void> FdStream::write_bytes(const kj::byte* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      write_blocked_ = true;
      return ready(WaitType::wait_write).then([this, data, size]() {
        return write_bytes(data, size);
      });
    }
    return errno_exception(err, "send");
  }
  write_blocked_ = false;
  return kj::READY_NOW;
}

kj::Promise<void> FdStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  return write_some(pieces, 0);
}

kj::Promise<void> FdStream::write_some(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces,
                                       std::size_t skip) {
  for (;;) {
    // Drop pieces already sent; `skip` bytes of pieces[0] are gone.
    while (pieces.size() > 0 && skip >= pieces[0].size()) {
      skip -= pieces[0].size();
      pieces = pieces.slice(1, pieces.size());
    }
    if (pieces.size() == 0) {
      write_blocked_ = false;
      return kj::READY_NOW;
    }

    struct iovec iov[kMaxIov];
    std::size_t count = std::min(pieces.size(), kMaxIov);
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t offset = i == 0 ? skip : 0;
      iov[i].iov_base = const_cast<kj::byte*>(pieces[i].begin() + offset);
      iov[i].iov_len = pieces[i].size() - offset;
    }
    struct msghdr msg {};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      skip += static_cast<std::size_t>(n);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) {
      write_blocked_ = true;
      return ready(WaitType::wait_write).then([this, pieces, skip]() {
        return write_some(pieces, skip);
      });
    }
    return errno_exception(err, "sendmsg");
  }
}

kj::Promise<void> FdStream::whenWriteDisconnected() {
  KJ_IF_MAYBE (fork, hangup_) {
    return fork->addBranch();
  }
  // wait_error completes on EPOLLHUP/EPOLLERR; a failure means the same.
  auto hangup = ready(WaitType::wait_error).catch_([](kj::Exception&&) {});
  return hangup_.emplace(hangup.fork()).addBranch();
}

void FdStream::shutdownWrite() {
  if (::shutdown(fd(), SHUT_WR) < 0 && errno != ENOTCONN) {
    kj::throwRecoverableException(errno_exception(errno, "shutdown(SHUT_WR)"));
  }
}

void FdStream::abortRead() {
  // Best effort: called on error paths, where the socket may already be dead.
  (void)::shutdown(fd(), SHUT_RD);
}

void FdStream::getsockopt(int level, int option, void* value, kj::uint* length) {
  socklen_t len = *length;
  KJ_SYSCALL(::getsockopt(fd(), level, option, value, &len));
  *length = len;
}

void FdStream::setsockopt(int level, int option, const void* value, kj::uint length) {
  KJ_SYSCALL(::setsockopt(fd(), level, option, value, length));
}

void FdStream::getsockname(struct sockaddr* addr, kj::uint* length) {
  socklen_t len = *length;
  KJ_SYSCALL(::getsockname(fd(), addr, &len));
  *length = len;
}

void FdStream::getpeername(struct sockaddr* addr, kj::uint* length) {
  socklen_t len = *length;
  KJ_SYSCALL(::getpeername(fd(), addr, &len));
  *length = len;
}

}  // namespace braid::rpc
