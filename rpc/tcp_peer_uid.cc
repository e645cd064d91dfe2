#include "rpc/tcp_peer_uid.h"

#include <strings.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace braid::rpc {

std::string proc_net_address(const asio::ip::tcp::endpoint& endpoint) {
  std::string out;
  char word[16];
  auto append_words = [&](const unsigned char* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 4) {
      std::uint32_t value = 0;
      std::memcpy(&value, bytes + i, 4);  // the kernel prints host-order words
      std::snprintf(word, sizeof word, "%08X", static_cast<unsigned>(value));
      out += word;
    }
  };
  const asio::ip::address address = endpoint.address();
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    append_words(bytes.data(), bytes.size());
  } else {
    const auto bytes = address.to_v6().to_bytes();
    append_words(bytes.data(), bytes.size());
  }
  std::snprintf(word, sizeof word, ":%04X", static_cast<unsigned>(endpoint.port()));
  return out + word;
}

std::optional<std::uint32_t> tcp_row_uid(std::string_view table, std::string_view local_address,
                                         std::string_view remote_address) {
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
  };
  while (!table.empty()) {
    const std::size_t end = table.find('\n');
    std::string_view line = table.substr(0, end);
    table = end == std::string_view::npos ? std::string_view() : table.substr(end + 1);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    std::string_view fields[8];
    std::size_t count = 0;
    while (count < 8) {
      const std::size_t begin = line.find_first_not_of(' ');
      if (begin == std::string_view::npos) break;
      line.remove_prefix(begin);
      const std::size_t stop = std::min(line.find(' '), line.size());
      fields[count++] = line.substr(0, stop);
      line.remove_prefix(stop);
    }
    if (count < 8 || !same(fields[1], local_address) || !same(fields[2], remote_address)) continue;
    std::uint32_t uid = 0;
    if (fields[7].empty()) return std::nullopt;
    for (char c : fields[7]) {
      if (c < '0' || c > '9') return std::nullopt;
      uid = uid * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return uid;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> peer_uid(const asio::ip::tcp::endpoint& peer,
                                      const asio::ip::tcp::endpoint& ours) {
  std::ifstream file(peer.address().is_v4() ? "/proc/net/tcp" : "/proc/net/tcp6");
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  return tcp_row_uid(text.str(), proc_net_address(peer), proc_net_address(ours));
}

}  // namespace braid::rpc
