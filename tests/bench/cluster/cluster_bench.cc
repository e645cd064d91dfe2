// Membership end to end (issue 10 §9): braid's gossip beside Serf's, on this
// machine, in the same run. For each cluster size N, N braidd nodes and then
// N Serf agents on loopback, each measured for:
//   join        from starting the last node until each node lists all N alive;
//   failure     after kill -9 of one node, until each other lists it dead
//               (Serf: failed); --trials victims in turn, each restarted and
//               the cluster converged again before the next;
//   propagation braid: 50 tasks submitted on one node (--slots 1) until each
//               peer's `peers --json` shows the new queued count; Serf: a user
//               event (`serf event`) until each agent's handler ran;
//   idle        gossip bytes sent per node per second over --idle-s of a
//               converged idle cluster, and each node's RSS.
// braid is polled (`braid peers --json`, one thread per node, every
// --poll-ms); Serf's membership changes are stamped from its own log lines
// as they appear (see serf_member.h), its user events by a handler script.
// Figures are medians and maxima over the observing nodes (failure,
// propagation: over every trial's observers).
//
//   build/bin/braid_cluster_bench [--sizes 5,10] [--profile lan|memberlist|fast]
//                                 [--trials 3] [--idle-s 30] [--poll-ms 50] [--serf PATH]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_util.h"
#include "tests/bench/cluster/braid_member.h"
#include "tests/bench/cluster/poll.h"
#include "tests/bench/cluster/serf_member.h"
#include "tests/bench/cluster/statsd_sink.h"

namespace {

using namespace braid::bench::cluster;
using braid::bench::find_in_path;
using braid::bench::fmt;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::vector<int> sizes = {5, 10};
  std::string profile = "lan";
  int trials = 3;
  double idle_s = 30;
  int poll_ms = 50;
  std::string serf;
};

// A figure over observers: median and max, in ms; `missing` counts the
// observers that never saw it before the deadline.
struct Figure {
  std::vector<double> ms;
  int missing = 0;
  void add(double v) {
    if (v < 0) {
      ++missing;
    } else {
      ms.push_back(v);
    }
  }
  double median() const {
    if (ms.empty()) return -1;
    auto v = ms;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  double max() const { return ms.empty() ? -1 : *std::max_element(ms.begin(), ms.end()); }
};

struct Results {
  Figure start_ms;  // the last node: spawn until its CLI answers
  Figure join;
  Figure failure;
  double worst_failure_tail = 0;  // max over trials of (last observer / median observer)
  int false_positives = 0;        // live members seen dead or failed when a victim was found
  Figure propagation;
  Figure idle_bps;
  Figure rss_mib;
  double poll_gap_ms = 0;  // braid: mean poll interval; Serf: the log scan interval
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

long long realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string name_of(int i) { return "n" + std::to_string(i); }

void idle_phase(const std::vector<Member*>& members, double idle_s, Results* r) {
  std::vector<double> before;
  for (Member* m : members) before.push_back(m->bytes_sent());
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));  // the window measured
  const double seconds = ms_between(t0, Clock::now()) / 1000;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const double after = members[i]->bytes_sent();
    r->idle_bps.add(before[i] < 0 || after < 0 ? -1 : (after - before[i]) / seconds);
    r->rss_mib.add(static_cast<double>(rss_kib(members[i]->pid())) / 1024);
  }
}

void note_tail(const std::vector<double>& ms, Results* r) {
  Figure f;
  for (double v : ms) f.add(v);
  if (f.median() > 0) r->worst_failure_tail = std::max(r->worst_failure_tail, f.max() / f.median());
}

bool converged(const std::vector<Member*>& members, std::chrono::milliseconds within) {
  return braid::testing::eventually(
      [&] {
        for (Member* m : members) {
          const auto s = m->states();
          if (s.size() != members.size()) return false;
          for (const auto& [name, state] : s) {
            if (state != "alive") return false;
          }
        }
        return true;
      },
      within, 100ms);
}

