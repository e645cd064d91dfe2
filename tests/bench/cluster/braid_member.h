// A braidd that gossips on 127.0.0.1:0 (tests/integration/harness.h's
// Daemon), seen through `braid peers --json` and `braid stats --json`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/bench/cluster/member.h"
#include "tests/integration/harness.h"

namespace braid::bench::cluster {

class BraidMember final : public Member {
 public:
  // seeds: HOST:PORT to --join (none for the first node); extra: more braidd flags.
  BraidMember(std::string name, const std::vector<std::string>& seeds, const std::string& profile,
              const std::vector<std::string>& extra);
  const std::string& name() const override { return name_; }
  pid_t pid() const override;
  void kill9() override { daemon_->kill9(); }
  void restart() override { daemon_->restart(); }
  std::map<std::string, std::string> states() const override;
  double bytes_sent() const override;

  // `queued` of member `who` as this node sees it; -1 when unknown.
  long long queued_of(const std::string& who) const;
  // The HOST:PORT it gossips on (its own row of `peers --json`).
  std::string address() const;
  const testing::Daemon& daemon() const { return *daemon_; }

 private:
  std::string name_;
  std::unique_ptr<testing::Daemon> daemon_;
};

}  // namespace braid::bench::cluster
