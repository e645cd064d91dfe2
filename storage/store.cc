// Store on RocksDB (see store.h for the contract).
//
// Opening never builds a database on top of something it does not
// understand: a missing or empty directory becomes a new database; any other
// directory must already hold a RocksDB database with exactly braid's column
// families, which is checked by reading CURRENT and the MANIFEST only
// (DB::ListColumnFamilies writes nothing) before the read-write open, which
// would otherwise first rotate RocksDB's LOG and create a LOCK file. A
// database of an earlier braid may lack the families added since
// (kAddedFamilies); the open creates them, empty, and nothing else.
//
// Options are sized for a small daemon that cares about its RSS: one 8 MB
// block cache shared by every family (index blocks included), a bounded WAL,
// a few small info logs and a limited number of open files.
#include "storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <iterator>
#include <system_error>

#include "sched/check.h"
#include "storage/varint.h"

namespace braid::storage {
namespace {

namespace fs = std::filesystem;

// Indexed by Batch::Family; "default" is opened too because RocksDB requires it.
constexpr std::array<const char*, 6> kFamilyNames = {"meta",    "tasks",  "journal",
                                                     "members", "fences", "outbox"};
// The families added after the first release (issue 11): an existing database
// may lack them, and the open creates them. Every other one must be there.
constexpr std::array<const char*, 2> kAddedFamilies = {"fences", "outbox"};

constexpr std::string_view kMetaKey = "node";
constexpr std::uint64_t kMetaFormatVersion = 1;
constexpr std::string_view kEnvKeyPrefix = "env/";                  // + 8-byte big-endian id
constexpr std::string_view kEpochFloorKey = "handoff_epoch_floor";  // varint
constexpr std::size_t kTaskKeyBytes = 8;  // big-endian record_no: key order = admission order

constexpr int kOpenFilesMax = 256;
constexpr int kBackgroundJobsMax = 2;
constexpr std::size_t kBlockCacheBytes = 8 << 20;
constexpr std::size_t kScanReadaheadBytes = 2 << 20;
constexpr std::uint64_t kWalBytesPerWriteBuffer = 2;  // max_total_wal_size = 2 x write buffer

// decode_task's messages start with this; load_tasks names the record instead.
constexpr std::string_view kTaskRecordPrefix = "task record: ";

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

sched::Error open_error(const fs::path& dir, const std::string& reason) {
  return {"cannot open database " + dir.string() + ": " + one_line(reason) +
          "; nothing was changed"};
}

sched::Error create_error(const fs::path& dir, const std::string& reason) {
  return {"cannot create database " + dir.string() + ": " + one_line(reason)};
}

sched::Error store_error(const std::string& what, const fs::path& dir,
                         const rocksdb::Status& status) {
  return {what + " " + dir.string() + ": " + one_line(status.ToString())};
}

std::string task_key(std::uint64_t record_no) {
  std::string key;
  put_big_endian64(key, record_no);
  return key;
}

std::uint64_t record_no_of(const rocksdb::Slice& key) {
  BRAID_CHECK(key.size() == kTaskKeyBytes, key.size(), key.ToString(/*hex=*/true));
  std::uint64_t record_no = 0;
  for (std::size_t i = 0; i < kTaskKeyBytes; ++i) {
    record_no = (record_no << 8) | static_cast<std::uint8_t>(key[i]);
  }
  return record_no;
}

std::string hex(const rocksdb::Slice& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<std::uint8_t>(bytes[i]);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

std::string_view view(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

std::string encode_meta(const NodeMeta& meta) {
  std::string out;
  put_varint(out, kMetaFormatVersion);
  put_string(out, meta.node_name);
  put_varint(out, meta.incarnation);
  put_varint(out, meta.next_sequence);
  put_string(out, meta.boot_id);
  return out;
}

sched::Result<NodeMeta> decode_meta(std::string_view bytes) {
  NodeMeta meta;
  FieldReader in(bytes);
  std::uint64_t version = 0;
  in.u64("version", version);
  if (in.ok() && version != kMetaFormatVersion) {
    in.fail("format version " + std::to_string(version) + ", this braid reads " +
            std::to_string(kMetaFormatVersion));
  }
  in.str("node_name", meta.node_name);
  in.u64("incarnation", meta.incarnation);
  in.u64("next_sequence", meta.next_sequence);
  in.str("boot_id", meta.boot_id);
  in.expect_end();
  if (!in.ok()) return sched::Error{in.error()};
  return meta;
}

// True when `dir` is new (created now) or empty: only then may RocksDB create.
sched::Result<bool> prepare_dir(const fs::path& dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (status.type() == fs::file_type::not_found) {
    if (fs::create_directories(dir, ec); ec) return create_error(dir, ec.message());
    return true;
  }
  if (ec) return open_error(dir, ec.message());
  if (!fs::is_directory(status)) return open_error(dir, "not a directory");
  const fs::directory_iterator first(dir, ec);
  if (ec) return open_error(dir, "cannot list the directory: " + ec.message());
  return first == fs::directory_iterator();
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::vector<std::string> family_names_with_default() {
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  names.insert(names.end(), kFamilyNames.begin(), kFamilyNames.end());
  return names;
}

bool is_added_family(const std::string& name) {
  return std::find(kAddedFamilies.begin(), kAddedFamilies.end(), name) != kAddedFamilies.end();
}

// Checks, without writing anything, that `dir` holds a database with braid's
// column families, except perhaps some of kAddedFamilies. True when some are
// missing (the open must create them).
sched::Result<bool> check_existing(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "CURRENT", ec)) {
    return open_error(dir, "the directory is not empty but holds no database (no CURRENT file)");
  }
  std::vector<std::string> found;
  const rocksdb::Status status = rocksdb::DB::ListColumnFamilies({}, dir.string(), &found);
  if (!status.ok()) return open_error(dir, status.ToString());
  std::vector<std::string> expected = family_names_with_default();
  std::sort(found.begin(), found.end());
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> missing;
  std::set_difference(expected.begin(), expected.end(), found.begin(), found.end(),
                      std::back_inserter(missing));
  const bool unknown = !std::includes(expected.begin(), expected.end(), found.begin(), found.end());
  if (unknown || !std::all_of(missing.begin(), missing.end(), is_added_family)) {
    std::vector<std::string> needed;
    std::copy_if(expected.begin(), expected.end(), std::back_inserter(needed),
                 [](const std::string& name) { return !is_added_family(name); });
    return open_error(
        dir, "column families are [" + join(found) + "], braid needs [" + join(needed) +
                 "] and adds [" +
                 join(std::vector<std::string>(kAddedFamilies.begin(), kAddedFamilies.end())) +
                 "] when missing");
  }
  return !missing.empty();
}

// RocksDB's own diagnostics. Its default logger writes a LOG file in the
// database directory, and once a write to that file failed (disk full) the
// next line aborts inside Debian's RocksDB (an assertion in
// WritableFileWriter). This one writes errors to stderr, where braidd's log
// goes, and drops the chatter.
class StderrErrorLogger final : public rocksdb::Logger {
 public:
  StderrErrorLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::ERROR_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    std::fprintf(stderr, "rocksdb: %s\n", line);
  }
};

rocksdb::DBOptions db_options(const StoreOptions& options, bool fresh, bool add_families) {
  rocksdb::DBOptions db;
  db.info_log = std::make_shared<StderrErrorLogger>();
  db.create_if_missing = fresh;
  db.create_missing_column_families = fresh || add_families;
  db.error_if_exists = fresh;  // a database appearing since prepare_dir is not ours to reuse
  db.paranoid_checks = true;
  db.max_total_wal_size = kWalBytesPerWriteBuffer * options.write_buffer_bytes;
  db.max_open_files = kOpenFilesMax;
  db.max_background_jobs = kBackgroundJobsMax;
  return db;
}

rocksdb::ColumnFamilyOptions family_options(const StoreOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table.cache_index_and_filter_blocks = true;  // index memory is bounded by the cache too
  rocksdb::ColumnFamilyOptions family;
  family.write_buffer_size = options.write_buffer_bytes;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return family;
}

}  // namespace

Batch::Batch() = default;
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::put_task(const TaskRecord& record) {
  ops_.push_back({Family::kTasks, false, task_key(record.record_no), encode_task(record)});
}

void Batch::delete_task(std::uint64_t record_no) {
  ops_.push_back({Family::kTasks, true, task_key(record_no), {}});
}

void Batch::put_meta(const NodeMeta& meta) {
  ops_.push_back({Family::kMeta, false, std::string(kMetaKey), encode_meta(meta)});
}

void Batch::put_env(std::uint64_t env_id, const std::vector<std::string>& entries) {
  std::string value;
  put_varint(value, entries.size());
  for (const std::string& entry : entries) put_string(value, entry);
  ops_.push_back({Family::kMeta, false, std::string(kEnvKeyPrefix) + task_key(env_id), value});
}

void Batch::delete_env(std::uint64_t env_id) {
  ops_.push_back({Family::kMeta, true, std::string(kEnvKeyPrefix) + task_key(env_id), {}});
}

void Batch::put_member(const MemberRecord& member) {
  std::string value;
  put_string(value, member.address);
  put_varint(value, member.incarnation);
  put_varint(value, member.state);
  put_varint(value, zigzag_encode(member.updated_at_us));
  ops_.push_back({Family::kMembers, false, member.name, value});
}

void Batch::delete_member(const std::string& name) {
  ops_.push_back({Family::kMembers, true, name, {}});
}

void Batch::put_handoff_epoch_floor(std::uint64_t floor) {
  std::string value;
  put_varint(value, floor);
  ops_.push_back({Family::kMeta, false, std::string(kEpochFloorKey), std::move(value)});
}

void Batch::put_handoff(const HandoffRecord& record) {
  ops_.push_back(
      {Family::kJournal, false, handoff_key(record.task_id, record.epoch), encode_handoff(record)});
}

void Batch::delete_handoff(const std::string& task_id, std::uint64_t epoch) {
  ops_.push_back({Family::kJournal, true, handoff_key(task_id, epoch), {}});
}

void Batch::put_fence(const FenceRecord& record) {
  ops_.push_back(
      {Family::kFences, false, fence_key(record.task_id, record.donor), encode_fence(record)});
}

void Batch::delete_fence(const std::string& task_id, const std::string& donor) {
  ops_.push_back({Family::kFences, true, fence_key(task_id, donor), {}});
}

void Batch::put_outcome(const OutcomeReport& report) {
  ops_.push_back({Family::kOutbox, false, report.task_id, encode_outcome(report)});
}

void Batch::delete_outcome(const std::string& task_id) {
  ops_.push_back({Family::kOutbox, true, task_id, {}});
}

void Batch::append(const Batch& other) {
  if (&other == this) {  // insert() may not take a range of the vector it grows
    const std::vector<Op> copy = other.ops_;
    ops_.insert(ops_.end(), copy.begin(), copy.end());
    return;
  }
  ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
}

std::size_t Batch::count() const { return ops_.size(); }

sched::Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir,
                                                  const StoreOptions& options) {
  const sched::Result<bool> fresh = prepare_dir(dir);
  if (!fresh) return fresh.error();
  bool add_families = false;
  if (!fresh.value()) {
    const sched::Result<bool> existing = check_existing(dir);
    if (!existing) return existing.error();
    add_families = existing.value();
  }

  const rocksdb::ColumnFamilyOptions family = family_options(options);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : family_names_with_default())
    descriptors.emplace_back(name, family);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(db_options(options, fresh.value(), add_families),
                                                   dir.string(), descriptors, &handles, &db);
  if (!status.ok()) {
    return fresh.value() ? create_error(dir, status.ToString())
                         : open_error(dir, status.ToString());
  }

  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  store->db_.reset(db);
  BRAID_CHECK(handles.size() == descriptors.size(), handles.size(), descriptors.size());
  // The "default" handle is unused (DefaultColumnFamily() stays available).
  const rocksdb::Status destroyed = db->DestroyColumnFamilyHandle(handles[0]);
  BRAID_CHECK(destroyed.ok(), destroyed.ToString());
  store->families_.assign(handles.begin() + 1, handles.end());
  return store;
}

