// Migration benchmark (issue 11 §8): 3 real braidd --migrate nodes with 2
// slots each on loopback (strict slots: a sleeping task holds its slot), all
// measured from outside with what braid already records:
//   1. spreading: makespan of 60 x `sleep 0.5` submitted to one node (ideal:
//      60 x 0.5 s / 6 slots = 5 s), over --runs fresh clusters; the end time
//      is the last task's own `date +%s%N` (a ledger outside braid);
//   2. handoff latency: one `true` at a time submitted to n0 while its 2
//      slots are held by 2 pinned `sleep`s and n1, n2 are idle: submitted (at
//      the origin) -> handoff begun (n0's `show` polled back to back first
//      says migrating) -> adopted (the receiver's record is created: its
//      submitted_at) and moved (n0's `show` says moved: the acceptance is
//      durable at the donor) -> started on the receiver (its started_at,
//      after the donor's confirmation); beside one write + fdatasync on the
//      same filesystem (begun -> moved holds 2 synced writes in series: the
//      donor's journal entry, the receiver's adoption; then the donor's
//      moved entry);
//   3. imbalance to balance: 100 x `sleep 600` submitted to n0, until every
//      node runs 2 (each node's `running` tasks' started_at, exactly).
//
//   build/bin/braid_migration_bench [--runs 5] [--handoffs 50] [--imbalance-runs 3]
//       [--gossip-profile fast|lan] [--only all|spread|handoff|imbalance]
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/integration/harness.h"

