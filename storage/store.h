// Store: a node's durable state in RocksDB at <data_dir>/db.
//
// Column families:
//   meta     node identity: name, incarnation, next sequence, boot id; and
//            the submitters' environments ("env/" + 8-byte big-endian id),
//            one per submission, which its tasks refer to by id
//            and the handoff donor's epoch floor ("handoff_epoch_floor")
//   tasks    TaskRecord by record number (8-byte big-endian key, so
//            iteration is admission order)
//   journal  the handoff journal: HandoffRecord by (task id, epoch), one per
//            offer of a task this node made (migrating, moved or reclaimed)
//   members  MemberRecord by member name: the peers this node knew, so a
//            restarted node rejoins without its seeds
//   fences   FenceRecord by (task id, donor): offers this node answered `not
//            have` or refused, so a late offer of that epoch is refused (issue 11)
//   outbox   OutcomeReport by task id: outcomes of adopted tasks not yet
//            acknowledged by their origin (issue 11)
// (migration_records.h has the journal's, fences' and outbox's records.)
//
// Contract:
//  - open() never repairs, recreates or wipes anything. A missing directory
//    is created as a new, empty database; anything unreadable (corruption,
//    a wrong format, no permission, another process holding it) is an Error
//    whose one-line message names the path and RocksDB's reason. The one
//    thing it adds: the families a database of an earlier braid lacks
//    (fences, outbox) are created, empty, at open.
//  - Writes are whole Batches (one RocksDB WriteBatch each: all or nothing).
//    write() with sync=true returns only once the batch is on disk.
//  - Thread-safety: the load_*() calls and read_meta() on one thread before writing
//    starts; afterwards write() may be called from any single thread (the
//    Committer's). RocksDB itself is thread-safe; this contract keeps the
//    order of a task's writes obvious.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sched/result.h"
#include "storage/migration_records.h"
#include "storage/task_record.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace braid::storage {

struct NodeMeta {
  std::string node_name;            // empty in a new database
  std::uint64_t incarnation = 0;    // 0 in a new database; braidd stores +1 at each start
  std::uint64_t next_sequence = 1;  // next id sequence / record number to give
  std::string boot_id;              // /proc/sys/kernel/random/boot_id of the incarnation

  bool operator==(const NodeMeta&) const = default;
};

// A peer as the members family keeps it. State: 0 alive, 1 suspect, 2 dead,
// 3 left (gossip::MemberState's values).
struct MemberRecord {
  std::string name;
  std::string address;
  std::uint64_t incarnation = 0;
  std::uint8_t state = 0;
  std::int64_t updated_at_us = 0;  // wall clock, when this record was written

  bool operator==(const MemberRecord&) const = default;
};

// One atomic group of writes.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;

  void put_task(const TaskRecord& record);
  void delete_task(std::uint64_t record_no);
  void put_meta(const NodeMeta& meta);
  // A submission's environment ("KEY=VALUE" entries), stored once for all
  // its tasks (TaskRecord::env_id); deleted once no task refers to it.
  void put_env(std::uint64_t env_id, const std::vector<std::string>& entries);
  void delete_env(std::uint64_t env_id);
  void put_member(const MemberRecord& member);
  void delete_member(const std::string& name);
  // The handoff journal (keyed by task id and epoch), fences (by task id and
  // donor) and outbox (by task id); a put replaces the entry of its key.
  void put_handoff(const HandoffRecord& record);
  // The donor's epoch floor (sched::HandoffDonor's kPersistEpochs): every
  // epoch it gave is below it. In the meta family.
  void put_handoff_epoch_floor(std::uint64_t floor);
  void delete_handoff(const std::string& task_id, std::uint64_t epoch);
  void put_fence(const FenceRecord& record);
  void delete_fence(const std::string& task_id, const std::string& donor);
  void put_outcome(const OutcomeReport& report);
  void delete_outcome(const std::string& task_id);
  // Appends every write of `other` after this batch's own.
  void append(const Batch& other);

  std::size_t count() const;  // writes in the batch
  bool empty() const { return count() == 0; }

 private:
  friend class Store;
  // Column families are resolved when the Store writes; the batch records
  // (family, key, value) in this order.
  enum class Family : std::uint8_t { kMeta, kTasks, kJournal, kMembers, kFences, kOutbox };
  struct Op {
    Family family = Family::kMeta;
    bool is_delete = false;
    std::string key;
    std::string value;  // empty for a delete
  };
  std::vector<Op> ops_;
};

struct StoreOptions {
  // RocksDB memtable size; bounds the WAL replayed at open.
  std::uint64_t write_buffer_bytes = 64ull << 20;
};

class Store {
 public:
  // Opens (or creates) the database in `dir`. See the contract above.
  static sched::Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                                    const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& path() const { return dir_; }

  // The node meta as stored (defaults in a new database).
  sched::Result<NodeMeta> read_meta() const;
  // The last put_handoff_epoch_floor (0: none yet).
  sched::Result<std::uint64_t> read_handoff_epoch_floor() const;

  // Calls `visit` for every task record in record-number order. Stops at the
  // first undecodable record with an Error naming its key and the reason
  // (the database is left untouched).
  sched::Status load_tasks(const std::function<void(TaskRecord&&)>& visit) const;
  // Calls `visit` for every stored environment. Stops at the first
  // undecodable one with an Error naming it.
  sched::Status load_envs(
      const std::function<void(std::uint64_t env_id, std::vector<std::string>&& entries)>& visit)
      const;
  // RocksDB's estimate of the task records stored (for sizing before a load).
  std::uint64_t estimated_task_count() const;
  // Every stored member, in name order; an undecodable record is an Error.
  sched::Status load_members(const std::function<void(MemberRecord&&)>& visit) const;
  // Every journal entry, fence and outcome report, in task id (byte) order;
  // the first undecodable one is an Error naming its family, key and reason.
  sched::Status load_handoffs(const std::function<void(HandoffRecord&&)>& visit) const;
  sched::Status load_fences(const std::function<void(FenceRecord&&)>& visit) const;
  sched::Status load_outbox(const std::function<void(OutcomeReport&&)>& visit) const;

  // Writes the batch atomically; with sync, returns after it is durable.
  // An Error (disk full, read-only, ...) means nothing of the batch is
  // visible, and every later write is refused too (sticky: see store.cc).
  sched::Status write(const Batch& batch, bool sync);
  // Writes several batches as one: all of them or none (group commit).
  sched::Status write_all(const std::vector<const Batch*>& batches, bool sync);

 private:
  Store() = default;
  // Visits every value of a family keyed by task id (load_handoffs, ...);
  // `what` names the record in errors.
  template <typename Record>
  sched::Status load_by_task_id(int family, const char* what,
                                sched::Status (*decode)(std::string_view, Record&),
                                const std::function<void(Record&&)>& visit) const;
  std::filesystem::path dir_;
  std::string failure_;  // the first failed write's reason; writes stop after it
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // indexed by Batch::Family
  // (the implementation owns the handles and closes them before db_)
};

}  // namespace braid::storage
