#include "tests/bench/cluster/braid_member.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace braid::bench::cluster {

long long rss_kib(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long long kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

BraidMember::BraidMember(std::string name, const std::vector<std::string>& seeds,
                         const std::string& profile, const std::vector<std::string>& extra)
    : name_(std::move(name)) {
  std::vector<std::string> args = {"--name",           name_,   "--listen",    "127.0.0.1:0",
                                   "--gossip-profile", profile, "--log-level", "info"};
  for (const auto& seed : seeds) args.insert(args.end(), {"--join", seed});
  args.insert(args.end(), extra.begin(), extra.end());
  daemon_ = std::make_unique<testing::Daemon>(args);
}

pid_t BraidMember::pid() const { return daemon_->alive() ? daemon_->pid() : -1; }

std::map<std::string, std::string> BraidMember::states() const {
  std::map<std::string, std::string> out;
  const testing::RunResult r = daemon_->cli({"peers", "--json"});
  if (r.exit_code != 0) return out;
  try {
    for (const auto& m : nlohmann::json::parse(r.out)) {
      out[m.at("name").get<std::string>()] = m.at("state").get<std::string>();
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

double BraidMember::bytes_sent() const {
  const testing::RunResult r = daemon_->cli({"stats", "--json"});
  if (r.exit_code != 0) return -1;
  try {
    const auto j = nlohmann::json::parse(r.out);
    if (!j.contains("gossip") || j.at("gossip").is_null()) return -1;
    return j.at("gossip").at("bytes_sent").get<double>();
  } catch (const std::exception&) {
    return -1;
  }
}

long long BraidMember::queued_of(const std::string& who) const {
  const testing::RunResult r = daemon_->cli({"peers", "--json"});
  if (r.exit_code != 0) return -1;
  try {
    for (const auto& m : nlohmann::json::parse(r.out)) {
      if (m.at("name") == who) return m.at("queued").get<long long>();
    }
  } catch (const std::exception&) {
  }
  return -1;
}

std::string BraidMember::address() const {
  for (const auto& m : daemon_->json({"peers", "--json"})) {
    if (m.at("self").get<bool>()) return m.at("address").get<std::string>();
  }
  return "";
}

}  // namespace braid::bench::cluster
