#include "tests/bench/workload/sessions.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/integration/harness.h"

namespace braid::bench::workload {

std::string join_quoted(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + shell_quote(a);
  return s;
}

BraidSession::BraidSession(MemoryProbe& probe, int slots,
                           const std::vector<std::string>& braidd_args) {
  std::vector<std::string> flags = {"--slots", std::to_string(slots), "--log-level", "warn"};
  flags.insert(flags.end(), braidd_args.begin(), braidd_args.end());
  // braidd's own default, which the test harness turns off, unless the variant sets it.
  if (std::none_of(braidd_args.begin(), braidd_args.end(),
                   [](const std::string& a) { return a.starts_with("--io-aware"); })) {
    flags.push_back("--io-aware=on");
  }
  try {
    probe.inside([&] { daemon_ = std::make_unique<testing::Daemon>(flags); });
  } catch (const std::runtime_error& e) {
    // testing::Daemon throws "braidd did not come up: " + its stderr.
    std::string why = e.what();
    const std::string prefix = "braidd did not come up: ";
    if (why.compare(0, prefix.size(), prefix) != 0) throw;
    why = why.substr(prefix.size());
    why = why.substr(0, why.find('\n'));
    throw BraiddDidNotStart("braidd " + join_quoted(braidd_args) + " refused to start: " + why);
  }
  cli_prefix_ = shell_quote(testing::bin("braid")) + " --socket " + shell_quote(daemon_->socket());
}

BraidSession::~BraidSession() = default;  // the Daemon's destructor stops braidd

std::string BraidSession::cli(const std::string& args, const std::string& what) {
  return run_shell_ok(cli_prefix_ + " " + args, std::chrono::seconds(60), what,
                      daemon_->data_dir() + "/bench-cli");
}

std::vector<std::string> BraidSession::submit_array(int n, const std::string& name, int priority,
                                                    const std::vector<std::string>& argv,
                                                    const std::string& account) {
  const std::string out = cli("submit --json --array 0-" + std::to_string(n - 1) + " --name " +
                                  shell_quote(name) + " --priority " + std::to_string(priority) +
                                  (account.empty() ? "" : " --account " + shell_quote(account)) +
                                  " -- " + join_quoted(argv),
                              "braid submit --array");
  return nlohmann::json::parse(out).at("ids").get<std::vector<std::string>>();
}

std::string BraidSession::submit_one(const std::string& name, int priority,
                                     const std::vector<std::string>& argv) {
  const std::string out = cli("submit --json --name " + shell_quote(name) + " --priority " +
                                  std::to_string(priority) + " -- " + join_quoted(argv),
                              "braid submit");
  return nlohmann::json::parse(out).at("id").get<std::string>();
}

pid_t BraidSession::spawn_wait(const std::vector<std::string>& ids, Clock::time_point deadline) {
  const long long left_s = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count());
  // One submission's ids are consecutive: pass them as a range.
  const std::string range = ids.size() == 1 ? ids.front() : ids.front() + ".." + ids.back();
  return spawn_shell(cli_prefix_ + " wait " + shell_quote(range) + " --timeout " +
                     std::to_string(left_s) + "s");
}

void BraidSession::wait(const std::vector<std::string>& ids, Clock::time_point deadline) {
  if (ids.empty()) return;
  const int code =
      wait_exit(spawn_wait(ids, deadline), deadline + std::chrono::seconds(30), "braid wait");
  if (code == 124) throw std::runtime_error("braid wait: timed out");
  if (code != 0) {
    throw std::runtime_error("braid wait: not all completed (exit " + std::to_string(code) + ")");
  }
}

long long BraidSession::preemptions() {
  return nlohmann::json::parse(cli("stats --json", "braid stats"))
      .at("preemptions")
      .get<long long>();
}

TspSession::TspSession(MemoryProbe& probe, int slots, const std::string& scratch)
    : probe_(probe), tsp_(find_in_path("tsp")), scratch_(scratch) {
  if (tsp_.empty()) {
    throw std::runtime_error("tsp not on PATH (apt-get install task-spooler)");
  }
  std::filesystem::create_directories(scratch_);
  env_ = {"TS_SOCKET=" + scratch_ + "/tsp.sock", "TMPDIR=" + scratch_};
  probe.inside([&] {
    run_shell_ok(shell_quote(tsp_) + " -S " + std::to_string(slots), std::chrono::seconds(30),
                 "tsp -S", scratch_ + "/cli", env_);
  });
}

TspSession::~TspSession() {
  try {
    run_shell(shell_quote(tsp_) + " -K", std::chrono::seconds(10), "tsp -K", env_);
  } catch (const std::exception&) {  // the probe's cgroup.kill ends what is left
  }
}

std::string TspSession::submit(const std::vector<std::string>& argv) {
  const std::string out_path = scratch_ + "/submit.out";
  pid_t pid = -1;
  probe_.inside(
      [&] { pid = spawn_shell(shell_quote(tsp_) + " " + join_quoted(argv), env_, out_path); });
  const int code = wait_exit(pid, Clock::now() + std::chrono::seconds(30), "tsp submit");
  if (code != 0) throw std::runtime_error("tsp submit exited " + std::to_string(code));
  std::ifstream in(out_path);
  std::string id;
  in >> id;
  if (id.empty()) throw std::runtime_error("tsp submit printed no job id");
  return id;
}

pid_t TspSession::spawn_wait(const std::vector<std::string>& ids) {
  std::string script = "true";
  for (const auto& id : ids) script += " && " + shell_quote(tsp_) + " -w " + id + " >/dev/null";
  return spawn_shell(script, env_);
}

void TspSession::wait(const std::vector<std::string>& ids, Clock::time_point deadline) {
  const int code = wait_exit(spawn_wait(ids), deadline, "tsp -w");
  if (code != 0) throw std::runtime_error("a tsp job exited " + std::to_string(code));
}

}  // namespace braid::bench::workload
