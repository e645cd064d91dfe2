// FdStream: a kj::AsyncIoStream over a connected, non-blocking stream socket,
// whose readiness is watched by Asio (asio::posix::stream_descriptor) and
// whose read()/send()/sendmsg() syscalls are made here. Meant for Cap'n Proto's
// TwoPartyVatNetwork on the thread of an AsioEventPort.
//
// Contract
// - Single-threaded: use it only on the thread that runs `io` and owns the
//   AsioEventPort. Like every KJ stream, at most one read and one write may be
//   outstanding, and a returned promise must not outlive the stream.
// - Memory safety on cancellation: an Asio readiness handler owns only a
//   kj::PromiseFulfiller. The caller's buffer is touched only in a KJ
//   continuation, which runs only while the read/write promise is alive, so
//   dropping a promise (or the stream) never lets the kernel or this class
//   write into freed memory.
// - Destroying the stream closes the fd; pending waits then complete with
//   operation_aborted in `io` and only drop/reject their fulfillers. That is
//   safe before or after the AsioEventPort is gone, provided the promises are
//   gone (KJ requires that anyway). `io` must outlive the stream.
// - Reads go through an internal 8 KiB buffer, so Cap'n Proto's several small
//   reads per message cost one syscall; reads of 8 KiB or more go straight to
//   the caller's buffer.
// - Errors: ECONNRESET, EPIPE and similar become kj::Exception DISCONNECTED;
//   end of stream makes tryRead() return fewer than minBytes. Writes use
//   MSG_NOSIGNAL, so a vanished peer cannot raise SIGPIPE.
#pragma once

#include <kj/array.h>
#include <kj/async-io.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <cstddef>

namespace braid::rpc {

class FdStream final : public kj::AsyncIoStream {
 public:
  static constexpr std::size_t kReadBufferSize = 8192;

  // Takes ownership of `fd` (closed on destruction, also if this throws) and
  // sets O_NONBLOCK and FD_CLOEXEC on it. Throws kj::Exception on failure.
  FdStream(asio::io_context& io, int fd);
  ~FdStream();
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  // kj::AsyncInputStream
  kj::Promise<std::size_t> tryRead(void* buffer, std::size_t minBytes,
                                   std::size_t maxBytes) override;

  // kj::AsyncOutputStream. `buffer` / `pieces` must stay valid until the
  // promise resolves (the usual KJ rule).
  kj::Promise<void> write(const void* buffer, std::size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  // Resolves when the peer hangs up (EPOLLHUP/EPOLLERR; on TCP, urgent data
  // would also wake it, so it is meant for Unix sockets). May be called many
  // times; all callers share one Asio wait.
  kj::Promise<void> whenWriteDisconnected() override;

  // Whether a write waits for the peer to read (the socket buffer is full).
  // A peer that never reads makes the writer queue answers without bound:
  // callers that serve untrusted peers watch this and close such streams.
  bool write_blocked() const { return write_blocked_; }

  // kj::AsyncIoStream
  void shutdownWrite() override;  // shutdown(SHUT_WR): the peer reads EOF
  void abortRead() override;      // shutdown(SHUT_RD)
  void getsockopt(int level, int option, void* value, kj::uint* length) override;
  void setsockopt(int level, int option, const void* value, kj::uint length) override;
  void getsockname(struct sockaddr* addr, kj::uint* length) override;
  void getpeername(struct sockaddr* addr, kj::uint* length) override;
  kj::Maybe<int> getFd() const override;

 private:
  int fd() const;
  // A promise fulfilled by Asio when the fd is ready for `what`.
  kj::Promise<void> ready(asio::posix::descriptor_base::wait_type what);
  kj::Promise<std::size_t> read_some(kj::byte* out, std::size_t min_bytes, std::size_t max_bytes,
                                     std::size_t done);
  kj::Promise<void> write_bytes(const kj::byte* data, std::size_t size);
  kj::Promise<void> write_some(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces,
                               std::size_t skip);

  asio::posix::stream_descriptor descriptor_;
  kj::Array<kj::byte> read_buffer_;
  std::size_t read_begin_ = 0;  // unread bytes are read_buffer_[read_begin_, read_end_)
  std::size_t read_end_ = 0;
  kj::Maybe<kj::ForkedPromise<void>> hangup_;
  bool write_blocked_ = false;
};

}  // namespace braid::rpc
