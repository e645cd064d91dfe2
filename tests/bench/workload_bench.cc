// Real-workload benchmark (issue 9 §2, §6): braid against the tools users
// pick, on the same inputs and commands, back to back, the order alternating
// across rounds; median and range over the rounds.
//   xz     N × `xz -6 -T1 -c I.txt > I.txt.xz` of 2-4 MB text files: makespan,
//          peak memory (Σ RSS of the tool's processes), braid's preemptions;
//          xargs -P, make -j, tsp -S, GNU parallel -j, braid (defaults and
//          each --braidd-arg variant)
//   c      N × `gcc -O2 -c src/I.c`: make -j against braid
//   urgent a priority-10 task of 1 s CPU submitted into a busy batch:
//          completion time over its solo run time; braid defaults, braid
//          --policy Priority, each variant, tsp (FIFO)
//   users  A: 10 × 3 s CPU, 2 s later B: 2 × 3 s; when B's and A's last
//          finished; braid defaults (Fair), each variant, tsp (FIFO)
//   overhead (issue 9 §4, not in the default list: ~6 min) N CPU-bound tasks
//          of fixed work under braid with forced slicing (`--started-max N
//          --fair-window 0 --quantum Q --policy P`: all N started, rotated
//          every quantum) against `xargs -P slots` of the same commands:
//          makespan ratio per policy (RoundRobin, Fair) and quantum (1, 10,
//          100 ms), for a cache-light burner (braid-burn) and a cache-heavy
//          `xz -6 -T1`; Priority never slices equal priorities (by design) and
//          runs once per round unsliced, as a control
//   io     (issue 9 §5, not in the default list) 2 CPU burners and 4
//          mostly-sleeping shell loops on 2 slots: makespan under braid
//          (defaults and each variant, e.g. --braidd-arg=--io-aware=off) over
//          plain Linux running all six at once; the burners' finish times
// Every tool gets `--slots` (2) at once. Inputs are generated into a temp dir.
// A braid variant whose flags braidd refuses is reported and dropped.
//
//   build/bin/braid_workload_bench [--rounds 3] [--workloads xz,c,urgent,users]
//       [--xz-files 200] [--xz-min-kib 2048] [--xz-max-kib 4096] [--c-files 150]
//       [--cpu-scale 1.0] [--braidd-arg='--started-max=2']...
//       [--overhead-burn-tasks 8] [--overhead-burn-ms 1000] [--overhead-xz-files 8]
//       [--overhead-xz-kib 2048] [--overhead-quanta 1ms,10ms,100ms]
//       [--overhead-policies RoundRobin,Fair]
//       [--io-cpu-ms 4000] [--io-sleepers 4] [--io-sleeps 40] [--io-sleep-ms 100]
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/workload/batch.h"
#include "tests/bench/workload/inputs.h"
#include "tests/bench/workload/io_mix.h"
#include "tests/bench/workload/overhead_table.h"
#include "tests/bench/workload/proc.h"
#include "tests/bench/workload/scenarios.h"
#include "tests/bench/workload/sessions.h"
#include "tests/bench/workload/stats_table.h"
#include "tests/integration/harness.h"

