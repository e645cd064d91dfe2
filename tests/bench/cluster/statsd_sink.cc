#include "tests/bench/cluster/statsd_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace braid::bench::cluster {
namespace {

// The sum of the memberlist.{udp,tcp}.sent counters in one statsd packet
// ("serf-agent.memberlist.udp.sent:150.000000|c", one metric a line).
double sent_bytes_in(std::string_view packet) {
  double sum = 0;
  while (!packet.empty()) {
    const std::size_t end = packet.find('\n');
    const std::string_view line = packet.substr(0, end);
    packet = end == std::string_view::npos ? std::string_view{} : packet.substr(end + 1);
    const bool sent = line.find("memberlist.udp.sent:") != std::string_view::npos ||
                      line.find("memberlist.tcp.sent:") != std::string_view::npos;
    if (!sent || !line.ends_with("|c")) continue;
    const std::size_t colon = line.rfind(':');
    sum += std::strtod(std::string(line.substr(colon + 1)).c_str(), nullptr);
  }
  return sum;
}

}  // namespace

StatsdSink::~StatsdSink() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : fds_) ::close(fd);
}

int StatsdSink::add(int* port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("statsd sink: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("statsd sink: bind failed");
  }
  *port = ntohs(addr.sin_port);
  std::lock_guard<std::mutex> lock(mu_);
  fds_.push_back(fd);
  bytes_.push_back(0);
  return static_cast<int>(fds_.size()) - 1;
}

void StatsdSink::start() {
  thread_ = std::thread([this] { loop(); });
}

double StatsdSink::bytes_sent(int i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_.at(static_cast<std::size_t>(i));
}

void StatsdSink::loop() {
  std::vector<pollfd> fds;
  for (int fd : fds_) fds.push_back({fd, POLLIN, 0});
  char buffer[65536];
  while (!stop_) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n <= 0) continue;
      const double sent = sent_bytes_in(std::string_view(buffer, static_cast<std::size_t>(n)));
      std::lock_guard<std::mutex> lock(mu_);
      bytes_[i] += sent;
    }
  }
}

}  // namespace braid::bench::cluster
