#include "rpc/peer_endpoint.h"

#include <asio/ip/address.hpp>
#include <charconv>

namespace braid::rpc {

sched::Result<Endpoint> parse_endpoint(std::string_view address, bool allow_any_port) {
  const std::string allowed =
      " (allowed: HOST:PORT, HOST a name, an IPv4 address or [IPv6], PORT 1..65535)";
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) {
    return sched::Error{"address \"" + std::string(address) + "\": no HOST:PORT" + allowed};
  }
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return sched::Error{"address \"" + std::string(address) + "\": bad [IPv6]" + allowed};
    }
    host = host.substr(1, host.size() - 2);
    std::error_code ec;
    (void)asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return sched::Error{"address \"" + std::string(address) + "\": bad IPv6" + allowed};
  } else if (host.find(':') != std::string_view::npos) {
    return sched::Error{"address \"" + std::string(address) + "\": IPv6 needs brackets" + allowed};
  }
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) {
      return sched::Error{"address \"" + std::string(address) + "\": bad host character" + allowed};
    }
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
      (port == 0 && !allow_any_port)) {
    return sched::Error{"address \"" + std::string(address) + "\": bad port" + allowed};
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

bool is_loopback(const Endpoint& endpoint) {
  if (endpoint.host == "localhost") return true;
  std::error_code ec;
  const asio::ip::address address = asio::ip::make_address(endpoint.host, ec);
  return !ec && address.is_loopback();
}

}  // namespace braid::rpc
