// The workloads' inputs, generated deterministically (same seed, same bytes)
// into the benchmark's temp dir once and shared by every tool:
//  - text files for the xz batch: a Zipf-like mixture of pseudo-words,
//    numbers and punctuation in lines, so `xz -6` works as on real text;
//  - a C code base: `count` translation units of a few hundred lines each,
//    including the usual system headers, for one `gcc -O2 -c` per file;
//  - the job script every tool runs per index (`sh job.sh I`), so that all
//    tools run byte-identical commands.
#pragma once

#include <cstdint>
#include <string>

namespace braid::bench::workload {

// DIR/I.txt for I in 0..count-1, each of min_kib..max_kib KiB (uniform,
// deterministic per I).
void make_text_files(const std::string& dir, int count, int min_kib, int max_kib);

// DIR/src/I.c for I in 0..count-1 and an empty DIR/obj/.
void make_c_sources(const std::string& dir, int count);

// DIR/job.sh: `cd DIR && <body>` with "$1" the index; returns its path.
std::string write_job_script(const std::string& dir, const std::string& body);

}  // namespace braid::bench::workload
