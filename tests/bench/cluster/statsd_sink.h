// A statsd listener for Serf agents' own wire counters. Serf has no byte
// counter in `serf info`; its memberlist layer counts every packet and stream
// it sends (memberlist.udp.sent, memberlist.tcp.sent: payload bytes, as
// encoded, without IP/UDP/TCP headers) and the agent flushes them to
// `statsd_addr` every 100 ms. One UDP socket per agent (port 0: any), read by
// one thread, so that each agent's bytes are counted apart.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace braid::bench::cluster {

class StatsdSink {
 public:
  StatsdSink() = default;
  ~StatsdSink();
  StatsdSink(const StatsdSink&) = delete;
  StatsdSink& operator=(const StatsdSink&) = delete;

  // A new counter slot with its own loopback UDP port; returns its index.
  int add(int* port);
  // Starts the reading thread (after every add()).
  void start();
  // Bytes sent so far (udp.sent + tcp.sent) by the agent of slot i.
  double bytes_sent(int i) const;

 private:
  void loop();

  std::vector<int> fds_;
  std::vector<double> bytes_;
  mutable std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace braid::bench::cluster