// What each member sees, for an error message.
std::string describe(const std::vector<Member*>& members) {
  std::string out;
  for (Member* m : members) {
    out += m->name() + " sees";
    for (const auto& [name, state] : m->states()) out += " " + name + ":" + state;
    out += "; ";
  }
  return out;
}

// ---- braid ----

Results run_braid(int n, const Options& o) {
  Results r;
  std::vector<std::unique_ptr<BraidMember>> nodes;
  const std::vector<std::string> extra = {"--slots", "1", "--no-migrate"};  // loads stay put
  nodes.push_back(
      std::make_unique<BraidMember>(name_of(0), std::vector<std::string>{}, o.profile, extra));
  const std::string seed = nodes[0]->address();
  Clock::time_point t_last;
  for (int i = 1; i < n; ++i) {
    if (i == n - 1) t_last = Clock::now();
    nodes.push_back(std::make_unique<BraidMember>(name_of(i), std::vector<std::string>{seed},
                                                  o.profile, extra));
  }
  r.start_ms.add(ms_between(t_last, Clock::now()));
  std::vector<Member*> all;
  for (auto& m : nodes) all.push_back(m.get());
  const auto interval = std::chrono::milliseconds(o.poll_ms);

  // join
  std::vector<std::function<bool()>> checks;
  for (Member* m : all) {
    checks.push_back([m, n] {
      const auto s = m->states();
      return static_cast<int>(s.size()) == n &&
             std::all_of(s.begin(), s.end(), [](const auto& kv) { return kv.second == "alive"; });
    });
  }
  PollResult joined = poll_until(checks, t_last, interval, 60s);
  for (double v : joined.ms) r.join.add(v);
  double gap_sum = joined.mean_gap_ms;
  int gap_n = 1;
  if (!converged(all, 60s)) throw std::runtime_error("braid: no convergence after the join");

  idle_phase(all, o.idle_s, &r);

  // failure detection
  for (int t = 0; t < o.trials; ++t) {
    const int victim = 1 + t % (n - 1);
    const std::string vname = name_of(victim);
    std::vector<Member*> observers;
    for (int i = 0; i < n; ++i) {
      if (i != victim) observers.push_back(all[static_cast<std::size_t>(i)]);
    }
    std::vector<std::function<bool()>> dead;
    std::atomic<int> false_positives{0};
    for (Member* m : observers) {
      dead.push_back([m, vname, &false_positives] {
        const auto s = m->states();
        auto it = s.find(vname);
        if (it == s.end() || it->second != "dead") return false;
        for (const auto& [name, state] : s) {
          if (name != vname && (state == "dead" || state == "left")) ++false_positives;
        }
        return true;
      });
    }
    const auto t0 = Clock::now();
    all[static_cast<std::size_t>(victim)]->kill9();
    PollResult seen = poll_until(dead, t0, interval, 60s);
    for (double v : seen.ms) r.failure.add(v);
    note_tail(seen.ms, &r);
    r.false_positives += false_positives;
    gap_sum += seen.mean_gap_ms;
    ++gap_n;
    all[static_cast<std::size_t>(victim)]->restart();
    if (!converged(all, 60s)) throw std::runtime_error("braid: no convergence after a restart");
  }

  // propagation: 50 more tasks on the last node each trial (slots 1: 49 queued the first time)
  BraidMember* origin = nodes.back().get();
  for (int t = 0; t < o.trials; ++t) {
    const long long want = 50LL * (t + 1) - 1;
    std::vector<std::function<bool()>> seen_checks;
    for (int i = 0; i + 1 < n; ++i) {
      BraidMember* m = nodes[static_cast<std::size_t>(i)].get();
      seen_checks.push_back([m, want, &origin] { return m->queued_of(origin->name()) == want; });
    }
    const auto t0 = Clock::now();
    origin->daemon().cli_ok({"submit", "--array", "0-49", "--", "sleep", "600"});
    PollResult seen = poll_until(seen_checks, t0, interval, 30s);
    for (double v : seen.ms) r.propagation.add(v);
    gap_sum += seen.mean_gap_ms;
    ++gap_n;
  }
  r.poll_gap_ms = gap_sum / gap_n;
  return r;
}