namespace {

using braid::bench::find_in_path;
using braid::bench::fmt;
using namespace braid::bench::workload;

struct Options {
  int rounds = 3;
  int slots = 2;
  std::string workloads = "xz,c,urgent,users";
  int xz_files = 200;
  int xz_min_kib = 2048;
  int xz_max_kib = 4096;
  int c_files = 150;
  double cpu_scale = 1.0;
  int timeout_s = 1800;
  std::vector<std::string> braidd_args;
  int overhead_burn_tasks = 8;
  int overhead_burn_ms = 1000;
  int overhead_xz_files = 8;
  int overhead_xz_kib = 2048;
  std::string overhead_quanta = "1ms,10ms,100ms";
  std::string overhead_policies = "RoundRobin,Fair";
  int io_cpu_ms = 4000;
  int io_sleepers = 4;
  int io_sleeps = 40;
  int io_sleep_ms = 100;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// braid with its defaults, then one braid per --braidd-arg (its flags split
// on spaces), with `base` flags first.
std::vector<Tool> braid_tools(const Options& o, const std::vector<std::string>& base,
                              const std::string& base_label) {
  std::vector<Tool> tools = {{"braid " + base_label, ToolKind::kBraid, base}};
  for (const auto& variant : o.braidd_args) {
    Tool t{"braid " + variant, ToolKind::kBraid, base};
    for (const auto& flag : split(variant, ' ')) t.braidd_args.push_back(flag);
    tools.push_back(t);
  }
  return tools;
}

// Tools whose program is missing are reported once and dropped.
std::vector<Tool> present(std::vector<Tool> tools) {
  std::vector<Tool> out;
  for (auto& t : tools) {
    const std::string why = missing_tool(t);
    if (why.empty()) {
      out.push_back(std::move(t));
    } else {
      std::printf("  %-28s skipped: %s\n", t.label.c_str(), why.c_str());
    }
  }
  return out;
}

template <typename T>
std::vector<T> round_order(std::vector<T> order, int round) {
  if (round % 2 == 1) std::reverse(order.begin(), order.end());
  return order;
}

// The braid variants braidd refused to start with (by label): each is
// reported where it was refused and skipped from then on, so that one
// variant's unknown flag does not stop the other tools' figures.
class Refusals {
 public:
  // Runs `body` unless `label` was refused before; false when it was, or is
  // now (braidd exited on its flags: printed as this round's line).
  bool run(const std::string& label, int round, const std::function<void()>& body) {
    if (why_.count(label) > 0) return false;
    try {
      body();
      return true;
    } catch (const BraiddDidNotStart& e) {
      std::printf("  round %d  %-28s skipped: %s\n", round + 1, label.c_str(), e.what());
      std::fflush(stdout);
      why_[label] = e.what();
      return false;
    }
  }
  // "" unless `label` was refused.
  std::string why(const std::string& label) const {
    const auto it = why_.find(label);
    return it == why_.end() ? "" : it->second;
  }

 private:
  std::map<std::string, std::string> why_;
};

void remove_outputs(const std::string& dir, const std::string& suffix) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::filesystem::remove(e.path());
    }
  }
}

// A batch workload (xz or c): each tool each round, then the table.
void batch_workload(const std::string& title, const std::vector<Tool>& tools,
                    const std::string& job, int n, const std::string& outputs_dir,
                    const std::string& outputs_suffix, const std::string& baseline,
                    const Options& o, const std::string& scratch) {
  std::printf("\n== %s: %d jobs, %d slots, %d round(s); load before: %s\n", title.c_str(), n,
              o.slots, o.rounds, loadavg().c_str());
  BatchTable table(title, baseline);
  Refusals refusals;
  for (int round = 0; round < o.rounds; ++round) {
    for (const auto& tool : round_order(tools, round)) {
      remove_outputs(outputs_dir, outputs_suffix);
      BatchFigures f;
      if (!refusals.run(tool.label, round, [&] {
            f = run_batch(tool, job, n, o.slots, std::chrono::seconds(o.timeout_s), scratch);
          })) {
        continue;
      }
      std::printf(
          "  round %d  %-28s makespan %7.2f s  peak RSS %7.0f MiB (anon %6.0f)  preemptions "
          "%lld  [probe %s, sampler %.2f s CPU]\n",
          round + 1, tool.label.c_str(), f.makespan_s, f.peak_rss_mib, f.peak_anon_mib,
          f.preemptions, f.probe_mode, f.sampler_cpu_s);
      std::fflush(stdout);
      table.add(tool.label, f);
    }
  }
  std::printf("  load after: %s\n", loadavg().c_str());
  table.print();
}

void xz_workload(const Options& o, const std::string& root) {
  const std::string dir = root + "/xz";
  std::filesystem::create_directories(dir);
  const auto t0 = Clock::now();
  make_text_files(dir, o.xz_files, o.xz_min_kib, o.xz_max_kib);
  std::printf("\nxz inputs: %d files of %d-%d KiB generated in %.1f s\n", o.xz_files, o.xz_min_kib,
              o.xz_max_kib, seconds_since(t0));
  const std::string job = write_job_script(dir, "exec xz -6 -T1 -c \"$1.txt\" > \"$1.txt.xz\"");
  std::vector<Tool> tools = {{"xargs -P", ToolKind::kXargs, {}},
                             {"make -j", ToolKind::kMake, {}},
                             {"tsp -S", ToolKind::kTsp, {}},
                             {"parallel -j", ToolKind::kParallel, {}}};
  for (auto& t : braid_tools(o, {}, "defaults")) tools.push_back(t);
  batch_workload("xz batch", present(tools), job, o.xz_files, dir, ".xz", "xargs -P", o,
                 root + "/scratch");
}

