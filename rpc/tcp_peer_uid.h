// The local user behind a TCP connection to this machine, asked of the kernel
// by the connection's 4-tuple (NETLINK_SOCK_DIAG, an exact inet_diag lookup:
// one round trip, whatever the number of sockets). Used by HttpListener to
// tell braidd's own user from other local users on a token-less loopback API.
//
// Contract
// - peer_uid() answers the uid that owns the client's socket while that
//   socket is ESTABLISHED, or half-closed (FIN_WAIT1/2: it sent its request
//   and shut down writing) with a uid other than 0. Anything else — a peer
//   that already closed (an orphan, which the kernel keeps as a time-wait
//   bucket reported as uid 0), a peer in another network namespace, a failed
//   query — is nullopt: the caller treats it as a stranger. (So a root client
//   that half-closes is a stranger too.)
// - IPv4-mapped IPv6 endpoints are looked up as the IPv4 sockets they are.
// - diag_uid() is the pure part: the uid in the kernel's answer (a netlink
//   message), when it describes an established socket.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace braid::rpc {

// `peer`: the client's endpoint; `ours`: our end of the same connection.
std::optional<std::uint32_t> peer_uid(const asio::ip::tcp::endpoint& peer,
                                      const asio::ip::tcp::endpoint& ours);

// The uid in a SOCK_DIAG_BY_FAMILY answer of `size` bytes, if it is one and
// its socket is ESTABLISHED (or half-closed with uid != 0); nullopt for an
// error answer or anything else.
std::optional<std::uint32_t> diag_uid(const void* answer, std::size_t size);

}  // namespace braid::rpc
