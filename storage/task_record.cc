// Task record encoding, format version 1 (see task_record.h for the contract,
// varint.h for the primitives). Fields in order:
//
//   version                                   varint (= 1)
//   id                                        string
//   state                                     varint, 0..kCancelled
//   flags                                     varint: kFlagPinned | kFlagHasExit |
//                                             kFlagRequeueYes | kFlagRequeueNo
//   priority cpus                             signed
//   memory_bytes                              varint
//   time_limit_us retries retry_backoff_us    signed
//   argv env                                  string lists
//   cwd                                       string
//   after                                     string list
//   name reason                               strings
//   [exit kind, code, error]                  only with kFlagHasExit
//   attempts preemptions cpu_time_us          signed
//   vruntime_ns                               varint
//   submitted_at_us started_at_us
//   finished_at_us not_before_us              signed
//   pgid                                      signed
//   start_ticks                               varint
//   cgroup                                    string
//   measured_cpu_us                           signed
//   -- appended (issue 8); a record that ends before them (written before
//      they existed) decodes them as their defaults --
//   node_requeues array_index                 signed
//   array_throttle array_group                varint
//   after_kinds                               string, one byte per kind
//                                             (empty: every one afterok)
//   env_id                                    varint    the submission's environment
//                                                       (Store::put_env); 0 = none
//   [output                                   string    the output section: only when
//    separate_stderr]                         varint    one is not the default;
//                                                       absent = "", false
//   [account                                  string    issue 9: only when not the
//                                                       default ""; the output section
//                                                       is then written too
//   [hops                                     varint    issue 11 (migration): the
//    moved_to adopted_from                    strings   migration section, only when
//    refusals                                 varint    one of them is not the default
//    {node reason}...                         strings   (0, "", "", none, 0); the output
//    adoption_epoch]                          varint    section and the account ("" if
//                                                       the default) are then written too
//   [constraints                              varint    issue 11 §2: the node labels the
//    {key value}...]                          strings   task needs (spec.constraints),
//                                                       only when it needs some; every
//                                                       section before is then written
//                                                       too. Decoded only if valid
//                                                       (sched::validate_labels).
//
// Migration bounds (checked on decode; the encoder clamps to them, so it never
// writes what the decoder refuses): hops <= kHopsMax, node names <=
// kNodeNameBytesMax bytes, reasons <= sched::kRefusalReasonBytesMax bytes, at
// most sched::kRefusalsKept refusals (the last ones).
//
// A new field means a new version: decoders refuse versions they do not know
// rather than guess.
#include "storage/task_record.h"

#include <algorithm>
#include <limits>

#include "storage/varint.h"