// ---- Serf ----

// Scans every agent's log every 10 ms while alive.
class LogScanner {
 public:
  explicit LogScanner(std::vector<SerfMember*> agents) : agents_(std::move(agents)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        for (SerfMember* a : agents_) a->scan();
        std::this_thread::sleep_for(10ms);  // the scan interval
      }
    });
  }
  ~LogScanner() {
    stop_ = true;
    thread_.join();
  }
  void add(SerfMember* a) {
    std::lock_guard<std::mutex> lock(mu_);
    agents_.push_back(a);
  }

 private:
  std::vector<SerfMember*> agents_;
  std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Results run_serf(int n, const Options& o) {
  Results r;
  StatsdSink sink;
  std::vector<std::unique_ptr<SerfMember>> agents;
  const auto t_begin = Clock::now();
  agents.push_back(std::make_unique<SerfMember>(name_of(0), o.serf, "", &sink));
  const std::string seed = agents[0]->address();
  Clock::time_point t_last;
  for (int i = 1; i < n; ++i) {
    if (i == n - 1) t_last = Clock::now();
    agents.push_back(std::make_unique<SerfMember>(name_of(i), o.serf, seed, &sink));
  }
  r.start_ms.add(ms_between(t_last, Clock::now()));
  sink.start();
  std::vector<SerfMember*> raw;
  std::vector<Member*> all;
  for (auto& a : agents) {
    raw.push_back(a.get());
    all.push_back(a.get());
  }
  LogScanner scanner(raw);
  r.poll_gap_ms = 10;

  // join: each agent's last EventMemberJoin of the N (events before t_last count as t_last)
  const auto join_deadline = Clock::now() + 60s;
  for (SerfMember* a : raw) {
    double last = 0;
    for (int j = 0; j < n; ++j) {
      std::optional<Clock::time_point> at;
      braid::testing::eventually(
          [&] { return (at = a->first_event("join", name_of(j), t_begin)).has_value(); },
          std::chrono::duration_cast<std::chrono::milliseconds>(join_deadline - Clock::now()),
          10ms);
      if (!at) {
        last = -1;
        break;
      }
      last = std::max(last, ms_between(t_last, *at));
    }
    r.join.add(last);
  }
  if (!converged(all, 60s)) {
    throw std::runtime_error("serf: no convergence after the join: " + describe(all));
  }

  idle_phase(all, o.idle_s, &r);

  // failure detection
  for (int t = 0; t < o.trials; ++t) {
    const int victim = 1 + t % (n - 1);
    const std::string vname = name_of(victim);
    const auto t0 = Clock::now();
    raw[static_cast<std::size_t>(victim)]->kill9();
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      if (i == victim) continue;
      SerfMember* a = raw[static_cast<std::size_t>(i)];
      std::optional<Clock::time_point> at;
      braid::testing::eventually(
          [&] { return (at = a->first_event("failed", vname, t0)).has_value(); },
          std::chrono::duration_cast<std::chrono::milliseconds>(t0 + 60s - Clock::now()), 10ms);
      ms.push_back(at ? ms_between(t0, *at) : -1);
      for (int j = 0; j < n; ++j) {
        if (j != victim && a->first_event("failed", name_of(j), t0)) ++r.false_positives;
      }
    }
    for (double v : ms) r.failure.add(v);
    note_tail(ms, &r);
    raw[static_cast<std::size_t>(victim)]->restart();
    if (!converged(all, 60s)) throw std::runtime_error("serf: no convergence after a restart");
  }

  // propagation: a user event from the last agent to every handler
  SerfMember* origin = raw.back();
  for (int t = 0; t < o.trials; ++t) {
    const std::string payload = "trial-" + std::to_string(t);
    const long long t0_ns = realtime_ns();
    const auto sent = braid::testing::run({o.serf, "event", "-coalesce=false",
                                           "-rpc-addr=" + origin->rpc_address(), "bench", payload});
    if (sent.exit_code != 0) throw std::runtime_error("serf event failed: " + sent.err);
    for (int i = 0; i + 1 < n; ++i) {
      SerfMember* a = raw[static_cast<std::size_t>(i)];
      long long at = -1;
      braid::testing::eventually([&] { return (at = a->event_seen_ns(payload)) >= 0; }, 30s, 10ms);
      r.propagation.add(at < 0 ? -1 : static_cast<double>(at - t0_ns) / 1e6);
    }
  }
  return r;
}