Store::~Store() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* family : families_) {
    // Only fails for DefaultColumnFamily(), which is not among them.
    [[maybe_unused]] const rocksdb::Status destroyed = db_->DestroyColumnFamilyHandle(family);
  }
  // Nobody to tell from a destructor; every acknowledged write is in the WAL.
  [[maybe_unused]] const rocksdb::Status closed = db_->Close();
}

sched::Result<std::uint64_t> Store::read_handoff_epoch_floor() const {
  std::string value;
  const rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), families_[static_cast<std::size_t>(Batch::Family::kMeta)],
               kEpochFloorKey, &value);
  if (status.IsNotFound()) return std::uint64_t{0};
  if (!status.ok()) return store_error("cannot read the handoff epoch floor in", dir_, status);
  FieldReader in(value);
  std::uint64_t floor = 0;
  in.u64("handoff epoch floor", floor);
  in.expect_end();
  if (!in.ok()) return sched::Error{"handoff epoch floor in " + dir_.string() + ": " + in.error()};
  return floor;
}

sched::Result<NodeMeta> Store::read_meta() const {
  std::string value;
  const rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), families_[static_cast<std::size_t>(Batch::Family::kMeta)],
               kMetaKey, &value);
  if (status.IsNotFound()) return NodeMeta{};
  if (!status.ok()) return store_error("cannot read node meta in", dir_, status);
  sched::Result<NodeMeta> meta = decode_meta(value);
  if (!meta) return sched::Error{"node meta in " + dir_.string() + ": " + meta.error().message};
  return meta;
}