namespace braid::storage {
namespace {

constexpr std::uint64_t kFormatVersion = 1;

constexpr std::uint64_t kFlagPinned = 1u << 0;      // spec.pinned
constexpr std::uint64_t kFlagHasExit = 1u << 1;     // task.exit is set
constexpr std::uint64_t kFlagRequeueYes = 1u << 2;  // spec.requeue_on_restart = kYes
constexpr std::uint64_t kFlagRequeueNo = 1u << 3;   // spec.requeue_on_restart = kNo
constexpr std::uint64_t kFlagsKnown = kFlagPinned | kFlagHasExit | kFlagRequeueYes | kFlagRequeueNo;

constexpr std::size_t kFixedBytesTypical = 64;  // everything but the strings, usually

using sched::ExitStatus;
using sched::Task;
using sched::TaskSpec;
using sched::TaskState;

std::size_t strings_bytes(const std::vector<std::string>& values) {
  std::size_t bytes = 0;
  for (const std::string& value : values) bytes += value.size() + 1;
  return bytes;
}

std::size_t refusals_bytes(const std::vector<sched::Refusal>& refusals) {
  std::size_t bytes = 0;
  for (const sched::Refusal& refusal : refusals)
    bytes += refusal.node.size() + refusal.reason.size() + 2;
  return bytes;
}

std::size_t size_hint(const TaskRecord& record) {
  const Task& t = record.task;
  return kFixedBytesTypical + t.id.size() + strings_bytes(t.spec.argv) + strings_bytes(t.spec.env) +
         t.spec.cwd.size() + strings_bytes(t.spec.after) + t.spec.name.size() + t.reason.size() +
         record.process.cgroup.size() + t.spec.after_kinds.size() + t.spec.output.size() +
         t.spec.account.size() + t.moved_to.size() + t.adopted_from.size() +
         refusals_bytes(t.refusals);
}

std::uint64_t flags_of(const Task& task) {
  const sched::RequeueOnRestart requeue = task.spec.requeue_on_restart;
  return (task.spec.pinned ? kFlagPinned : 0) | (task.exit ? kFlagHasExit : 0) |
         (requeue == sched::RequeueOnRestart::kYes ? kFlagRequeueYes : 0) |
         (requeue == sched::RequeueOnRestart::kNo ? kFlagRequeueNo : 0);
}

void encode_spec(const TaskSpec& spec, std::string& out) {
  put_signed_varint(out, spec.priority);
  put_signed_varint(out, spec.cpus);
  put_varint(out, spec.memory_bytes);
  put_signed_varint(out, spec.time_limit_us);
  put_signed_varint(out, spec.retries);
  put_signed_varint(out, spec.retry_backoff_us);
  put_strings(out, spec.argv);
  put_strings(out, spec.env);
  put_string(out, spec.cwd);
  put_strings(out, spec.after);
  put_string(out, spec.name);
}

void encode_exit(const ExitStatus& exit, std::string& out) {
  put_varint(out, static_cast<std::uint64_t>(exit.kind));
  put_signed_varint(out, exit.code);
  put_string(out, exit.error);
}

void encode_progress_and_times(const Task& task, std::string& out) {
  put_signed_varint(out, task.attempts);
  put_signed_varint(out, task.preemptions);
  put_signed_varint(out, task.cpu_time_us);
  put_varint(out, task.vruntime_ns);
  put_signed_varint(out, task.submitted_at_us);
  put_signed_varint(out, task.started_at_us);
  put_signed_varint(out, task.finished_at_us);
  put_signed_varint(out, task.not_before_us);
}

void encode_process(const ProcessMark& process, std::string& out) {
  put_signed_varint(out, process.pgid);
  put_varint(out, process.start_ticks);
  put_string(out, process.cgroup);
}

bool has_output_section(const TaskSpec& spec) {
  return !spec.output.empty() || spec.separate_stderr;
}

void encode_output_section(const TaskSpec& spec, std::string& out) {
  put_string(out, spec.output);
  put_varint(out, spec.separate_stderr ? 1 : 0);
}

void decode_output_section(FieldReader& in, TaskSpec& spec) {
  in.str("output", spec.output);
  std::uint64_t separate = 0;
  in.u64("separate_stderr", separate);
  if (in.ok() && separate > 1)
    in.fail("separate_stderr " + std::to_string(separate) + " is not 0 or 1");
  spec.separate_stderr = separate == 1;
}

void decode_version(FieldReader& in) {
  std::uint64_t version = 0;
  in.u64("version", version);
  if (in.ok() && version != kFormatVersion) {
    in.fail("format version " + std::to_string(version) + ", this braid reads " +
            std::to_string(kFormatVersion));
  }
}

std::uint64_t decode_flags(FieldReader& in) {
  std::uint64_t flags = 0;
  in.u64("flags", flags);
  if (in.ok() && (flags & ~kFlagsKnown) != 0) {
    in.fail("unknown flags " + std::to_string(flags & ~kFlagsKnown));
  }
  if (in.ok() && (flags & kFlagRequeueYes) != 0 && (flags & kFlagRequeueNo) != 0) {
    in.fail("flags say both requeue and do not requeue on restart");
  }
  return flags;
}

void decode_spec(FieldReader& in, TaskSpec& spec) {
  in.int_in_range("priority", spec.priority);
  in.int_in_range("cpus", spec.cpus);
  in.u64("memory_bytes", spec.memory_bytes);
  in.i64("time_limit_us", spec.time_limit_us);
  in.int_in_range("retries", spec.retries);
  in.i64("retry_backoff_us", spec.retry_backoff_us);
  in.strings("argv", spec.argv);
  in.strings("env", spec.env);
  in.str("cwd", spec.cwd);
  in.strings("after", spec.after);
  in.str("name", spec.name);
}

void decode_exit(FieldReader& in, ExitStatus& exit) {
  in.enumeration("exit kind", exit.kind, ExitStatus::Kind::kSpawnFailed);
  in.int_in_range("exit code", exit.code);
  in.str("exit error", exit.error);
}

void decode_progress_and_times(FieldReader& in, Task& task) {
  in.int_in_range("attempts", task.attempts);
  in.int_in_range("preemptions", task.preemptions);
  in.i64("cpu_time_us", task.cpu_time_us);
  in.u64("vruntime_ns", task.vruntime_ns);
  in.i64("submitted_at_us", task.submitted_at_us);
  in.i64("started_at_us", task.started_at_us);
  in.i64("finished_at_us", task.finished_at_us);
  in.i64("not_before_us", task.not_before_us);
}

void decode_process(FieldReader& in, ProcessMark& process) {
  in.int_in_range("pgid", process.pgid);
  in.u64("start_ticks", process.start_ticks);
  in.str("cgroup", process.cgroup);
}

void encode_appended(const TaskRecord& record, std::string& out) {
  const Task& task = record.task;
  put_signed_varint(out, task.node_requeues);
  put_signed_varint(out, task.spec.array_index);
  put_varint(out, task.spec.array_throttle);
  put_varint(out, task.spec.array_group);
  std::string kinds(task.spec.after_kinds.size(), '\0');
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    kinds[i] = static_cast<char>(task.spec.after_kinds[i]);
  }
  put_string(out, kinds);
  put_varint(out, record.env_id);
}

void decode_appended(FieldReader& in, Task& task, std::uint64_t& env_id) {
  in.int_in_range("node_requeues", task.node_requeues);
  in.int_in_range("array_index", task.spec.array_index);
  std::uint64_t throttle = 0;
  in.u64("array_throttle", throttle);
  if (in.ok() && throttle > std::numeric_limits<std::uint32_t>::max()) {
    in.fail("array_throttle " + std::to_string(throttle) + " does not fit in 32 bits");
  }
  task.spec.array_throttle = static_cast<std::uint32_t>(throttle);
  in.u64("array_group", task.spec.array_group);
  std::string kinds;
  in.str("after_kinds", kinds);
  if (!in.ok()) return;
  if (!kinds.empty() && kinds.size() != task.spec.after.size()) {
    in.fail("after_kinds has " + std::to_string(kinds.size()) + " kinds for " +
            std::to_string(task.spec.after.size()) + " dependencies");
    return;
  }
  task.spec.after_kinds.clear();
  for (char c : kinds) {
    const auto kind = static_cast<std::uint8_t>(c);
    if (kind > static_cast<std::uint8_t>(sched::DepKind::kFail)) {
      in.fail("dependency kind " + std::to_string(kind) + " out of range 0..2");
      return;
    }
    task.spec.after_kinds.push_back(static_cast<sched::DepKind>(kind));
  }
  in.u64("env_id", env_id);
}

bool has_migration_section(const Task& task) {
  return task.hops != 0 || !task.moved_to.empty() || !task.adopted_from.empty() ||
         !task.refusals.empty() || task.adoption_epoch != 0;
}

// At most `max_bytes` of `value`: the encoder's side of the decoder's bounds.
std::string_view clamped(std::string_view value, std::size_t max_bytes) {
  return value.substr(0, std::min(value.size(), max_bytes));
}

void encode_migration_section(const Task& task, std::string& out) {
  put_varint(out, static_cast<std::uint64_t>(std::clamp(task.hops, 0, kHopsMax)));
  put_string(out, clamped(task.moved_to, kNodeNameBytesMax));
  put_string(out, clamped(task.adopted_from, kNodeNameBytesMax));
  const std::size_t skipped =
      task.refusals.size() - std::min(task.refusals.size(), sched::kRefusalsKept);
  put_varint(out, task.refusals.size() - skipped);
  for (std::size_t i = skipped; i < task.refusals.size(); ++i) {
    put_string(out, clamped(task.refusals[i].node, kNodeNameBytesMax));
    put_string(out, clamped(task.refusals[i].reason, sched::kRefusalReasonBytesMax));
  }
  put_varint(out, task.adoption_epoch);
}

void bounded_str(FieldReader& in, const char* field, std::string& out, std::size_t max_bytes) {
  in.str(field, out);
  if (in.ok() && out.size() > max_bytes) {
    in.fail(std::string(field) + " is " + std::to_string(out.size()) + " bytes, at most " +
            std::to_string(max_bytes) + " allowed");
  }
}

void decode_migration_section(FieldReader& in, Task& task) {
  std::uint64_t hops = 0;
  in.u64("hops", hops);
  if (in.ok() && hops > static_cast<std::uint64_t>(kHopsMax)) {
    in.fail("hops " + std::to_string(hops) + " out of range 0.." + std::to_string(kHopsMax));
  }
  task.hops = static_cast<int>(std::min<std::uint64_t>(hops, kHopsMax));
  bounded_str(in, "moved_to", task.moved_to, kNodeNameBytesMax);
  bounded_str(in, "adopted_from", task.adopted_from, kNodeNameBytesMax);
  std::uint64_t count = 0;
  in.u64("refusals", count);
  if (in.ok() && count > sched::kRefusalsKept) {
    in.fail("refusals " + std::to_string(count) + ", at most " +
            std::to_string(sched::kRefusalsKept) + " allowed");
  }
  task.refusals.clear();
  for (std::uint64_t i = 0; i < count && in.ok(); ++i) {
    sched::Refusal& refusal = task.refusals.emplace_back();
    bounded_str(in, "refusal node", refusal.node, kNodeNameBytesMax);
    bounded_str(in, "refusal reason", refusal.reason, sched::kRefusalReasonBytesMax);
  }
  in.u64("adoption_epoch", task.adoption_epoch);
}

void encode_constraints(const TaskSpec& spec, std::string& out) {
  const std::size_t count = std::min(spec.constraints.size(), sched::kLabelsMax);
  put_varint(out, count);
  for (std::size_t i = 0; i < count; ++i) {
    put_string(out, spec.constraints[i].key);
    put_string(out, spec.constraints[i].value);
  }
}

void decode_constraints(FieldReader& in, TaskSpec& spec) {
  std::uint64_t count = 0;
  in.u64("constraints", count);
  if (in.ok() && count > sched::kLabelsMax) {
    in.fail("constraints " + std::to_string(count) + ", at most " +
            std::to_string(sched::kLabelsMax) + " allowed");
  }
  spec.constraints.clear();
  for (std::uint64_t i = 0; i < count && in.ok(); ++i) {
    sched::Label& label = spec.constraints.emplace_back();
    bounded_str(in, "constraint key", label.key, sched::kLabelBytesMax);
    bounded_str(in, "constraint value", label.value, sched::kLabelBytesMax);
  }
  if (in.ok()) {
    if (sched::Status s = sched::validate_labels(spec.constraints); !s) in.fail(s.error().message);
  }
}

}  // namespace

