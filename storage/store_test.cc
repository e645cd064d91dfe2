// Store on a real RocksDB in a fresh temp dir per test: persistence across
// reopen, batch atomicity, refusal (untouched) of directories it does not
// understand, and load errors that name the bad record.
#include "storage/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <array>
#include <vector>

#include "storage/test_util.h"
#include "storage/varint.h"

namespace braid::storage {
namespace {

using testing::open_ok;
using testing::snapshot;
using testing::TempDir;
using testing::typical_record;

std::vector<TaskRecord> load_all(const Store& store) {
  std::vector<TaskRecord> records;
  const sched::Status s =
      store.load_tasks([&](TaskRecord&& r) { records.push_back(std::move(r)); });
  EXPECT_TRUE(s) << s.error().message;
  return records;
}

std::vector<std::uint64_t> record_nos(const std::vector<TaskRecord>& records) {
  std::vector<std::uint64_t> nos;
  for (const TaskRecord& r : records) nos.push_back(r.record_no);
  return nos;
}

std::string key_of(std::uint64_t record_no) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, record_no >>= 8) key[i] = static_cast<char>(record_no & 0xff);
  return key;
}

// The column families of each braid's databases.
const std::vector<std::string> kFamilies = {"default", "meta",   "tasks", "journal",
                                            "members", "fences", "outbox"};
// Before issue 11 (fences, outbox).
const std::vector<std::string> kFamiliesBeforeMigration = {"default", "meta", "tasks", "journal",
                                                           "members"};

// Writes raw values into `families` of the database in `dir` behind the
// Store's back, as a corruption or an earlier braid would; creates the
// database and the families when missing. Writes: (family, key, value).
void put_raws(const std::filesystem::path& dir, const std::vector<std::string>& families,
              const std::vector<std::array<std::string, 3>>& writes) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : families) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), descriptors, &handles, &db).ok());
  for (const auto& [family, key, value] : writes) {
    bool found = false;
    for (std::size_t i = 0; i < descriptors.size(); ++i) {
      if (descriptors[i].name != family) continue;
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i], key, value).ok());
      found = true;
    }
    ASSERT_TRUE(found) << family;
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

std::vector<std::string> families_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir.string(), &names).ok());
  std::sort(names.begin(), names.end());
  return names;
}

// Writes one raw value behind the Store's back, as a corruption would.
void put_raw(const std::filesystem::path& dir, const std::string& family, const std::string& key,
             const std::string& value) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : kFamilies) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, dir.string(), descriptors, &handles, &db).ok());
  for (std::size_t i = 0; i < descriptors.size(); ++i) {
    if (descriptors[i].name == family) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i], key, value).ok());
    }
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

NodeMeta sample_meta() { return {"node-a", 7, 1234, "0f3e-boot"}; }

TEST(Store, NewDirectoryIsAnEmptyDatabase) {
  TempDir tmp;
  const std::filesystem::path dir = tmp.path() / "data" / "db";
  std::unique_ptr<Store> store = open_ok(dir);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->path(), dir);
  sched::Result<NodeMeta> meta = store->read_meta();
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_EQ(meta.value(), NodeMeta{});
  EXPECT_TRUE(load_all(*store).empty());
}

TEST(Store, EmptyExistingDirectoryBecomesADatabase) {
  TempDir tmp;
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "CURRENT"));
}

TEST(Store, MetaAndTasksSurviveReopenInRecordOrder) {
  TempDir tmp;
  const std::vector<std::uint64_t> written = {300, 2, 70000, 1ull << 40, 1, 256};
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_meta(sample_meta());
    for (const std::uint64_t no : written) batch.put_task(typical_record(no));
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  sched::Result<NodeMeta> meta = store->read_meta();
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_EQ(meta.value(), sample_meta());
  const std::vector<TaskRecord> records = load_all(*store);
  EXPECT_EQ(record_nos(records), (std::vector<std::uint64_t>{1, 2, 256, 300, 70000, 1ull << 40}));
  for (const TaskRecord& r : records) {
    EXPECT_EQ(encode_task(r), encode_task(typical_record(r.record_no))) << r.record_no;
  }
}

