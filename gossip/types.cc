#include "gossip/types.h"

namespace braid::gossip {
namespace {

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool host_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

bool v6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

// 1..65535, decimal, no sign, no leading zero.
bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5 || port[0] == '0') return false;
  std::uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kNameMaxBytes) return false;
  for (char c : name) {
    if (!name_char(c)) return false;
  }
  return true;
}

bool valid_address(std::string_view address) {
  if (address.size() < 3 || address.size() > kAddressMaxBytes) return false;
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = address.substr(0, colon);
  if (!valid_port(address.substr(colon + 1))) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    const std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.find(':') == std::string_view::npos) return false;
    for (char c : inner) {
      if (!v6_char(c)) return false;
    }
    return true;
  }
  for (char c : host) {
    if (!host_char(c)) return false;
  }
  return host.front() != '-' && host.front() != '.';
}

std::string_view to_string(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

bool valid_load(const Load& load) {
  return load.queued <= kLoadCountMax && load.running <= kLoadCountMax &&
         load.blocked <= kLoadCountMax && load.slots <= kLoadCountMax &&
         load.free_slots <= load.slots && load.top_queued_priority >= -1 &&
         load.top_queued_priority <= kQueuedPriorityMax;
}

}  // namespace braid::gossip