void c_workload(const Options& o, const std::string& root) {
  const std::string dir = root + "/c";
  make_c_sources(dir, o.c_files);
  const std::string job = write_job_script(dir, "exec gcc -O2 -c \"src/$1.c\" -o \"obj/$1.o\"");
  std::vector<Tool> tools = {{"make -j", ToolKind::kMake, {}}};
  for (auto& t : braid_tools(o, {}, "defaults")) tools.push_back(t);
  batch_workload("C code base", present(tools), job, o.c_files, dir + "/obj", ".o", "make -j", o,
                 root + "/scratch");
}

void urgent_workload(const Options& o, const std::string& root) {
  UrgentParams p;
  p.slots = o.slots;
  p.batch_ms = static_cast<int>(p.batch_ms * o.cpu_scale);
  p.urgent_ms = static_cast<int>(p.urgent_ms * o.cpu_scale);
  p.delay = std::chrono::milliseconds(static_cast<int>(2000 * o.cpu_scale));
  const double solo_s = solo_burn_s(p.urgent_ms, 3);
  std::printf(
      "\n== urgent task: braid-burn %d ms at priority 10, %d ms after %d × %d ms burners on %d "
      "slots; solo %.3f s; load before: %s\n",
      p.urgent_ms, p.delay.count() > 0 ? static_cast<int>(p.delay.count()) : 0, p.batch_tasks,
      p.batch_ms, p.slots, solo_s, loadavg().c_str());
  std::vector<Tool> tools = braid_tools(o, {}, "defaults");
  tools.insert(tools.begin() + 1,
               {"braid --policy Priority", ToolKind::kBraid, {"--policy", "Priority"}});
  tools.push_back({"tsp -S (FIFO)", ToolKind::kTsp, {}});
  tools = present(tools);
  std::map<std::string, std::vector<double>> ratios;
  Refusals refusals;
  for (int round = 0; round < o.rounds; ++round) {
    for (const auto& tool : round_order(tools, round)) {
      double s = 0;
      if (!refusals.run(tool.label, round, [&] {
            s = run_urgent(tool, p, std::chrono::seconds(o.timeout_s), root + "/scratch");
          })) {
        continue;
      }
      std::printf("  round %d  %-28s urgent done in %6.2f s = %5.2f × solo\n", round + 1,
                  tool.label.c_str(), s, s / solo_s);
      std::fflush(stdout);
      ratios[tool.label].push_back(s / solo_s);
    }
  }
  std::printf("  load after: %s\n", loadavg().c_str());
  std::printf("  %-28s %s\n", "tool", "urgent completion / solo run time: median [min-max]");
  for (const auto& tool : tools) {
    std::printf("  %-28s %s\n", tool.label.c_str(), median_range(ratios[tool.label], "×").c_str());
  }
}

void users_workload(const Options& o, const std::string& root) {
  UsersParams p;
  p.slots = o.slots;
  p.task_ms = static_cast<int>(p.task_ms * o.cpu_scale);
  p.delay = std::chrono::milliseconds(static_cast<int>(2000 * o.cpu_scale));
  std::printf(
      "\n== two users: A %d × %d ms CPU, %lld ms later B %d × %d ms, %d slots; load before: "
      "%s\n",
      p.a_tasks, p.task_ms, static_cast<long long>(p.delay.count()), p.b_tasks, p.task_ms, p.slots,
      loadavg().c_str());
  std::vector<Tool> tools = braid_tools(o, {}, "defaults");
  tools.push_back({"tsp -S (FIFO)", ToolKind::kTsp, {}});
  tools = present(tools);
  std::map<std::string, std::vector<double>> b_done, a_done;
  Refusals refusals;
  for (int round = 0; round < o.rounds; ++round) {
    for (const auto& tool : round_order(tools, round)) {
      UsersFigures f;
      if (!refusals.run(tool.label, round, [&] {
            f = run_users(tool, p, std::chrono::seconds(o.timeout_s), root + "/scratch");
          })) {
        continue;
      }
      std::printf("  round %d  %-28s B done at %6.2f s, A done at %6.2f s\n", round + 1,
                  tool.label.c_str(), f.b_done_s, f.a_done_s);
      std::fflush(stdout);
      b_done[tool.label].push_back(f.b_done_s);
      a_done[tool.label].push_back(f.a_done_s);
    }
  }
  std::printf("  load after: %s\n", loadavg().c_str());
  std::printf("  %-28s %-28s %s\n", "tool", "B's last done (from A's submit)", "A's last done");
  for (const auto& tool : tools) {
    std::printf("  %-28s %-28s %s\n", tool.label.c_str(),
                median_range(b_done[tool.label], " s").c_str(),
                median_range(a_done[tool.label], " s").c_str());
  }
}

