// One batch (`sh JOB I` for I in 0..n-1, `slots` at once) under one tool, from
// its first submit until every job finished, with the peak memory of the
// tool and its jobs (MemoryProbe) and, for braid, the preemptions it made.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace braid::bench::workload {

// kPlain: plain processes all started at once (the kernel alone shares the
// CPUs); only the workloads that say so take it, run_batch does not.
enum class ToolKind { kXargs, kMake, kTsp, kParallel, kBraid, kPlain };

struct Tool {
  std::string label;  // as printed, e.g. "braid --started-max=2"
  ToolKind kind = ToolKind::kXargs;
  std::vector<std::string> braidd_args;  // kBraid: extra braidd flags
};

struct BatchFigures {
  double makespan_s = 0;
  double peak_rss_mib = 0;     // Σ RSS of the tool's processes, max over samples
  double peak_anon_mib = 0;    // Σ (RSS - shared), max over samples
  long long preemptions = -1;  // braid only
  double sampler_cpu_s = 0;    // what the memory sampler cost (the harness's own CPU)
  const char* probe_mode = "";
};

// Whether the tool's program is installed ("" when it is, else why not).
std::string missing_tool(const Tool& tool);

// Runs the batch under `tool`; throws (naming the tool) when it fails or
// does not finish within `timeout`. `scratch`: a directory for the tool's
// Makefile, lists and server files.
BatchFigures run_batch(const Tool& tool, const std::string& job, int n, int slots,
                       std::chrono::seconds timeout, const std::string& scratch);

}  // namespace braid::bench::workload