std::string encode_task(const TaskRecord& record) {
  const Task& task = record.task;
  std::string out;
  out.reserve(size_hint(record));
  put_varint(out, kFormatVersion);
  put_string(out, task.id);
  put_varint(out, static_cast<std::uint64_t>(task.state));
  put_varint(out, flags_of(task));
  encode_spec(task.spec, out);
  put_string(out, task.reason);
  if (task.exit) encode_exit(*task.exit, out);
  encode_progress_and_times(task, out);
  encode_process(record.process, out);
  put_signed_varint(out, record.measured_cpu_us);
  encode_appended(record, out);
  const bool has_constraints = !task.spec.constraints.empty();
  const bool has_migration = has_migration_section(task) || has_constraints;
  const bool has_account = !task.spec.account.empty() || has_migration;
  if (has_output_section(task.spec) || has_account) encode_output_section(task.spec, out);
  if (has_account) put_string(out, task.spec.account);
  if (has_migration) encode_migration_section(task, out);
  if (has_constraints) encode_constraints(task.spec, out);
  return out;
}

sched::Status decode_task(std::string_view bytes, TaskRecord& out) {
  // Decoded aside and moved in only when whole: on an Error `out` is untouched.
  Task task;
  ProcessMark process;
  FieldReader in(bytes);
  decode_version(in);
  in.str("id", task.id);
  in.enumeration("state", task.state, TaskState::kHeld);
  const std::uint64_t flags = decode_flags(in);
  decode_spec(in, task.spec);
  task.spec.pinned = (flags & kFlagPinned) != 0;
  task.spec.requeue_on_restart = (flags & kFlagRequeueYes) != 0 ? sched::RequeueOnRestart::kYes
                                 : (flags & kFlagRequeueNo) != 0
                                     ? sched::RequeueOnRestart::kNo
                                     : sched::RequeueOnRestart::kNodeDefault;
  in.str("reason", task.reason);
  if (in.ok() && (flags & kFlagHasExit) != 0) decode_exit(in, task.exit.emplace());
  decode_progress_and_times(in, task);
  decode_process(in, process);
  sched::Micros measured_cpu_us = 0;
  in.i64("measured_cpu_us", measured_cpu_us);
  std::uint64_t env_id = 0;
  if (in.ok() && in.remaining() != 0) decode_appended(in, task, env_id);
  if (in.ok() && in.remaining() != 0) decode_output_section(in, task.spec);
  if (in.ok() && in.remaining() != 0) in.str("account", task.spec.account);
  if (in.ok() && in.remaining() != 0) decode_migration_section(in, task);
  if (in.ok() && in.remaining() != 0) decode_constraints(in, task.spec);
  in.expect_end();
  if (!in.ok()) return sched::Error{"task record: " + in.error()};

  out.task = std::move(task);
  out.process = std::move(process);
  out.measured_cpu_us = measured_cpu_us;
  out.env_id = env_id;
  return sched::ok_status();
}

}  // namespace braid::storage
