// Tests only: a raw client of the peer port that writes hand-built Cap'n
// Proto RPC frames (a misbehaving peer), shared by the transport's and the
// real braidd's flood tests.
#pragma once

#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "rpc/peer.capnp.h"

namespace braid::rpc::testing {

// A blocking TCP connection to 127.0.0.1:port, or -1.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Bootstrap (question 0): the connection's Gate.
inline kj::Array<capnp::word> bootstrap_bytes() {
  capnp::MallocMessageBuilder message;
  message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(0);
  return capnp::messageToFlatArray(message);
}

// Gate.challenge() as question `question`, on the bootstrap promise.
inline kj::Array<capnp::word> challenge_bytes(std::uint32_t question) {
  capnp::MallocMessageBuilder message;
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(question);
  call.initTarget().initPromisedAnswer().setQuestionId(0);
  call.setInterfaceId(capnp::typeId<schema::Gate>());
  call.setMethodId(0);
  call.initParams().getContent().initAs<schema::Gate::ChallengeParams>();
  return capnp::messageToFlatArray(message);
}

// Writes all of `words`; false once the peer has closed.
inline bool write_all(int fd, const kj::Array<capnp::word>& words) {
  const auto bytes = words.asBytes();
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.begin() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace braid::rpc::testing
