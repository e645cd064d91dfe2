#include "tests/bench/cluster/serf_member.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace braid::bench::cluster {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

SerfMember::SerfMember(std::string name, const std::string& serf, const std::string& seed,
                       StatsdSink* sink)
    : name_(std::move(name)), serf_(serf), sink_(sink) {
  int statsd_port = 0;
  slot_ = sink_->add(&statsd_port);
  bind_port_ = free_port();
  rpc_port_ = free_port();
  const std::string dir = dir_.path();
  std::ofstream(dir + "/config.json") << "{\"statsd_addr\": \"127.0.0.1:" << statsd_port << "\"}\n";
  {
    std::ofstream handler(dir + "/handler.sh");
    handler << "#!/bin/sh\nread -r payload\necho \"$(date +%s%N) $payload\" >> " << dir
            << "/events\n";
  }
  ::chmod((dir + "/handler.sh").c_str(), 0755);
  argv_ = {serf_,
           "agent",
           "-node=" + name_,
           "-bind=" + address(),
           "-rpc-addr=" + rpc_address(),
           "-config-file=" + dir + "/config.json",
           "-event-handler=user:bench=" + dir + "/handler.sh",
           "-log-level=info"};
  if (!seed.empty()) argv_.push_back("-join=" + seed);
  start();
}

SerfMember::~SerfMember() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void SerfMember::start() {
  // stdout and stderr both to serf.log (serf logs to stdout), appended.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir_.path() + "/serf.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot spawn " + serf_);
  const bool up = testing::eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        return testing::run({serf_, "members", "-rpc-addr=" + rpc_address()}).exit_code == 0;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(10));
  if (!up || pid_ < 0) {
    std::ifstream in(dir_.path() + "/serf.log");
    std::stringstream log;
    log << in.rdbuf();
    throw std::runtime_error("serf agent " + name_ + " did not come up: " + log.str());
  }
}

void SerfMember::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void SerfMember::restart() {
  if (pid_ > 0) throw std::logic_error("restart() of a serf agent that still runs");
  start();
}

std::map<std::string, std::string> SerfMember::states() const {
  std::map<std::string, std::string> out;
  const testing::RunResult r =
      testing::run({serf_, "members", "-rpc-addr=" + rpc_address(), "-format=json"});
  if (r.exit_code != 0) return out;
  try {
    const auto reply = nlohmann::json::parse(r.out);  // kept: at() refers into it
    for (const auto& m : reply.at("members")) {
      std::string state = m.at("status").get<std::string>();
      if (state == "failed") state = "dead";
      out[m.at("name").get<std::string>()] = state;
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

long long SerfMember::event_seen_ns(const std::string& payload) const {
  std::ifstream in(dir_.path() + "/events");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == payload) {
      return std::stoll(line.substr(0, space));
    }
  }
  return -1;
}

}  // namespace braid::bench::cluster

namespace braid::bench::cluster {

void SerfMember::scan() {
  std::ifstream in(dir_.path() + "/serf.log", std::ios::binary);
  in.seekg(log_offset_);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (chunk.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  log_offset_ += static_cast<long long>(chunk.size());
  partial_line_ += chunk;
  std::size_t begin = 0;
  std::lock_guard<std::mutex> lock(mu_);
  while (true) {
    const std::size_t end = partial_line_.find('\n', begin);
    if (end == std::string::npos) break;
    const std::string line = partial_line_.substr(begin, end - begin);
    begin = end + 1;
    for (const char* kind : {"join", "failed"}) {
      const std::string marker =
          std::string("serf: EventMember") + (kind == std::string("join") ? "Join: " : "Failed: ");
      const std::size_t at = line.find(marker);
      if (at == std::string::npos) continue;
      std::string who = line.substr(at + marker.size());
      who = who.substr(0, who.find(' '));
      events_.push_back({kind, who, now});
    }
  }
  partial_line_.erase(0, begin);
}

std::optional<std::chrono::steady_clock::time_point> SerfMember::first_event(
    const std::string& kind, const std::string& who,
    std::chrono::steady_clock::time_point since) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Event& e : events_) {
    if (e.kind == kind && e.who == who && e.at >= since) return e.at;
  }
  return std::nullopt;
}

}  // namespace braid::bench::cluster
