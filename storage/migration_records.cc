// Migration record encodings (see migration_records.h for the contract,
// varint.h for the primitives). Values, fields in order:
//
//   handoff  version (= 1)           varint
//            peer                    string, 0..kNodeNameBytesMax bytes
//            epoch                   varint
//            state                   varint, 1..3 (kHandoffMigrating..kHandoffReclaimed)
//            updated_at_us           signed
//
//   fence    version (= 1)           varint
//            donor                   string, 0..kNodeNameBytesMax bytes
//            epoch                   varint
//
//   outcome  version (= 1)           varint
//            origin                  string, 0..kNodeNameBytesMax bytes
//            state                   varint, a sched::TaskState (0..kHeld)
//            has_exit                varint, 0 or 1
//            [exit kind, code, error] varint 0..kSpawnFailed, signed, string; with has_exit
//            reason                  string
//            finished_at_us started_at_us  signed
//            attempts cpu_time_us    signed
//
// A new field means a new version, or an optional tail as in task_record.cc.
#include "storage/migration_records.h"

#include <algorithm>

#include "storage/task_record.h"
#include "storage/varint.h"

namespace braid::storage {
namespace {

constexpr std::uint64_t kHandoffVersion = 1;
constexpr std::uint64_t kFenceVersion = 1;
constexpr std::uint64_t kOutcomeVersion = 1;

void decode_version(FieldReader& in, std::uint64_t expected) {
  std::uint64_t version = 0;
  in.u64("version", version);
  if (in.ok() && version != expected) {
    in.fail("format version " + std::to_string(version) + ", this braid reads " +
            std::to_string(expected));
  }
}

void put_node_name(std::string& out, std::string_view name) {
  put_string(out, name.substr(0, std::min(name.size(), kNodeNameBytesMax)));
}

void node_name(FieldReader& in, const char* field, std::string& out) {
  in.str(field, out);
  if (in.ok() && out.size() > kNodeNameBytesMax) {
    in.fail(std::string(field) + " is " + std::to_string(out.size()) + " bytes, at most " +
            std::to_string(kNodeNameBytesMax) + " allowed");
  }
}

// A varint that must be in min..max, stored into a byte.
void small_enum(FieldReader& in, const char* field, std::uint8_t& out, std::uint8_t min,
                std::uint8_t max) {
  std::uint64_t raw = 0;
  in.u64(field, raw);
  if (in.ok() && (raw < min || raw > max)) {
    in.fail(std::string(field) + " " + std::to_string(raw) + " out of range " +
            std::to_string(min) + ".." + std::to_string(max));
  }
  out = static_cast<std::uint8_t>(std::min<std::uint64_t>(raw, max));
}

}  // namespace

bool OutcomeReport::operator==(const OutcomeReport& other) const {
  const auto same_exit = [](const std::optional<sched::ExitStatus>& a,
                            const std::optional<sched::ExitStatus>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->kind == b->kind && a->code == b->code && a->error == b->error);
  };
  return task_id == other.task_id && origin == other.origin && state == other.state &&
         same_exit(exit, other.exit) && reason == other.reason &&
         finished_at_us == other.finished_at_us && started_at_us == other.started_at_us &&
         attempts == other.attempts && cpu_time_us == other.cpu_time_us;
}

std::string encode_handoff(const HandoffRecord& record) {
  std::string out;
  put_varint(out, kHandoffVersion);
  put_node_name(out, record.peer);
  put_varint(out, record.epoch);
  put_varint(out, record.state);
  put_signed_varint(out, record.updated_at_us);
  return out;
}

sched::Status decode_handoff(std::string_view bytes, HandoffRecord& out) {
  HandoffRecord record;
  FieldReader in(bytes);
  decode_version(in, kHandoffVersion);
  node_name(in, "peer", record.peer);
  in.u64("epoch", record.epoch);
  small_enum(in, "state", record.state, kHandoffMigrating, kHandoffReclaimed);
  in.i64("updated_at_us", record.updated_at_us);
  in.expect_end();
  if (!in.ok()) return sched::Error{in.error()};
  record.task_id = std::move(out.task_id);
  out = std::move(record);
  return sched::ok_status();
}

std::string encode_fence(const FenceRecord& record) {
  std::string out;
  put_varint(out, kFenceVersion);
  put_node_name(out, record.donor);
  put_varint(out, record.epoch);
  return out;
}

sched::Status decode_fence(std::string_view bytes, FenceRecord& out) {
  FieldReader in(bytes);
  decode_version(in, kFenceVersion);
  std::string donor;
  node_name(in, "donor", donor);
  std::uint64_t epoch = 0;
  in.u64("epoch", epoch);
  in.expect_end();
  if (!in.ok()) return sched::Error{in.error()};
  out.donor = std::move(donor);
  out.epoch = epoch;
  return sched::ok_status();
}

std::string handoff_key(std::string_view task_id, std::uint64_t epoch) {
  std::string key(task_id);
  key.push_back('\0');
  put_big_endian64(key, epoch);
  return key;
}

std::string fence_key(std::string_view task_id, std::string_view donor) {
  std::string key(task_id);
  key.push_back('\0');
  key.append(donor);
  return key;
}

std::string_view task_id_of_key(std::string_view key) { return key.substr(0, key.find('\0')); }

std::string encode_outcome(const OutcomeReport& report) {
  std::string out;
  put_varint(out, kOutcomeVersion);
  put_node_name(out, report.origin);
  put_varint(out, report.state);
  put_varint(out, report.exit ? 1 : 0);
  if (report.exit) {
    put_varint(out, static_cast<std::uint64_t>(report.exit->kind));
    put_signed_varint(out, report.exit->code);
    put_string(out, report.exit->error);
  }
  put_string(out, report.reason);
  put_signed_varint(out, report.finished_at_us);
  put_signed_varint(out, report.started_at_us);
  put_signed_varint(out, report.attempts);
  put_signed_varint(out, report.cpu_time_us);
  return out;
}

sched::Status decode_outcome(std::string_view bytes, OutcomeReport& out) {
  OutcomeReport report;
  FieldReader in(bytes);
  decode_version(in, kOutcomeVersion);
  node_name(in, "origin", report.origin);
  small_enum(in, "state", report.state, 0, static_cast<std::uint8_t>(sched::TaskState::kHeld));
  std::uint8_t has_exit = 0;
  small_enum(in, "has_exit", has_exit, 0, 1);
  if (in.ok() && has_exit == 1) {
    sched::ExitStatus& exit = report.exit.emplace();
    in.enumeration("exit kind", exit.kind, sched::ExitStatus::Kind::kSpawnFailed);
    in.int_in_range("exit code", exit.code);
    in.str("exit error", exit.error);
  }
  in.str("reason", report.reason);
  in.i64("finished_at_us", report.finished_at_us);
  in.i64("started_at_us", report.started_at_us);
  in.int_in_range("attempts", report.attempts);
  in.i64("cpu_time_us", report.cpu_time_us);
  in.expect_end();
  if (!in.ok()) return sched::Error{in.error()};
  report.task_id = std::move(out.task_id);
  out = std::move(report);
  return sched::ok_status();
}

}  // namespace braid::storage
