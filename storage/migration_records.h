// The durable state of migration (issue 11, docs/migration.md) besides the
// task records: the handoff journal, the receivers' fences and the outcome
// outbox, with their byte encodings. Store keeps each in its column family
// keyed by task id (store.h); these codecs encode the values only.
//
// Every value starts with a format version byte (1). Decoders never trust
// the bytes: truncation, trailing bytes, another version, an out-of-range
// state or a string beyond its bound is an Error naming the field. Encoders
// clamp node names to kNodeNameBytesMax, so whatever they write decodes
// (node names are at most 64 bytes anyway, gossip/types.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sched/result.h"
#include "sched/task.h"

namespace braid::storage {

// HandoffRecord::state values.
constexpr std::uint8_t kHandoffMigrating = 1;  // offered to `peer` with `epoch`, no answer yet
constexpr std::uint8_t kHandoffMoved = 2;  // `peer` adopted it; the task is a forwarding pointer
constexpr std::uint8_t kHandoffReclaimed = 3;  // taken back from `peer` (declared dead); ask it
                                               // again once it is alive (duplicate detection)

// The donor's journal entry for one offer of a task (family `journal`),
// keyed by (task id, epoch): a donor may hold a reclaimed entry of a task
// beside the moved entry of its next offer.
struct HandoffRecord {
  std::string task_id;  // the key, with epoch
  std::string peer;     // the receiver
  std::uint64_t epoch = 0;
  std::uint8_t state = kHandoffMigrating;  // kHandoffMigrating, kHandoffMoved or kHandoffReclaimed
  std::int64_t updated_at_us = 0;          // wall clock, when this entry was written

  bool operator==(const HandoffRecord&) const = default;
};

// A receiver's fence (family `fences`): it answered `not have` (or refused)
// for this task, donor and epoch, so a late offer of that donor with that
// epoch (or an older one) is refused. One per (task, donor): epochs of two
// donors cannot be compared.
struct FenceRecord {
  std::string task_id;  // the key, with donor
  std::uint64_t epoch = 0;
  std::string donor;

  bool operator==(const FenceRecord&) const = default;
};

// An outcome the executing node owes the task's origin (family `outbox`),
// kept until the origin acknowledged it.
struct OutcomeReport {
  std::string task_id;     // the key
  std::string origin;      // the node to report to
  std::uint8_t state = 0;  // a sched::TaskState (0..kHeld); normally a terminal one
  std::optional<sched::ExitStatus> exit;
  std::string reason;
  std::int64_t finished_at_us = -1;
  std::int64_t started_at_us = -1;
  int attempts = 0;
  std::int64_t cpu_time_us = 0;

  bool operator==(const OutcomeReport& other) const;
};

// Keys: the journal's is task id, NUL, 8-byte big-endian epoch; the fences'
// is task id, NUL, donor; the outbox's is the task id. Task ids hold no NUL.
std::string handoff_key(std::string_view task_id, std::uint64_t epoch);
std::string fence_key(std::string_view task_id, std::string_view donor);
std::string_view task_id_of_key(std::string_view key);  // up to the NUL, or all

// Values (the task id is in the key, not in the value).
std::string encode_handoff(const HandoffRecord& record);
std::string encode_fence(const FenceRecord& record);
std::string encode_outcome(const OutcomeReport& report);

// Decode a value into `out` (task_id is left as the caller set it); on an
// Error `out` is untouched. Messages name the field, e.g. "truncated in peer".
sched::Status decode_handoff(std::string_view bytes, HandoffRecord& out);
sched::Status decode_fence(std::string_view bytes, FenceRecord& out);
sched::Status decode_outcome(std::string_view bytes, OutcomeReport& out);

}  // namespace braid::storage
