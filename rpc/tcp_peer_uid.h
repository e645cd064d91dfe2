// The local user behind a TCP connection to this machine: the uid column of
// the client socket's row in /proc/net/tcp or /proc/net/tcp6 (the row whose
// local address is the client's endpoint and whose remote address is ours).
// Used by HttpListener to tell braidd's own user from other local users on a
// token-less loopback API.
//
// Contract
// - proc_net_address() and tcp_row_uid() are pure (no syscalls): the kernel's
//   hex spelling of an endpoint ("0100007F:1F40" for 127.0.0.1:8000 on a
//   little-endian host; IPv6 as four host-order 32-bit words) and the uid of
//   the first row of a table text whose local and remote addresses match.
// - peer_uid() reads the table of the connection's family; nullopt when the
//   row is not there (a peer in another network namespace, a closed socket)
//   or the file cannot be read: the caller treats that as a stranger.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace braid::rpc {

std::string proc_net_address(const asio::ip::tcp::endpoint& endpoint);

std::optional<std::uint32_t> tcp_row_uid(std::string_view table, std::string_view local_address,
                                         std::string_view remote_address);

// `peer`: the client's endpoint; `ours`: our end of the same connection.
std::optional<std::uint32_t> peer_uid(const asio::ip::tcp::endpoint& peer,
                                      const asio::ip::tcp::endpoint& ours);

}  // namespace braid::rpc