namespace {

using braid::bench::fmt;
using braid::bench::percentile;
using braid::node::ControlClient;
using braid::testing::bin;
using braid::testing::Daemon;
using braid::testing::eventually;
using braid::testing::TempDir;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
std::string g_profile = "fast";

long long wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Cluster {
  Cluster() {
    for (int i = 0; i < kNodes; ++i) {
      std::vector<std::string> args = {"--name",           "n" + std::to_string(i),
                                       "--listen",         "127.0.0.1:0",
                                       "--gossip-profile", g_profile,
                                       "--slots",          "2",
                                       "--migrate"};
      if (i > 0) args.insert(args.end(), {"--join", seed});
      nodes.push_back(std::make_unique<Daemon>(args));
      if (i == 0) {
        for (const auto& m : nodes[0]->json({"peers", "--json"})) {
          if (m.at("self").get<bool>()) seed = m.at("address").get<std::string>();
        }
      }
    }
    // Every node sees every node alive, with a load figure.
    const bool up = eventually(
        [&] {
          for (const auto& d : nodes) {
            const auto members = d->json({"peers", "--json"});
            if (members.size() != kNodes) return false;
            for (const auto& m : members) {
              if (m.at("state") != "alive" || m.at("age_ms").is_null()) return false;
            }
          }
          return true;
        },
        30s, 50ms);
    if (!up) throw std::runtime_error("the cluster did not converge");
  }
  nlohmann::json migration(int i) const {
    return nodes[static_cast<std::size_t>(i)]->json({"stats", "--json"}).at("migration");
  }
  std::vector<std::unique_ptr<Daemon>> nodes;
  std::string seed;
};

int node_of(const std::string& mark) {
  for (int i = 0; i < kNodes; ++i) {
    if (mark.find("-n" + std::to_string(i) + "-") != std::string::npos) return i;
  }
  return -1;
}

// --- 1. spreading ------------------------------------------------------------

void spreading(int runs) {
  std::printf("1. spreading: 60 x sleep 0.5 submitted to n0 of 3 nodes x 2 slots (ideal 5.00 s)\n");
  std::vector<double> ratios;
  for (int run = 0; run < runs; ++run) {
    TempDir tmp;
    const std::string ledger = tmp.path() + "/ledger";
    Cluster c;
    const long long submitted_us = wall_us();
    c.nodes[0]->cli_ok({"submit", "--array", "1-60", "--", "sh", "-c",
                        "sleep 0.5; echo \"$(date +%s%N) $BRAID_NODE_MARK\" >> " + ledger});
    auto lines = [&] {
      std::vector<std::string> out;
      std::ifstream in(ledger);
      for (std::string line; std::getline(in, line);) out.push_back(line);
      return out;
    };
    if (!eventually([&] { return lines().size() >= 60; }, 120s, 20ms)) {
      throw std::runtime_error("spreading: not every task ended within 120 s");
    }
    long long last_ns = 0;
    int per_node[kNodes] = {};
    for (const std::string& line : lines()) {
      const auto space = line.find(' ');
      last_ns = std::max(last_ns, std::stoll(line.substr(0, space)));
      const int n = node_of(line.substr(space + 1));
      if (n >= 0) ++per_node[n];
    }
    const double makespan_s = static_cast<double>(last_ns / 1000 - submitted_us) / 1e6;
    std::uint64_t moved = 0;
    for (int i = 0; i < kNodes; ++i) moved += c.migration(i).at("moved_away").get<std::uint64_t>();
    ratios.push_back(makespan_s / 5.0);
    std::printf(
        "   run %d: makespan %.2f s = %.2fx ideal; ran on n0 %d, n1 %d, n2 %d; %llu moves\n",
        run + 1, makespan_s, makespan_s / 5.0, per_node[0], per_node[1], per_node[2],
        static_cast<unsigned long long>(moved));
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("   makespan / ideal over %d runs: min %.2fx, median %.2fx, max %.2fx\n", runs,
              ratios.front(), ratios[ratios.size() / 2], ratios.back());
}

// --- 2. handoff latency -------------------------------------------------------

std::vector<long long> fdatasync_us(int n) {
  TempDir dir;
  const std::string path = dir.path() + "/sync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  const char payload[64] = {};
  std::vector<long long> out;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (::write(fd, payload, sizeof(payload)) != static_cast<ssize_t>(sizeof(payload)) ||
        ::fdatasync(fd) != 0) {
      ::close(fd);
      throw std::runtime_error("write + fdatasync failed on " + path);
    }
    out.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  ::close(fd);
  return out;
}

std::string ms_row(const std::vector<long long>& us) {
  return fmt("p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms", percentile(us, 50) / 1000.0,
             percentile(us, 99) / 1000.0, percentile(us, 100) / 1000.0);
}

braid::rpc::TaskView show(const Daemon& d, const std::string& id) {
  auto views = braid::bench::must(ControlClient(d.socket()).show({id}), "show " + id);
  if (views.empty()) throw std::runtime_error("show " + id + ": no task");
  return views.front();
}

void handoff_latency(int samples) {
  std::printf("2. handoff latency: 1 task at a time to a full n0, n1 and n2 idle (%d samples)\n",
              samples);
  const auto sync_before = fdatasync_us(200);
  Cluster c;
  c.nodes[0]->cli_ok({"submit", "--pin", "--array", "1-2", "--", "sleep", "3600"});
  // n0's view: both peers idle, nothing queued anywhere.
  auto settled = [&] {
    for (const auto& m : c.nodes[0]->json({"peers", "--json"})) {
      if (m.at("queued") != 0) return false;
      if (!m.at("self").get<bool>() && m.at("free_slots") != 2) return false;
    }
    return true;
  };
  std::vector<long long> round_wait, offer_to_adopted, offer_to_moved, adopt_to_start, total;
  int stayed = 0;
  using braid::sched::TaskState;
  for (int i = 0; i < samples; ++i) {
    if (!eventually(settled, 30s, 10ms)) throw std::runtime_error("handoff: n0 never settled");
    const std::string id = c.nodes[0]->submit({"true"});
    // n0's view of the task, polled back to back (a show takes ~0.2 ms): the
    // first answer that shows it migrating (the donor began the handoff) and
    // moved (the receiver's acceptance is durable at the donor). Each time is
    // taken as the call was sent: at most one call late.
    braid::rpc::TaskView here;
    long long seen_migrating_us = 0, seen_moved_us = 0;
    {
      ControlClient n0(c.nodes[0]->socket());
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline) {
        const long long asked_us = wall_us();
        auto reply = n0.show({id});
        auto* views = std::get_if<std::vector<braid::rpc::TaskView>>(&reply);
        if (views == nullptr || views->empty()) throw std::runtime_error("show " + id);
        here = views->front();
        if (here.state == TaskState::kMigrating && seen_migrating_us == 0) {
          seen_migrating_us = asked_us;
        }
        if (here.state == TaskState::kMoved) {
          seen_moved_us = asked_us;
          if (seen_migrating_us == 0) seen_migrating_us = asked_us;
          break;
        }
        if (here.state != TaskState::kQueued && here.state != TaskState::kMigrating) break;
      }
    }
    if (here.state != TaskState::kMoved) {
      ++stayed;  // it ran on n0
      if (!eventually([&] { return show(*c.nodes[0], id).state == TaskState::kCompleted; }, 30s,
                      5ms)) {
        throw std::runtime_error("handoff: " + id + " did not end within 30 s");
      }
      continue;
    }
    const int receiver = here.moved_to == "n1" ? 1 : here.moved_to == "n2" ? 2 : -1;
    if (receiver < 0) throw std::runtime_error("handoff: " + id + " moved to " + here.moved_to);
    braid::rpc::TaskView there;
    if (!eventually(
            [&] {
              there = show(*c.nodes[static_cast<std::size_t>(receiver)], id);
              return there.state == TaskState::kCompleted;
            },
            30s, 5ms)) {
      throw std::runtime_error("handoff: " + id + " did not end within 30 s");
    }
    const long long origin_us = here.submitted_at_us;
    const long long adopted_us = there.submitted_at_us;
    const long long started_us = there.started_at_us;
    round_wait.push_back(seen_migrating_us - origin_us);
    offer_to_adopted.push_back(adopted_us - seen_migrating_us);
    offer_to_moved.push_back(seen_moved_us - seen_migrating_us);
    adopt_to_start.push_back(started_us - adopted_us);
    total.push_back(started_us - origin_us);
  }
  const auto sync_after = fdatasync_us(200);
  std::vector<long long> sync = sync_before;
  sync.insert(sync.end(), sync_after.begin(), sync_after.end());
  std::printf("   submitted -> handoff begun (the round's wait)  %s\n", ms_row(round_wait).c_str());
  std::printf("   handoff begun -> adopted by the receiver       %s\n",
              ms_row(offer_to_adopted).c_str());
  std::printf("   handoff begun -> moved at the donor            %s\n",
              ms_row(offer_to_moved).c_str());
  std::printf("   adopted -> started on the receiver             %s\n",
              ms_row(adopt_to_start).c_str());
  std::printf("   submitted -> started on the receiver           %s  (%zu moved, %d stayed)\n",
              ms_row(total).c_str(), total.size(), stayed);
  std::printf("   baseline: write(64 B) + fdatasync on /tmp      %s  (400 syncs)\n",
              ms_row(sync).c_str());
}

// --- 3. imbalance to balance --------------------------------------------------

// Started_at of each task running on `d`, in wall us.
std::vector<long long> running_starts(const Daemon& d) {
  braid::rpc::ListQuery query;
  query.state = braid::sched::TaskState::kRunning;
  const auto page =
      braid::bench::must(ControlClient(d.socket()).list(query, "running"), "list running");
  std::vector<long long> out;
  for (const auto& t : page.tasks) out.push_back(t.started_at_us);
  std::sort(out.begin(), out.end());
  return out;
}

void imbalance(int runs) {
  std::printf("3. imbalance to balance: 100 x sleep 600 submitted to n0, until all 6 slots run\n");
  std::vector<long long> balance_us;
  for (int run = 0; run < runs; ++run) {
    Cluster c;
    const long long submitted_us = wall_us();
    c.nodes[0]->cli_ok({"submit", "--array", "1-100", "--", "sleep", "600"});
    const long long answered_us = wall_us();
    std::vector<std::vector<long long>> starts(kNodes);
    const bool balanced = eventually(
        [&] {
          for (int i = 0; i < kNodes; ++i) {
            starts[static_cast<std::size_t>(i)] =
                running_starts(*c.nodes[static_cast<std::size_t>(i)]);
            if (starts[static_cast<std::size_t>(i)].size() < 2) return false;
          }
          return true;
        },
        60s, 10ms);
    if (!balanced) throw std::runtime_error("imbalance: not balanced within 60 s");
    long long last = 0;
    for (const auto& s : starts) last = std::max(last, s[1]);  // each node's 2nd start
    balance_us.push_back(last - submitted_us);
    std::printf(
        "   run %d: balanced %.0f ms after the submit call (it answered after %.0f ms); "
        "moves n0 %llu\n",
        run + 1, static_cast<double>(last - submitted_us) / 1000.0,
        static_cast<double>(answered_us - submitted_us) / 1000.0,
        static_cast<unsigned long long>(c.migration(0).at("moved_away").get<std::uint64_t>()));
    for (const auto& d : c.nodes) d->cli({"cancel", "--state", "all"});
  }
  std::printf("   imbalance -> balance over %d runs: %s\n", runs, ms_row(balance_us).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid migration benchmark (starts its own 3-node clusters on loopback)"};
  int runs = 5, handoffs = 50, imbalance_runs = 3;
  std::string only = "all";
  app.add_option("--runs", runs, "spreading runs (a fresh cluster each)")->capture_default_str();
  app.add_option("--handoffs", handoffs, "handoff latency samples")->capture_default_str();
  app.add_option("--imbalance-runs", imbalance_runs, "imbalance runs")->capture_default_str();
  app.add_option("--gossip-profile", g_profile, "braidd --gossip-profile")->capture_default_str();
  app.add_option("--only", only, "all, spread, handoff or imbalance")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::printf("braid migration benchmark on %ld cores, gossip profile %s\n",
              sysconf(_SC_NPROCESSORS_ONLN), g_profile.c_str());
  try {
    if (only == "all" || only == "spread") spreading(std::max(1, runs));
    if (only == "all" || only == "handoff") handoff_latency(std::max(1, handoffs));
    if (only == "all" || only == "imbalance") imbalance(std::max(1, imbalance_runs));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid_migration_bench: ERROR %s\n", e.what());
    return 1;
  }
  return 0;
}