// One braid row of the overhead workload: its flags and what they force.
struct OverheadRun {
  Tool tool;
  std::string policy;   // "" for the baseline
  std::string quantum;  // "" for the baseline
};

// braid-burn MS or `xz -6 -T1` of generated text: the job script and its count.
struct OverheadKind {
  std::string name;
  std::string job;
  int n = 0;
  std::string outputs_dir;  // removed between runs ("" = none)
  std::string outputs_suffix;
};

std::vector<OverheadRun> overhead_runs(const Options& o, int n) {
  std::vector<OverheadRun> runs = {{{"xargs -P", ToolKind::kXargs, {}}, "", ""}};
  auto forced = [&](const std::string& policy, const std::string& quantum) {
    return std::vector<std::string>{"--started-max", std::to_string(n), "--fair-window", "0",
                                    "--quantum",     quantum,           "--policy",      policy};
  };
  for (const auto& policy : split(o.overhead_policies, ',')) {
    for (const auto& quantum : split(o.overhead_quanta, ',')) {
      runs.push_back(
          {{"braid " + policy + " " + quantum, ToolKind::kBraid, forced(policy, quantum)},
           policy,
           quantum});
    }
  }
  runs.push_back({{"braid Priority 10ms (control)", ToolKind::kBraid, forced("Priority", "10ms")},
                  "Priority*",
                  "10ms"});
  return runs;
}

void overhead_workload(const Options& o, const std::string& root) {
  const int burn_ms = std::max(1, static_cast<int>(o.overhead_burn_ms * o.cpu_scale));
  std::vector<OverheadKind> kinds;
  {
    const std::string dir = root + "/overhead-burn";
    std::filesystem::create_directories(dir);
    const std::string job =
        write_job_script(dir, "exec " + shell_quote(braid::testing::bin("braid-burn")) + " " +
                                  std::to_string(burn_ms));
    kinds.push_back({"burn", job, o.overhead_burn_tasks, "", ""});
  }
  {
    const std::string dir = root + "/overhead-xz";
    std::filesystem::create_directories(dir);
    make_text_files(dir, o.overhead_xz_files, o.overhead_xz_kib, o.overhead_xz_kib);
    const std::string job = write_job_script(dir, "exec xz -6 -T1 -c \"$1.txt\" > \"$1.txt.xz\"");
    kinds.push_back({"xz", job, o.overhead_xz_files, dir, ".xz"});
  }
  std::printf(
      "\n== scheduling overhead: burn = %d × braid-burn %d ms, xz = %d × xz -6 -T1 of %d KiB "
      "text; %d slots, %d round(s); braid forced to slice: --started-max N --fair-window 0 "
      "--quantum Q --policy P; baseline xargs -P%d; load before: %s\n",
      o.overhead_burn_tasks, burn_ms, o.overhead_xz_files, o.overhead_xz_kib, o.slots, o.rounds,
      o.slots, loadavg().c_str());
  std::printf(
      "  Priority* : Priority never preempts a task for one of equal priority (by design), so it "
      "cannot be forced to slice; it runs once per round with all N started and no slicing, "
      "as a control\n");
  OverheadTable table("xargs -P");
  for (const auto& kind : kinds) {
    const auto runs = overhead_runs(o, kind.n);
    Refusals refusals;
    for (int round = 0; round < o.rounds; ++round) {
      for (const auto& run : round_order(runs, round)) {
        const std::string label = kind.name + ": " + run.tool.label;
        if (!kind.outputs_dir.empty()) remove_outputs(kind.outputs_dir, kind.outputs_suffix);
        BatchFigures f;
        if (!refusals.run(label, round, [&] {
              f = run_batch(run.tool, kind.job, kind.n, o.slots, std::chrono::seconds(o.timeout_s),
                            root + "/scratch");
            })) {
          continue;
        }
        std::printf(
            "  round %d  %-36s makespan %7.2f s  peak RSS %6.0f MiB  preemptions %lld  [sampler "
            "%.2f s CPU]\n",
            round + 1, label.c_str(), f.makespan_s, f.peak_rss_mib, f.preemptions, f.sampler_cpu_s);
        std::fflush(stdout);
        if (run.policy.empty()) {
          table.add_baseline(kind.name, f.makespan_s);
        } else {
          table.add_braid(kind.name, run.policy, run.quantum, f.makespan_s, f.preemptions);
        }
      }
    }
  }
  std::printf("  load after: %s\n", loadavg().c_str());
  table.print();
}