TEST(Store, EnvironmentsAreStoredBesideTheMetaAndDeletedByBatch) {
  TempDir tmp;
  const std::vector<std::string> env_a = {"HOME=/home/ada", "EMPTY=", "EQ=a=b"};
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_meta(sample_meta());
    batch.put_env(5, env_a);
    batch.put_env(1ull << 40, {});
    batch.put_env(9, {"X=1"});
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
    Batch drop;
    drop.delete_env(9);
    ASSERT_TRUE(store->write(drop, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> seen;
  ASSERT_TRUE(store->load_envs([&](std::uint64_t id, std::vector<std::string>&& entries) {
    seen.emplace_back(id, std::move(entries));
  }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, 5u);
  EXPECT_EQ(seen[0].second, env_a);
  EXPECT_EQ(seen[1].first, 1ull << 40);
  EXPECT_TRUE(seen[1].second.empty());
  EXPECT_EQ(store->read_meta().value(), sample_meta());  // the meta key is not an environment
}

TEST(Store, MembersSurviveReopenAndAreReplacedOrDeletedByName) {
  TempDir tmp;
  const MemberRecord a{"node-a", "10.0.0.1:7946", 3, 0, 1'700'000'000'000'000};
  const MemberRecord b{"node-b", "[::1]:7000", 9, 2, -5};
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_member(b);
    batch.put_member(a);
    batch.put_member(MemberRecord{"node-c", "10.0.0.3:7946", 1, 1, 0});
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
    Batch change;
    change.put_member(MemberRecord{"node-a", "10.0.0.1:7946", 3, 0, 1'700'000'000'000'000});
    change.delete_member("node-c");
    ASSERT_TRUE(store->write(change, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<MemberRecord> seen;
  ASSERT_TRUE(store->load_members([&](MemberRecord&& m) { seen.push_back(std::move(m)); }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], a);  // name order
  EXPECT_EQ(seen[1], b);
  std::uint64_t tasks = 0;
  ASSERT_TRUE(store->load_tasks([&](TaskRecord&&) { ++tasks; }));
  EXPECT_EQ(tasks, 0u);  // members are not tasks
}

template <typename Record>
std::vector<Record> load_family(const Store& store,
                                sched::Status (Store::*load)(const std::function<void(Record&&)>&)
                                    const) {
  std::vector<Record> seen;
  const sched::Status s = (store.*load)([&](Record&& r) { seen.push_back(std::move(r)); });
  EXPECT_TRUE(s) << s.error().message;
  return seen;
}

OutcomeReport sample_outcome(std::string task_id) {
  OutcomeReport r;
  r.task_id = std::move(task_id);
  r.origin = "node-a";
  r.state = static_cast<std::uint8_t>(sched::TaskState::kCompleted);
  r.exit = sched::ExitStatus::exited(0);
  r.finished_at_us = 1'700'000'000'900'000;
  r.started_at_us = 1'700'000'000'100'000;
  r.attempts = 1;
  r.cpu_time_us = 800'000;
  return r;
}

TEST(Store, HandoffsFencesAndOutboxSurviveReopenKeyedByTaskId) {
  TempDir tmp;
  const HandoffRecord moved{"node-a:9", "node-b", 3, kHandoffMoved, 1'700'000'000'000'000};
  const HandoffRecord migrating{"node-a:10", "node-c", 1, kHandoffMigrating, 5};
  const FenceRecord fence{"node-z:3", 7, "d"};
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_handoff(HandoffRecord{"node-a:9", "node-b", 3, kHandoffMigrating, 1});
    batch.put_handoff(migrating);
    batch.put_handoff(HandoffRecord{"node-a:11", "node-d", 2, kHandoffReclaimed, 2});
    batch.put_fence(FenceRecord{"node-z:4", 1, "d"});
    batch.put_fence(fence);
    batch.put_outcome(sample_outcome("node-y:1"));
    batch.put_outcome(sample_outcome("node-y:2"));
    EXPECT_EQ(batch.count(), 7u);
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
    Batch change;
    change.put_handoff(moved);  // replaces node-a:9's entry of epoch 3
    change.delete_handoff("node-a:11", 2);
    change.delete_fence("node-z:4", "d");
    change.delete_outcome("node-y:1");
    change.delete_outcome("node-y:99");  // absent: nothing to do
    ASSERT_TRUE(store->write(change, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  // Byte order of the ids: "node-a:10" < "node-a:9".
  EXPECT_EQ(load_family(*store, &Store::load_handoffs),
            (std::vector<HandoffRecord>{migrating, moved}));
  EXPECT_EQ(load_family(*store, &Store::load_fences), std::vector<FenceRecord>{fence});
  EXPECT_EQ(load_family(*store, &Store::load_outbox),
            std::vector<OutcomeReport>{sample_outcome("node-y:2")});
  EXPECT_TRUE(load_all(*store).empty());  // none of them is a task
  EXPECT_TRUE(load_family(*store, &Store::load_members).empty());
}

TEST(Store, TheHandoffEpochFloorSurvivesReopen) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->read_handoff_epoch_floor().value(), 0u);  // none yet
    Batch batch;
    batch.put_handoff_epoch_floor(1024);
    batch.put_handoff_epoch_floor(2048);  // the later one wins
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->read_handoff_epoch_floor().value(), 2048u);
  EXPECT_TRUE(load_all(*store).empty());  // not a task, not an environment
  std::size_t envs = 0;
  ASSERT_TRUE(store->load_envs([&](std::uint64_t, std::vector<std::string>&&) { ++envs; }));
  EXPECT_EQ(envs, 0u);
}

TEST(Store, SameTaskIdInEachFamilyIsIndependent) {
  TempDir tmp;
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  Batch batch;
  batch.put_handoff(HandoffRecord{"node-a:1", "node-b", 1, kHandoffMigrating, 0});
  batch.put_fence(FenceRecord{"node-a:1", 1, "d"});
  batch.put_outcome(sample_outcome("node-a:1"));
  ASSERT_TRUE(store->write(batch, true));
  Batch drop;
  drop.delete_fence("node-a:1", "d");
  ASSERT_TRUE(store->write(drop, true));
  EXPECT_EQ(load_family(*store, &Store::load_handoffs).size(), 1u);
  EXPECT_TRUE(load_family(*store, &Store::load_fences).empty());
  EXPECT_EQ(load_family(*store, &Store::load_outbox).size(), 1u);
}

// A database as the braid before issue 11 left it: its five families, a
// task record and a member (values as that braid wrote them).
void create_old_layout(const std::filesystem::path& dir) {
  std::string member;
  put_string(member, "10.0.0.2:7946");
  put_varint(member, 4);  // incarnation
  put_varint(member, 0);  // alive
  put_varint(member, zigzag_encode(77));
  put_raws(dir, kFamiliesBeforeMigration,
           {{"tasks", key_of(5), encode_task(typical_record(5))}, {"members", "node-b", member}});
}

TEST(Store, DatabaseOfTheEarlierLayoutOpensAndGainsTheNewFamilies) {
  TempDir tmp;
  create_old_layout(tmp.path());
  std::vector<std::string> before = kFamiliesBeforeMigration;
  std::sort(before.begin(), before.end());
  ASSERT_EQ(families_in(tmp.path()), before);
  for (int open = 0; open < 2; ++open) {  // the upgrade, then an ordinary reopen
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    const std::vector<TaskRecord> records = load_all(*store);
    ASSERT_EQ(record_nos(records), std::vector<std::uint64_t>{5});
    EXPECT_EQ(encode_task(records[0]), encode_task(typical_record(5)));
    EXPECT_EQ(load_family(*store, &Store::load_members),
              (std::vector<MemberRecord>{{"node-b", "10.0.0.2:7946", 4, 0, 77}}));
    EXPECT_EQ(load_family(*store, &Store::load_fences).size(), static_cast<std::size_t>(open));
    EXPECT_EQ(load_family(*store, &Store::load_outbox).size(), static_cast<std::size_t>(open));
    if (open == 0) {
      Batch batch;
      batch.put_fence(FenceRecord{"node-c:1", 2, "d"});
      batch.put_outcome(sample_outcome("node-c:2"));
      ASSERT_TRUE(store->write(batch, /*sync=*/true));
    }
  }
  std::vector<std::string> after = kFamilies;
  std::sort(after.begin(), after.end());
  EXPECT_EQ(families_in(tmp.path()), after);
}

TEST(Store, DatabaseMissingOnlySomeNewFamilyOpens) {
  TempDir tmp;
  std::vector<std::string> families = kFamiliesBeforeMigration;
  families.push_back("fences");
  put_raws(tmp.path(), families, {{"fences", "node-a:1", encode_fence({"node-a:1", 3, "d"})}});
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(load_family(*store, &Store::load_fences),
            (std::vector<FenceRecord>{{"node-a:1", 3, "d"}}));
  EXPECT_TRUE(load_family(*store, &Store::load_outbox).empty());
}

TEST(Store, DatabaseMissingAnOriginalFamilyIsRefusedUntouched) {
  TempDir tmp;
  put_raws(tmp.path(), {"default", "meta", "tasks", "journal"}, {});  // no members
  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().message,
            "cannot open database " + tmp.path().string() +
                ": column families are [default, journal, meta, tasks], braid needs [default, "
                "journal, members, meta, tasks] and adds [fences, outbox] when missing; nothing "
                "was changed");
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, DatabaseWithAnUnknownFamilyIsRefusedUntouched) {
  TempDir tmp;
  std::vector<std::string> families = kFamilies;
  families.push_back("future");
  put_raws(tmp.path(), families, {});
  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("column families are [default, fences, future, journal, "
                                       "members, meta, outbox, tasks], braid needs"),
            std::string::npos)
      << store.error().message;
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, UndecodableMigrationEntriesStopTheLoadNamingThem) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_handoff(HandoffRecord{"node-a:1", "node-b", 1, kHandoffMigrating, 0});
    batch.put_fence(FenceRecord{"node-a:1", 1, "d"});
    batch.put_outcome(sample_outcome("node-a:1"));
    ASSERT_TRUE(store->write(batch, true));
  }
  put_raw(tmp.path(), "journal", "node-a:2", std::string("\x01\x06node-b\x05\x04\x00", 11));
  put_raw(tmp.path(), "fences", std::string("\x00\xff", 2), "\x01");
  put_raw(tmp.path(), "outbox", "node-a:0", "\x02");
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::string in = " in " + tmp.path().string() + ": ";
  std::vector<std::string> visited;
  sched::Status s = store->load_handoffs([&](HandoffRecord&& r) { visited.push_back(r.task_id); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "handoff node-a:2" + in + "state 4 out of range 1..3");
  EXPECT_EQ(visited, std::vector<std::string>{"node-a:1"});
  s = store->load_fences([](FenceRecord&&) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "fence key 00ff" + in + "truncated in donor");
  s = store->load_outbox([](OutcomeReport&&) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "outcome report node-a:0" + in + "format version 2, this braid reads 1");
}

TEST(Store, LaterWritesReplaceAndDeleteRemoves) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch first;
    for (std::uint64_t no = 1; no <= 3; ++no) first.put_task(typical_record(no));
    ASSERT_TRUE(store->write(first, false));
    Batch second;
    TaskRecord done = typical_record(3);
    done.task.state = sched::TaskState::kCompleted;
    second.put_task(done);
    second.delete_task(2);
    second.delete_task(99);  // absent: nothing to do
    ASSERT_TRUE(store->write(second, true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<TaskRecord> records = load_all(*store);
  ASSERT_EQ(record_nos(records), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(records[1].task.state, sched::TaskState::kCompleted);
}

TEST(Store, BatchIsWrittenAsAWhole) {
  TempDir tmp;
  Batch batch;
  batch.put_task(typical_record(1));
  Batch more;
  more.put_task(typical_record(2));
  more.put_meta(sample_meta());
  more.delete_task(1);
  batch.append(more);
  batch.append(batch);  // appending itself doubles it
  EXPECT_EQ(batch.count(), 8u);
  EXPECT_FALSE(batch.empty());
  EXPECT_TRUE(Batch().empty());
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(batch, /*sync=*/true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  // In order: put 1, put 2, meta, delete 1, put 1, put 2, meta, delete 1.
  EXPECT_EQ(record_nos(load_all(*store)), std::vector<std::uint64_t>{2});
  EXPECT_EQ(store->read_meta().value(), sample_meta());
}

TEST(Store, DirectoryWithJunkCurrentIsRefusedUntouched) {
  TempDir tmp;
  testing::write_file(tmp.path() / "CURRENT", "this is not a manifest name\n");
  testing::write_file(tmp.path() / "notes.txt", "keep me");
  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  const std::string& message = store.error().message;
  EXPECT_TRUE(message.starts_with("cannot open database " + tmp.path().string() + ": ")) << message;
  EXPECT_TRUE(message.ends_with("; nothing was changed")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, DirectoryWithOtherFilesIsRefusedUntouched) {
  TempDir tmp;
  testing::write_file(tmp.path() / "LOG", "someone else's log");
  std::filesystem::create_directory(tmp.path() / "sub");
  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().message,
            "cannot open database " + tmp.path().string() +
                ": the directory is not empty but holds no database (no CURRENT file)"
                "; nothing was changed");
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, CorruptedManifestIsRefusedUntouched) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_task(typical_record(1));
    ASSERT_TRUE(store->write(batch, true));
  }
  const std::string manifest = testing::read_file(tmp.path() / "CURRENT");
  ASSERT_TRUE(manifest.starts_with("MANIFEST-")) << manifest;
  const std::filesystem::path manifest_path = tmp.path() / manifest.substr(0, manifest.size() - 1);
  std::string bytes = testing::read_file(manifest_path);
  ASSERT_GT(bytes.size(), 20u);
  for (std::size_t i = 10; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(~bytes[i]);
  testing::write_file(manifest_path, bytes);

  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_TRUE(store.error().message.starts_with("cannot open database " + tmp.path().string()))
      << store.error().message;
  EXPECT_NE(store.error().message.find("Corruption"), std::string::npos) << store.error().message;
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, MissingColumnFamilyIsRefusedUntouched) {
  TempDir tmp;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, tmp.path().string(), &db).ok());
    ASSERT_TRUE(db->Close().ok());
    delete db;
  }
  const auto before = snapshot(tmp.path());
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("column families are [default], braid needs"),
            std::string::npos)
      << store.error().message;
  EXPECT_EQ(snapshot(tmp.path()), before);
}

TEST(Store, PathThatIsAFileIsRefused) {
  TempDir tmp;
  testing::write_file(tmp.path() / "db", "x");
  sched::Result<std::unique_ptr<Store>> store = Store::open(tmp.path() / "db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("not a directory"), std::string::npos);
}

TEST(Store, DatabaseInUseIsRefused) {
  TempDir tmp;
  std::unique_ptr<Store> first = open_ok(tmp.path());
  ASSERT_TRUE(first);
  sched::Result<std::unique_ptr<Store>> second = Store::open(tmp.path());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("lock"), std::string::npos) << second.error().message;
  // The first one is unharmed.
  Batch batch;
  batch.put_task(typical_record(1));
  EXPECT_TRUE(first->write(batch, true));
}

TEST(Store, UndecodableRecordStopsTheLoadNamingIt) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_task(typical_record(1));
    batch.put_task(typical_record(3));
    ASSERT_TRUE(store->write(batch, true));
  }
  put_raw(tmp.path(), "tasks", key_of(2), std::string("\x01\x05node", 6));
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::uint64_t> visited;
  const sched::Status s =
      store->load_tasks([&](TaskRecord&& r) { visited.push_back(r.record_no); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "task record 2 in " + tmp.path().string() +
                                   ": truncated in id: length 5 but 4 bytes left");
  EXPECT_EQ(visited, std::vector<std::uint64_t>{1});
}

TEST(Store, BadKeyStopsTheLoad) {
  TempDir tmp;
  { ASSERT_TRUE(open_ok(tmp.path())); }
  put_raw(tmp.path(), "tasks", "abc", encode_task(typical_record(1)));
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const sched::Status s = store->load_tasks([](TaskRecord&&) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "task record key 616263 in " + tmp.path().string() + ": 3 bytes, keys are 8");
}

TEST(Store, UndecodableMetaIsAnError) {
  TempDir tmp;
  { ASSERT_TRUE(open_ok(tmp.path())); }
  put_raw(tmp.path(), "meta", "node", "\x09");
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  sched::Result<NodeMeta> meta = store->read_meta();
  ASSERT_FALSE(meta);
  EXPECT_EQ(meta.error().message,
            "node meta in " + tmp.path().string() + ": format version 9, this braid reads 1");
}

}  // namespace
}  // namespace braid::storage
