// A peer address "HOST:PORT" split for sockets: HOST is a DNS name, an IPv4
// address, or an IPv6 address in brackets ("[::1]:7946"); PORT is 1..65535
// (0 too where allow_any_port: a listener picks one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sched/result.h"

namespace braid::rpc {

struct Endpoint {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

sched::Result<Endpoint> parse_endpoint(std::string_view address, bool allow_any_port = false);
// Whether the host is a loopback address or "localhost" (a listener there
// needs no cluster secret).
bool is_loopback(const Endpoint& endpoint);

}  // namespace braid::rpc
