// Batch submission for the `braid` CLI: tasks from a JSONL text
// (`braid submit --file`), tasks from one command line repeated N times
// (`braid submit --array`), and how a batch's ids are printed. Pure: no
// daemon, no files (the caller opens the stream), no clock.
//
// JSONL: one JSON object per line. Blank lines and lines whose first
// non-blank character is '#' are skipped. The fields mirror the flags of
// `braid submit` (docs/cli.md):
//
//   argv           [string], non-empty        } exactly one of argv and cmd
//   cmd            string, run as ["/bin/sh", "-c", cmd]
//   name           string
//   priority       int 0..10 (default 5)
//   cpus           int, at least 1 (default 1)
//   memory         int bytes >= 0, or a size string like "512M" (as --memory)
//   after          [string]: task ids that must complete first
//   after_any      [string]: task ids that must end first, whatever the outcome
//   after_fail     [string]: task ids that must fail or be cancelled first
//   hold           bool: submit held (braid release starts it)
//   retries        int 0..100 (default 0)
//   retry_backoff  duration string like "2s", 0s..1h (default 1s)
//   time_limit     duration string like "30s" (default none)
//   cwd            string
//   env            {"KEY": "VALUE"} or ["KEY=VALUE"]
//   pin            bool
//
// Anything else (an unknown key, a wrong type, a bad value, a line that is not
// JSON) refuses the whole text with one line:
//   "<source>:<line>: <what is wrong and what is allowed>".
// Each spec is checked with sched::validate_spec; node-dependent checks (cpus
// vs slots, known dependencies) stay the daemon's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "sched/result.h"
#include "sched/task.h"

namespace braid::node {

// Most tasks one submission may carry: the daemon refuses more
// (rpc::kSpecsPerSubmitMax; spec_file.cc checks they agree).
constexpr std::size_t kBatchTasksMax = 100'000;

// One JSONL line (not blank, not a comment) -> a validated spec. Errors name
// the field and what is allowed, without a location.
sched::Result<sched::TaskSpec> spec_from_json_line(std::string_view line);

// Every task of a JSONL text, in order. `source` names the text in errors
// ("tasks.jsonl", "<stdin>"). Refuses the whole text on the first bad line,
// when it holds no task ("no tasks in <source>"), and when it holds more than
// kBatchTasksMax tasks.
sched::Result<std::vector<sched::TaskSpec>> read_spec_lines(std::istream& in,
                                                            std::string_view source);

// Highest index an --array may name.
constexpr long long kArrayIndexMax = 9'999'999;

// An --array argument, Slurm's syntax: "N" (N tasks, indices 0..N-1),
// ranges "1-100", steps "0-99:5", lists "1,3,7-9", each with an optional
// throttle "%K" (at most K of the array started at once). Indices are
// sorted and distinct.
struct ArraySpec {
  std::vector<long long> indices;
  std::uint32_t throttle = 0;  // 0 = no throttle
};
// Errors are one line naming what is allowed.
sched::Result<ArraySpec> parse_array(std::string_view text);

// One copy of `pattern` per index; in the copy for index i every "{}" in
// argv, name, cwd and env values (the part after '=') becomes i, and the
// spec carries array_index = i and the array's throttle. At most
// kBatchTasksMax indices. The pattern is not validated here.
sched::Result<std::vector<sched::TaskSpec>> expand_array(const sched::TaskSpec& pattern,
                                                         const ArraySpec& array);
// `--array count`: indices 0..count-1 (count 1..kBatchTasksMax).
sched::Result<std::vector<sched::TaskSpec>> expand_array(const sched::TaskSpec& pattern,
                                                         long long count);

// Whether one submit message can carry `specs`. braidd reads each message
// under Cap'n Proto's default read limit (capnp::ReaderOptions: 8 Mi words =
// 64 MiB, counted as it reads, and rpc/convert.cc reads every argv, env and
// after string twice). Past it the daemon drops the call and the client would
// only see a transport error, so the CLI refuses first, with one line naming
// the size and what to do. The estimate errs large by a few words per task.
sched::Status check_submit_size(const std::vector<sched::TaskSpec>& specs);

// How `braid submit` prints the ids it got: two or more ids of one node with
// consecutive sequences as one line "n:5..n:1004", anything else one id per
// line. Every line ends in '\n'; no ids, no lines.
std::string format_ids(const std::vector<std::string>& ids);

}  // namespace braid::node
