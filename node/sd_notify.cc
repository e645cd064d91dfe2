#include "node/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace braid::node {

SdNotify SdNotify::from_environment() {
  const char* value = std::getenv("NOTIFY_SOCKET");
  std::string socket = value != nullptr ? value : "";
  ::unsetenv("NOTIFY_SOCKET");
  return SdNotify(std::move(socket));
}

sched::Status SdNotify::send(std::string_view state) const {
  if (socket_.empty()) return sched::ok_status();
  const std::string where = "NOTIFY_SOCKET " + socket_;
  if (socket_[0] != '/' && socket_[0] != '@') {
    return sched::Error{where + ": must be an absolute path or an abstract name (@...)"};
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() > sizeof(address.sun_path) - 1) {
    return sched::Error{where + ": longer than " + std::to_string(sizeof(address.sun_path) - 1) +
                        " bytes"};
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (socket_[0] == '@') {
    address.sun_path[0] = '\0';  // abstract: the length bounds the name, no trailing NUL
  } else {
    length += 1;  // a path includes its NUL
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sched::Error{where + ": socket: " + std::strerror(errno)};
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  const int send_errno = errno;
  ::close(fd);
  if (sent < 0) return sched::Error{where + ": " + std::strerror(send_errno)};
  if (static_cast<std::size_t>(sent) != state.size()) {
    return sched::Error{where + ": short send"};
  }
  return sched::ok_status();
}

}  // namespace braid::node