std::uint64_t Store::estimated_task_count() const {
  std::uint64_t keys = 0;
  db_->GetIntProperty(families_[static_cast<std::size_t>(Batch::Family::kTasks)],
                      "rocksdb.estimate-num-keys", &keys);
  return keys;
}

sched::Status Store::load_tasks(const std::function<void(TaskRecord&&)>& visit) const {
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;  // read once at start; keep the cache for later reads
  scan.readahead_size = kScanReadaheadBytes;
  const std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(scan, families_[static_cast<std::size_t>(Batch::Family::kTasks)]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != kTaskKeyBytes) {
      return sched::Error{"task record key " + hex(key) + " in " + dir_.string() + ": " +
                          std::to_string(key.size()) + " bytes, keys are " +
                          std::to_string(kTaskKeyBytes)};
    }
    TaskRecord record;
    record.record_no = record_no_of(key);
    if (sched::Status decoded = decode_task(view(it->value()), record); !decoded) {
      std::string_view reason = decoded.error().message;
      if (reason.starts_with(kTaskRecordPrefix)) reason.remove_prefix(kTaskRecordPrefix.size());
      return sched::Error{"task record " + std::to_string(record.record_no) + " in " +
                          dir_.string() + ": " + std::string(reason)};
    }
    visit(std::move(record));
  }
  if (!it->status().ok()) return store_error("cannot read task records in", dir_, it->status());
  return sched::ok_status();
}

