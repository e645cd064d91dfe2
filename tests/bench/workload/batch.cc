#include "tests/bench/workload/batch.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/bench/workload/memory_probe.h"
#include "tests/bench/workload/proc.h"
#include "tests/bench/workload/sessions.h"

namespace braid::bench::workload {

namespace {

std::string program_of(ToolKind kind) {
  switch (kind) {
    case ToolKind::kXargs:
      return "xargs";
    case ToolKind::kMake:
      return "make";
    case ToolKind::kTsp:
      return "tsp";
    case ToolKind::kParallel:
      return "parallel";
    case ToolKind::kBraid:
    case ToolKind::kPlain:
      return "";
  }
  return "";
}

// A Makefile of one phony target per job, `all` depending on every one.
std::string write_makefile(const std::string& scratch, const std::string& job, int n) {
  const std::string path = scratch + "/Makefile";
  std::ofstream out(path, std::ios::trunc);
  out << ".PHONY: all";
  for (int i = 0; i < n; ++i) out << " j" << i;
  out << "\nall:";
  for (int i = 0; i < n; ++i) out << " j" << i;
  out << "\n";
  for (int i = 0; i < n; ++i) out << "j" << i << ":\n\tsh " << job << " " << i << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

// A tool that runs the whole batch as one command (xargs, make, parallel).
void run_one_shot(const Tool& tool, const std::string& job, int n, int slots,
                  Clock::time_point deadline, const std::string& scratch, MemoryProbe& probe) {
  const std::string seq = "seq 0 " + std::to_string(n - 1);
  const std::string p = std::to_string(slots);
  std::string script;
  switch (tool.kind) {
    case ToolKind::kXargs:
      script = seq + " | xargs -P" + p + " -n1 sh " + shell_quote(job);
      break;
    case ToolKind::kParallel:
      script = seq + " | parallel --will-cite -j" + p + " sh " + shell_quote(job);
      break;
    case ToolKind::kMake:
      script = "make -s -j" + p + " -f " + shell_quote(write_makefile(scratch, job, n));
      break;
    default:
      throw std::logic_error("run_one_shot of a queueing tool");
  }
  pid_t pid = -1;
  probe.inside([&] { pid = spawn_shell(script); });
  const int code = wait_exit(pid, deadline, tool.label);
  if (code != 0) throw std::runtime_error(tool.label + ": exited " + std::to_string(code));
}

}  // namespace

std::string missing_tool(const Tool& tool) {
  const std::string program = program_of(tool.kind);
  if (program.empty() || !find_in_path(program).empty()) return "";
  if (tool.kind == ToolKind::kParallel)
    return "GNU parallel not installed (apt-get install parallel)";
  if (tool.kind == ToolKind::kTsp) return "tsp not installed (apt-get install task-spooler)";
  return program + " not installed";
}

BatchFigures run_batch(const Tool& tool, const std::string& job, int n, int slots,
                       std::chrono::seconds timeout, const std::string& scratch) {
  std::filesystem::create_directories(scratch);
  MemoryProbe probe("batch");
  BatchFigures figures;
  figures.probe_mode = probe.mode();
  const auto deadline = Clock::now() + timeout;
  if (tool.kind == ToolKind::kBraid) {
    BraidSession braid(probe, slots, tool.braidd_args);
    probe.start();
    const auto start = Clock::now();
    const auto ids = braid.submit_array(n, "batch-{}", 5, {"sh", job, "{}"});
    braid.wait(ids, deadline);
    figures.makespan_s = seconds_since(start);
    probe.stop();
    figures.preemptions = braid.preemptions();
  } else if (tool.kind == ToolKind::kTsp) {
    TspSession tsp(probe, slots, scratch + "/tsp");
    probe.start();
    const auto start = Clock::now();
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(tsp.submit({"sh", job, std::to_string(i)}));
    tsp.wait(ids, deadline);
    figures.makespan_s = seconds_since(start);
    probe.stop();
  } else {
    probe.start();
    const auto start = Clock::now();
    run_one_shot(tool, job, n, slots, deadline, scratch, probe);
    figures.makespan_s = seconds_since(start);
    probe.stop();
  }
  figures.peak_rss_mib = probe.peak_rss_mib();
  figures.peak_anon_mib = probe.peak_anon_mib();
  figures.sampler_cpu_s = probe.sampler_cpu_s();
  return figures;
}

}  // namespace braid::bench::workload