void io_workload(const Options& o) {
  IoMixParams p;
  p.slots = o.slots;
  p.cpu_ms = std::max(1, static_cast<int>(o.io_cpu_ms * o.cpu_scale));
  p.sleepers = o.io_sleepers;
  p.sleeps = std::max(1, static_cast<int>(o.io_sleeps * o.cpu_scale));
  p.sleep_ms = o.io_sleep_ms;
  std::printf(
      "\n== I/O mix: %d × braid-burn %d ms and %d × `%s` on %d slots, all submitted at once "
      "(sleepers first); baseline: all %d started at once as plain processes; goal braid "
      "defaults (io-aware) ≤ 1.05× plain; load before: %s\n",
      p.cpu_tasks, p.cpu_ms, p.sleepers, sleeper_argv(p).back().c_str(), p.slots,
      p.cpu_tasks + p.sleepers, loadavg().c_str());
  const std::string baseline = "plain (all at once)";
  std::vector<Tool> tools = {{baseline, ToolKind::kPlain, {}}};
  for (auto& t : braid_tools(o, {}, "defaults")) tools.push_back(t);
  std::map<std::string, std::vector<double>> makespan, sleepers_done;
  std::map<std::string, std::vector<std::vector<double>>> cpu_done;  // by tool, by burner
  Refusals refusals;
  for (int round = 0; round < o.rounds; ++round) {
    for (const auto& tool : round_order(tools, round)) {
      IoMixFigures f;
      if (!refusals.run(tool.label, round,
                        [&] { f = run_io_mix(tool, p, std::chrono::seconds(o.timeout_s)); })) {
        continue;
      }
      std::string cpu;
      auto& per_burner = cpu_done[tool.label];
      per_burner.resize(f.cpu_done_s.size());
      for (std::size_t i = 0; i < f.cpu_done_s.size(); ++i) {
        cpu += (i == 0 ? "" : ", ") + fmt("%.2f", f.cpu_done_s[i]);
        per_burner[i].push_back(f.cpu_done_s[i]);
      }
      std::printf(
          "  round %d  %-28s makespan %6.2f s, CPU tasks done at %s s, sleepers done at %.2f s\n",
          round + 1, tool.label.c_str(), f.makespan_s, cpu.c_str(), f.sleepers_done_s);
      std::fflush(stdout);
      makespan[tool.label].push_back(f.makespan_s);
      sleepers_done[tool.label].push_back(f.sleepers_done_s);
    }
  }
  std::printf("  load after: %s\n", loadavg().c_str());
  const double base = median(makespan[baseline]);
  std::printf("  %s, median [min-max] over rounds, seconds from the first submit:\n", "I/O mix");
  std::printf("  %-28s %-24s %-9s %-40s %s\n", "tool", "makespan s", "÷ plain",  // ÷: 2 bytes
              "each CPU task done at s", "sleepers done s");
  for (const auto& tool : tools) {
    if (const std::string why = refusals.why(tool.label); !why.empty()) {
      std::printf("  %-28s %s\n", tool.label.c_str(), why.c_str());
      continue;
    }
    const auto& m = makespan[tool.label];
    std::string cpu;
    for (const auto& each : cpu_done[tool.label]) {
      cpu += (cpu.empty() ? "" : "; ") + median_range(each, "");
    }
    const std::string ratio = base > 0 && !m.empty() ? fmt("%.3f", median(m) / base) : "-";
    std::printf("  %-28s %-24s %-8s %-40s %s\n", tool.label.c_str(), median_range(m, "").c_str(),
                ratio.c_str(), cpu.c_str(), median_range(sleepers_done[tool.label], "").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid real-workload benchmark (starts its own braidd; same-run baselines)"};
  Options o;
  app.add_option("--rounds", o.rounds, "rounds; tool order alternates")->capture_default_str();
  app.add_option("--slots", o.slots, "jobs at once for every tool")->capture_default_str();
  app.add_option("--workloads", o.workloads, "comma-separated: xz, c, urgent, users, overhead, io")
      ->capture_default_str();
  app.add_option("--xz-files", o.xz_files, "files in the xz batch")->capture_default_str();
  app.add_option("--xz-min-kib", o.xz_min_kib, "smallest xz input")->capture_default_str();
  app.add_option("--xz-max-kib", o.xz_max_kib, "largest xz input")->capture_default_str();
  app.add_option("--c-files", o.c_files, "C files to compile")->capture_default_str();
  app.add_option("--cpu-scale", o.cpu_scale, "scales the burners' CPU times and delays")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds allowed for each run")->capture_default_str();
  app.add_option("--braidd-arg", o.braidd_args,
                 "a braid variant: extra braidd flags, space-separated (repeatable: one "
                 "variant each), e.g. --braidd-arg=--started-max=2");
  app.add_option("--overhead-burn-tasks", o.overhead_burn_tasks, "overhead: braid-burn tasks")
      ->capture_default_str();
  app.add_option("--overhead-burn-ms", o.overhead_burn_ms,
                 "overhead: each burner's CPU ms (times --cpu-scale)")
      ->capture_default_str();
  app.add_option("--overhead-xz-files", o.overhead_xz_files, "overhead: xz tasks")
      ->capture_default_str();
  app.add_option("--overhead-xz-kib", o.overhead_xz_kib, "overhead: each xz input's KiB")
      ->capture_default_str();
  app.add_option("--overhead-quanta", o.overhead_quanta, "overhead: braidd --quantum values")
      ->capture_default_str();
  app.add_option("--overhead-policies", o.overhead_policies,
                 "overhead: braidd --policy values forced to slice")
      ->capture_default_str();
  app.add_option("--io-cpu-ms", o.io_cpu_ms, "io: each CPU task's ms (times --cpu-scale)")
      ->capture_default_str();
  app.add_option("--io-sleepers", o.io_sleepers, "io: mostly-sleeping tasks")
      ->capture_default_str();
  app.add_option("--io-sleeps", o.io_sleeps, "io: each sleeper's sleeps (times --cpu-scale)")
      ->capture_default_str();
  app.add_option("--io-sleep-ms", o.io_sleep_ms, "io: each sleep's ms")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.rounds < 1 || o.slots < 1 || o.xz_files < 1 || o.c_files < 1 || o.cpu_scale <= 0 ||
      o.xz_min_kib < 1 || o.xz_max_kib < o.xz_min_kib || o.overhead_burn_tasks < 1 ||
      o.overhead_burn_ms < 1 || o.overhead_xz_files < 1 || o.overhead_xz_kib < 1 ||
      o.io_cpu_ms < 1 || o.io_sleepers < 1 || o.io_sleeps < 1 || o.io_sleep_ms < 1) {
    std::fprintf(stderr,
                 "braid_workload_bench: --rounds, --slots, --xz-files, --c-files and every "
                 "--overhead-* and --io-* number must be >= 1, --cpu-scale > 0, 1 <= "
                 "--xz-min-kib <= --xz-max-kib\n");
    return 2;
  }
  const auto workloads = split(o.workloads, ',');
  for (const auto& w : workloads) {
    if (w != "xz" && w != "c" && w != "urgent" && w != "users" && w != "overhead" && w != "io") {
      std::fprintf(stderr,
                   "braid_workload_bench: unknown workload '%s' (xz, c, urgent, users, overhead, "
                   "io)\n",
                   w.c_str());
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Orphans (a daemonized tsp server) stay this process's descendants, so
  // the memory probe's tree mode still sees them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const std::map<std::string, std::vector<std::string>> programs = {
      {"xz", {"xz", "seq"}}, {"c", {"gcc", "make", "seq"}},        {"urgent", {}},
      {"users", {}},         {"overhead", {"xz", "seq", "xargs"}}, {"io", {"seq", "sleep"}}};
  for (const auto& w : workloads) {
    for (const auto& program : programs.at(w)) {
      if (find_in_path(program).empty()) {
        std::fprintf(stderr,
                     "braid_workload_bench: ERROR %s not installed (deploy/install-deps.sh)\n",
                     program.c_str());
        return 1;
      }
    }
  }
  std::printf("braid workload benchmark on %ld cores, %d slots, %d round(s), load %s\n",
              sysconf(_SC_NPROCESSORS_ONLN), o.slots, o.rounds, loadavg().c_str());
  try {
    braid::testing::TempDir root;
    for (const auto& w : workloads) {
      if (w == "xz") xz_workload(o, root.path());
      if (w == "c") c_workload(o, root.path());
      if (w == "urgent") urgent_workload(o, root.path());
      if (w == "users") users_workload(o, root.path());
      if (w == "overhead") overhead_workload(o, root.path());
      if (w == "io") io_workload(o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid_workload_bench: ERROR %s\n", e.what());
    return 1;
  }
  return 0;
}