sched::Status Store::load_envs(
    const std::function<void(std::uint64_t, std::vector<std::string>&&)>& visit) const {
  const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), families_[static_cast<std::size_t>(Batch::Family::kMeta)]));
  for (it->Seek(kEnvKeyPrefix); it->Valid() && it->key().starts_with(kEnvKeyPrefix); it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(kEnvKeyPrefix.size());
    if (key.size() != kTaskKeyBytes) {
      return sched::Error{"environment key " + hex(it->key()) + " in " + dir_.string() +
                          ": not env/ and 8 bytes"};
    }
    const std::uint64_t env_id = record_no_of(key);
    FieldReader in(view(it->value()));
    std::uint64_t count = 0;
    in.u64("entries", count);
    std::vector<std::string> entries;
    for (std::uint64_t i = 0; in.ok() && i < count; ++i) {
      std::string entry;
      in.str("entry", entry);
      entries.push_back(std::move(entry));
    }
    in.expect_end();
    if (!in.ok()) {
      return sched::Error{"environment " + std::to_string(env_id) + " in " + dir_.string() + ": " +
                          in.error()};
    }
    visit(env_id, std::move(entries));
  }
  if (!it->status().ok()) return store_error("cannot read environments in", dir_, it->status());
  return sched::ok_status();
}