// ---- report ----

std::string cell(const Figure& f, double scale, const char* format) {
  if (f.ms.empty()) return "n/a";
  std::string s = fmt(format, f.median() / scale) + " / " + fmt(format, f.max() / scale);
  if (f.missing > 0) s += fmt(" (%d never)", f.missing);
  return s;
}

void print_table(int n, const Options& o, const Results& b, const Results* s) {
  std::printf("\nN = %d   braid profile %s, Serf profile lan; median / max over observers\n", n,
              o.profile.c_str());
  std::printf("%-36s %-26s %-26s\n", "", "braid", s ? "Serf" : "Serf (not run)");
  auto row = [&](const char* what, const std::string& bv, const std::string& sv) {
    std::printf("%-36s %-26s %-26s\n", what, bv.c_str(), sv.c_str());
  };
  auto both = [&](const char* what, Figure Results::*f, double scale, const char* format) {
    row(what, cell(b.*f, scale, format), s ? cell(s->*f, scale, format) : "");
  };
  both("last node start -> answers (ms)", &Results::start_ms, 1, "%.0f");
  both("join, all N alive (s)", &Results::join, 1000, "%.2f");
  both("failure detected (s)", &Results::failure, 1000, "%.2f");
  row("  worst trial: last / median", fmt("%.2f", b.worst_failure_tail),
      s ? fmt("%.2f", s->worst_failure_tail) : "");
  row("  live members seen dead", fmt("%d", b.false_positives),
      s ? fmt("%d", s->false_positives) : "");
  both("load change / event everywhere (s)", &Results::propagation, 1000, "%.3f");
  both("idle bytes sent per node (B/s)", &Results::idle_bps, 1, "%.0f");
  both("RSS per node (MiB)", &Results::rss_mib, 1, "%.1f");
  row("resolution (ms)", fmt("poll every %.0f", b.poll_gap_ms),
      s ? fmt("log scan every %.0f", s->poll_gap_ms) : "");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid_cluster_bench: braid's gossip membership beside Serf's (issue 10 §9)"};
  Options o;
  app.add_option("--sizes", o.sizes, "cluster sizes")->delimiter(',')->check(CLI::Range(2, 100));
  app.add_option("--profile", o.profile, "braidd --gossip-profile")
      ->check(CLI::IsMember({"lan", "memberlist", "fast"}));
  app.add_option("--trials", o.trials, "failure and propagation trials")->check(CLI::Range(1, 100));
  app.add_option("--idle-s", o.idle_s, "idle window, seconds")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--poll-ms", o.poll_ms, "braid poll interval")->check(CLI::Range(5, 1000));
  app.add_option("--serf", o.serf, "the serf binary (default: serf on PATH; skipped if none)");
  CLI11_PARSE(app, argc, argv);
  if (o.serf.empty()) o.serf = find_in_path("serf");

  std::printf("braid_cluster_bench: load average %s, %ld cores; serf %s\n", load_average().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN), o.serf.empty() ? "absent (skipped)" : o.serf.c_str());
  try {
    for (int n : o.sizes) {
      const Results b = run_braid(n, o);
      std::optional<Results> s;
      if (!o.serf.empty()) s = run_serf(n, o);
      print_table(n, o, b, s ? &*s : nullptr);
      std::printf("load average after N = %d: %s\n", n, load_average().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ERROR: %s\n", e.what());
    return 1;
  }
  return 0;
}