sched::Status Store::load_members(const std::function<void(MemberRecord&&)>& visit) const {
  const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), families_[static_cast<std::size_t>(Batch::Family::kMembers)]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    MemberRecord member;
    member.name = it->key().ToString();
    FieldReader in(view(it->value()));
    in.str("address", member.address);
    in.u64("incarnation", member.incarnation);
    std::uint64_t state = 0;
    in.u64("state", state);
    member.state = static_cast<std::uint8_t>(std::min<std::uint64_t>(state, 255));
    in.i64("updated_at", member.updated_at_us);
    in.expect_end();
    if (!in.ok() || state > 3) {
      return sched::Error{"member " + hex(it->key()) + " in " + dir_.string() + ": " +
                          (in.ok() ? std::string("state out of range") : in.error())};
    }
    visit(std::move(member));
  }
  if (!it->status().ok()) return store_error("cannot read members in", dir_, it->status());
  return sched::ok_status();
}

template <typename Record>
sched::Status Store::load_by_task_id(int family, const char* what,
                                     sched::Status (*decode)(std::string_view, Record&),
                                     const std::function<void(Record&&)>& visit) const {
  const std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_[static_cast<std::size_t>(family)]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Record record;
    record.task_id = std::string(task_id_of_key(view(it->key())));
    if (sched::Status decoded = decode(view(it->value()), record); !decoded) {
      const bool printable = sched::validate_task_id(record.task_id).ok();
      return sched::Error{std::string(what) + " " +
                          (printable ? record.task_id : "key " + hex(it->key())) + " in " +
                          dir_.string() + ": " + decoded.error().message};
    }
    visit(std::move(record));
  }
  if (!it->status().ok()) {
    return store_error(std::string("cannot read ") + what + " entries in", dir_, it->status());
  }
  return sched::ok_status();
}

sched::Status Store::load_handoffs(const std::function<void(HandoffRecord&&)>& visit) const {
  return load_by_task_id(static_cast<int>(Batch::Family::kJournal), "handoff", &decode_handoff,
                         visit);
}

sched::Status Store::load_fences(const std::function<void(FenceRecord&&)>& visit) const {
  return load_by_task_id(static_cast<int>(Batch::Family::kFences), "fence", &decode_fence, visit);
}

sched::Status Store::load_outbox(const std::function<void(OutcomeReport&&)>& visit) const {
  return load_by_task_id(static_cast<int>(Batch::Family::kOutbox), "outcome report",
                         &decode_outcome, visit);
}

sched::Status Store::write(const Batch& batch, bool sync) { return write_all({&batch}, sync); }

sched::Status Store::write_all(const std::vector<const Batch*>& batches, bool sync) {
  if (!failure_.empty()) {
    return sched::Error{"the database " + dir_.string() +
                        " takes no more writes after an earlier failure (" + failure_ +
                        "); fix the cause and restart braidd"};
  }
  rocksdb::WriteBatch writes;
  for (const Batch* batch : batches) {
    for (const Batch::Op& op : batch->ops_) {
      rocksdb::ColumnFamilyHandle* family = families_[static_cast<std::size_t>(op.family)];
      const rocksdb::Status added =
          op.is_delete ? writes.Delete(family, op.key) : writes.Put(family, op.key, op.value);
      if (!added.ok()) return store_error("cannot prepare a write to", dir_, added);
    }
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  const rocksdb::Status status = db_->Write(options, &writes);
  if (!status.ok()) {
    // Sticky: RocksDB may resume by itself and flush what it buffered, so a
    // write refused now could come back; nothing more is written instead.
    failure_ = status.ToString();
    return store_error("cannot write to database", dir_, status);
  }
  return sched::ok_status();
}

}  // namespace braid::storage
