// Task record codec: every durable field round-trips; truncation, trailing
// bytes, unknown versions and out-of-range values are Errors, never crashes.
#include "storage/task_record.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"
#include "storage/varint.h"

namespace braid::storage {
namespace {

using sched::ExitStatus;
using sched::TaskState;

// Every durable field set to something other than its default.
TaskRecord full_record() {
  TaskRecord r;
  r.record_no = 99;
  r.env_id = 77;
  sched::Task& t = r.task;
  t.id = "node-a:123456";
  t.state = TaskState::kStopped;
  t.spec.priority = 9;
  t.spec.cpus = 3;
  t.spec.memory_bytes = 3ull << 33;
  t.spec.time_limit_us = 7 * sched::kMicrosPerSecond;
  t.spec.retries = 4;
  t.spec.pinned = true;
  t.spec.requeue_on_restart = sched::RequeueOnRestart::kNo;
  t.spec.retry_backoff_us = 250 * sched::kMicrosPerMilli;
  t.spec.argv = {"/usr/bin/env", "", "a b", std::string("nul\0byte", 8)};
  t.spec.env = {"A=1", "LONG=" + std::string(500, 'v')};
  t.spec.cwd = "/srv/work";
  t.spec.after = {"node-a:1", "node-b:77"};
  t.spec.name = "nightly build \xc3\xa9";
  t.spec.array_index = 12;
  t.spec.output = "/srv/out/%x-%a.log";
  t.spec.separate_stderr = true;
  t.spec.account = "physics.lab-2";
  t.reason = "preempted by a higher priority";
  t.exit = ExitStatus::spawn_failed("No such file or directory");
  t.exit->code = -5;
  t.attempts = 2;
  t.preemptions = 17;
  t.cpu_time_us = 123'456'789;
  t.vruntime_ns = std::numeric_limits<std::uint64_t>::max() - 3;
  t.submitted_at_us = 1'700'000'000'000'000;
  t.started_at_us = 1'700'000'000'500'000;
  t.finished_at_us = std::numeric_limits<std::int64_t>::min();
  t.not_before_us = std::numeric_limits<std::int64_t>::max();
  r.process.pgid = 4242;
  r.process.start_ticks = 987654321;
  r.process.cgroup = "/sys/fs/cgroup/braid/task-99";
  r.measured_cpu_us = 98'765;
  t.node_requeues = 2;
  t.spec.array_index = 41;
  t.spec.array_throttle = 4;
  t.spec.array_group = 1ull << 40;
  t.spec.after_kinds = {sched::DepKind::kFail, sched::DepKind::kAny};
  t.hops = 3;
  t.moved_to = "node-c";
  t.adopted_from = "node-b";
  t.refusals = {{"node-d", "no such program: make"}, {"node-e", ""}};
  return r;
}

// full_record() without the migration fields (issue 11).
TaskRecord full_record_before_migration() {
  TaskRecord r = full_record();
  r.task.hops = 0;
  r.task.moved_to.clear();
  r.task.adopted_from.clear();
  r.task.refusals.clear();
  return r;
}

void expect_same_durable_fields(const TaskRecord& a, const TaskRecord& b) {
  const sched::Task& x = a.task;
  const sched::Task& y = b.task;
  EXPECT_EQ(x.id, y.id);
  EXPECT_EQ(x.state, y.state);
  EXPECT_EQ(x.spec.priority, y.spec.priority);
  EXPECT_EQ(x.spec.cpus, y.spec.cpus);
  EXPECT_EQ(x.spec.memory_bytes, y.spec.memory_bytes);
  EXPECT_EQ(x.spec.time_limit_us, y.spec.time_limit_us);
  EXPECT_EQ(x.spec.retries, y.spec.retries);
  EXPECT_EQ(x.spec.pinned, y.spec.pinned);
  EXPECT_EQ(x.spec.requeue_on_restart, y.spec.requeue_on_restart);
  EXPECT_EQ(x.spec.retry_backoff_us, y.spec.retry_backoff_us);
  EXPECT_EQ(x.spec.argv, y.spec.argv);
  EXPECT_EQ(x.spec.env, y.spec.env);
  EXPECT_EQ(x.spec.cwd, y.spec.cwd);
  EXPECT_EQ(x.spec.after, y.spec.after);
  EXPECT_EQ(x.spec.name, y.spec.name);
  EXPECT_EQ(x.spec.array_index, y.spec.array_index);
  EXPECT_EQ(x.spec.output, y.spec.output);
  EXPECT_EQ(x.spec.separate_stderr, y.spec.separate_stderr);
  EXPECT_EQ(x.spec.account, y.spec.account);
  EXPECT_EQ(x.reason, y.reason);
  ASSERT_EQ(x.exit.has_value(), y.exit.has_value());
  if (x.exit) {
    EXPECT_EQ(x.exit->kind, y.exit->kind);
    EXPECT_EQ(x.exit->code, y.exit->code);
    EXPECT_EQ(x.exit->error, y.exit->error);
  }
  EXPECT_EQ(x.attempts, y.attempts);
  EXPECT_EQ(x.preemptions, y.preemptions);
  EXPECT_EQ(x.cpu_time_us, y.cpu_time_us);
  EXPECT_EQ(x.vruntime_ns, y.vruntime_ns);
  EXPECT_EQ(x.submitted_at_us, y.submitted_at_us);
  EXPECT_EQ(x.started_at_us, y.started_at_us);
  EXPECT_EQ(x.finished_at_us, y.finished_at_us);
  EXPECT_EQ(x.not_before_us, y.not_before_us);
  EXPECT_EQ(a.process, b.process);
  EXPECT_EQ(a.measured_cpu_us, b.measured_cpu_us);
  EXPECT_EQ(x.node_requeues, y.node_requeues);
  EXPECT_EQ(x.spec.array_index, y.spec.array_index);
  EXPECT_EQ(x.spec.array_throttle, y.spec.array_throttle);
  EXPECT_EQ(x.spec.array_group, y.spec.array_group);
  EXPECT_EQ(x.spec.after_kinds, y.spec.after_kinds);
  EXPECT_EQ(x.hops, y.hops);
  EXPECT_EQ(x.moved_to, y.moved_to);
  EXPECT_EQ(x.adopted_from, y.adopted_from);
  EXPECT_EQ(x.refusals, y.refusals);
}

TEST(TaskRecord, EveryFieldRoundTrips) {
  const TaskRecord in = full_record();
  const std::string bytes = encode_task(in);
  EXPECT_EQ(bytes[0], '\x01');  // format version
  TaskRecord out;
  out.record_no = 5;
  const sched::Status s = decode_task(bytes, out);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(out.record_no, 5u);  // the key's business, not the value's
  EXPECT_EQ(out.env_id, 77u);
  expect_same_durable_fields(in, out);
  EXPECT_EQ(encode_task(out), bytes);
}

TEST(TaskRecord, DefaultRecordRoundTrips) {
  const TaskRecord in;
  const std::string bytes = encode_task(in);
  TaskRecord out = full_record();  // decoding replaces every durable field
  const sched::Status s = decode_task(bytes, out);
  ASSERT_TRUE(s) << s.error().message;
  expect_same_durable_fields(in, out);
  EXPECT_FALSE(out.task.exit.has_value());
  EXPECT_EQ(out.task.started_at_us, -1);
  EXPECT_EQ(out.task.finished_at_us, -1);
}

TEST(TaskRecord, ExitWithoutErrorTextRoundTrips) {
  TaskRecord in = testing::typical_record(1);
  in.task.exit = ExitStatus::signaled(9);
  TaskRecord out;
  ASSERT_TRUE(decode_task(encode_task(in), out));
  ASSERT_TRUE(out.task.exit.has_value());
  EXPECT_EQ(out.task.exit->kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(out.task.exit->code, 9);
}

TEST(TaskRecord, OutputSectionIsWrittenOnlyWhenNeeded) {
  TaskRecord r = testing::typical_record(7);
  const std::size_t plain = encode_task(r).size();
  r.task.spec.separate_stderr = true;
  const std::string bytes = encode_task(r);
  EXPECT_EQ(bytes.size(), plain + 2);  // an empty output pattern and the flag
  TaskRecord out;
  ASSERT_TRUE(decode_task(bytes, out));
  EXPECT_TRUE(out.task.spec.separate_stderr);
  EXPECT_EQ(out.task.spec.array_index, -1);
}

TEST(TaskRecord, AccountIsWrittenOnlyWhenNotTheDefault) {
  TaskRecord r = testing::typical_record(7);
  const std::size_t plain = encode_task(r).size();
  r.task.spec.account = "lab";
  const std::string bytes = encode_task(r);
  EXPECT_EQ(bytes.size(), plain + 2 + 4);  // the default output section, then "lab"
  TaskRecord out;
  ASSERT_TRUE(decode_task(bytes, out));
  EXPECT_EQ(out.task.spec.account, "lab");
  EXPECT_FALSE(out.task.spec.separate_stderr);
}

TEST(TaskRecord, TypicalRecordIsSmall) {
  TaskRecord r = testing::typical_record(123456);
  r.task.started_at_us = r.task.submitted_at_us + 1000;
  r.process = {31337, 1234567, ""};
  const std::size_t bytes = encode_task(r).size();
  EXPECT_LT(bytes, 100u);
  std::printf("typical running record (argv {sleep,1}, id node:123456): %zu bytes\n", bytes);
}

TEST(TaskRecord, EveryTruncationIsRefused) {
  const std::string bytes = encode_task(full_record());
  TaskRecord without_appended = full_record();
  without_appended.task.node_requeues = 0;
  without_appended.task.spec.array_index = -1;
  without_appended.task.spec.array_throttle = 0;
  without_appended.task.spec.array_group = 0;
  without_appended.task.spec.after_kinds.clear();
  without_appended.task.spec.output.clear();
  without_appended.task.spec.separate_stderr = false;
  without_appended.task.spec.account.clear();
  without_appended.env_id = 0;
  without_appended.task.hops = 0;
  without_appended.task.moved_to.clear();
  without_appended.task.adopted_from.clear();
  without_appended.task.refusals.clear();
  // Cut right before the appended fields it is a whole record of the older layout.
  const std::size_t older_layout_bytes =
      encode_task(without_appended).size() - 6;  // 6 one-byte defaults
  TaskRecord without_output = full_record_before_migration();
  without_output.task.spec.output.clear();
  without_output.task.spec.separate_stderr = false;
  without_output.task.spec.account.clear();
  // Cut right before the optional output section, it is a whole record without one.
  const std::size_t section_at = encode_task(without_output).size();
  TaskRecord without_account = full_record_before_migration();
  without_account.task.spec.account.clear();
  // Cut right before the optional account, it is a whole record without one.
  const std::size_t account_at = encode_task(without_account).size();
  // Cut right before the migration section, it is a whole record without one.
  const std::size_t migration_at = encode_task(full_record_before_migration()).size();
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    if (size == older_layout_bytes || size == section_at || size == account_at ||
        size == migration_at) {
      continue;
    }
    TaskRecord out;
    const sched::Status s = decode_task(std::string_view(bytes).substr(0, size), out);
    ASSERT_FALSE(s) << "prefix of " << size << " bytes decoded";
    EXPECT_TRUE(s.error().message.starts_with("task record: truncated in "))
        << size << ": " << s.error().message;
  }
}

TEST(TaskRecord, TruncationNamesTheField) {
  TaskRecord r;
  r.task.id = "n:1";
  r.task.spec.argv = {"sleep", "1"};
  const std::string bytes = encode_task(r);
  const std::size_t argv_at = bytes.find("sleep");
  ASSERT_NE(argv_at, std::string::npos);
  TaskRecord out;
  const sched::Status s = decode_task(std::string_view(bytes).substr(0, argv_at + 2), out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "task record: truncated in argv: length 5 but 2 bytes left");
}

TEST(TaskRecord, TrailingBytesAreRefused) {
  TaskRecord full = full_record();
  full.task.spec.constraints = {{"gpu", "1"}};  // the last section (issue 11 §2)
  const std::string bytes = encode_task(full) + "x";
  TaskRecord out;
  const sched::Status s = decode_task(bytes, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "task record: 1 trailing bytes after the last field");
}

TEST(TaskRecord, UnknownVersionIsRefused) {
  std::string bytes = encode_task(full_record());
  bytes[0] = 7;
  TaskRecord out;
  const sched::Status s = decode_task(bytes, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "task record: format version 7, this braid reads 1");
  EXPECT_FALSE(decode_task("", out));
}

TEST(TaskRecord, FailedDecodeLeavesTheRecordAlone) {
  std::string bytes = encode_task(full_record());
  bytes.pop_back();
  TaskRecord out = testing::typical_record(3);
  ASSERT_FALSE(decode_task(bytes, out));
  expect_same_durable_fields(out, testing::typical_record(3));
}

// A version 1 record written by hand, field by field as documented in
// task_record.cc, with raw integers so tests can put anything anywhere.
struct RawRecord {
  std::uint64_t version = 1;
  std::string id = "n:1";
  std::uint64_t state = 1;
  std::uint64_t flags = 0;
  std::int64_t priority = 5;
  std::uint64_t argv_count = 1;
  std::uint64_t exit_kind = 0;
  bool appended = true;  // false: a record written before the appended fields existed
  std::string after_kinds{};
  std::string tail{};  // raw bytes after the appended fields (see migration_tail)
};

std::string raw_bytes(const RawRecord& raw) {
  std::string out;
  put_varint(out, raw.version);
  put_string(out, raw.id);
  put_varint(out, raw.state);
  put_varint(out, raw.flags);
  put_signed_varint(out, raw.priority);
  put_signed_varint(out, 1);          // cpus
  put_varint(out, 0);                 // memory_bytes
  put_signed_varint(out, 0);          // time_limit_us
  put_signed_varint(out, 0);          // retries
  put_signed_varint(out, 1'000'000);  // retry_backoff_us
  put_varint(out, raw.argv_count);    // argv
  put_string(out, "true");
  put_varint(out, 0);   // env
  put_string(out, "");  // cwd
  put_varint(out, 0);   // after
  put_string(out, "");  // name
  put_string(out, "");  // reason
  if (raw.flags & 2) {
    put_varint(out, raw.exit_kind);
    put_signed_varint(out, 0);
    put_string(out, "");
  }
  for (int i = 0; i < 3; ++i) put_signed_varint(out, 0);  // attempts preemptions cpu_time_us
  put_varint(out, 0);                                     // vruntime_ns
  put_signed_varint(out, 10);                             // submitted_at_us
  put_signed_varint(out, -1);                             // started_at_us
  put_signed_varint(out, -1);                             // finished_at_us
  put_signed_varint(out, 0);                              // not_before_us
  put_signed_varint(out, 0);                              // pgid
  put_varint(out, 0);                                     // start_ticks
  put_string(out, "");                                    // cgroup
  put_signed_varint(out, 0);                              // measured_cpu_us
  if (raw.appended) {
    put_signed_varint(out, 0);   // node_requeues
    put_signed_varint(out, -1);  // array_index
    put_varint(out, 0);          // array_throttle
    put_varint(out, 0);          // array_group
    put_string(out, raw.after_kinds);
    put_varint(out, 0);  // env_id
  }
  return out + raw.tail;
}

// A default output section and account, then a migration section with these
// raw values (one refusal of `node`, `reason` unless `refusals` says otherwise).
struct RawMigration {
  std::uint64_t hops = 1;
  std::string moved_to{};
  std::string adopted_from = "node-b";
  std::uint64_t refusals = 1;
  std::string node = "node-c";
  std::string reason = "busy";
  std::uint64_t adoption_epoch = 0;
};

std::string migration_tail(const RawMigration& raw) {
  std::string out;
  put_string(out, "");  // output
  put_varint(out, 0);   // separate_stderr
  put_string(out, "");  // account
  put_varint(out, raw.hops);
  put_string(out, raw.moved_to);
  put_string(out, raw.adopted_from);
  put_varint(out, raw.refusals);
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(raw.refusals, 9); ++i) {
    put_string(out, raw.node);
    put_string(out, raw.reason);
  }
  put_varint(out, raw.adoption_epoch);
  return out;
}

std::string decode_error(const RawRecord& raw) {
  TaskRecord out;
  const sched::Status s = decode_task(raw_bytes(raw), out);
  return s ? "decoded" : s.error().message;
}

TEST(TaskRecord, LayoutIsTheDocumentedOne) {
  TaskRecord r;
  r.task.id = "n:1";
  r.task.spec.argv = {"true"};
  r.task.submitted_at_us = 10;
  EXPECT_EQ(encode_task(r), raw_bytes({}));
  EXPECT_EQ(decode_error({}), "decoded");
}

TEST(TaskRecord, RecordWithoutAppendedFieldsDecodesWithDefaults) {
  TaskRecord out = full_record();
  const sched::Status s = decode_task(raw_bytes({.appended = false}), out);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(out.task.node_requeues, 0);
  EXPECT_EQ(out.task.spec.array_index, -1);
  EXPECT_EQ(out.task.spec.array_throttle, 0u);
  EXPECT_EQ(out.task.spec.array_group, 0u);
  EXPECT_TRUE(out.task.spec.after_kinds.empty());
  EXPECT_EQ(decode_error({.state = 9, .appended = false}), "decoded");  // held
}

TEST(TaskRecord, MigrationFieldsRoundTripAndForceTheSectionsBeforeThem) {
  TaskRecord in = testing::typical_record(7);
  const std::string plain = encode_task(in);
  in.task.adopted_from = "node-b";
  const std::string bytes = encode_task(in);
  // The default output section and account, then hops, moved_to, adopted_from,
  // refusals, adoption_epoch.
  EXPECT_EQ(bytes, plain + std::string("\x00\x00\x00\x00\x00\x06node-b\x00\x00", 14));
  TaskRecord held = in;
  held.task.adoption_epoch = 300;  // an adoption waiting for its donor's confirmation
  TaskRecord back;
  ASSERT_TRUE(decode_task(encode_task(held), back));
  EXPECT_EQ(back.task.adoption_epoch, 300u);
  TaskRecord out;
  ASSERT_TRUE(decode_task(bytes, out));
  EXPECT_EQ(out.task.adopted_from, "node-b");
  EXPECT_EQ(out.task.hops, 0);
  EXPECT_TRUE(out.task.spec.account.empty());
  EXPECT_EQ(encode_task(out), bytes);

  in.task.hops = 255;
  in.task.state = TaskState::kMoved;
  in.task.moved_to = "node-z";
  for (int i = 0; i < 8; ++i)
    in.task.add_refusal("n" + std::to_string(i), "reason " + std::to_string(i));
  ASSERT_TRUE(decode_task(encode_task(in), out));
  expect_same_durable_fields(in, out);
}

// The encodings of the encoder before the migration fields existed (commit
// ba230dd, printed by a program linked against it): a record without them
// must still be written byte for byte the same.
TEST(TaskRecord, RecordsWithoutMigrationFieldsEncodeAsBefore) {
  TaskRecord r;
  sched::Task& t = r.task;
  r.env_id = 77;
  t.id = "node-a:123456";
  t.state = TaskState::kStopped;
  t.spec.priority = 9;
  t.spec.cpus = 3;
  t.spec.memory_bytes = 3ull << 33;
  t.spec.time_limit_us = 7'000'000;
  t.spec.retries = 4;
  t.spec.pinned = true;
  t.spec.requeue_on_restart = sched::RequeueOnRestart::kNo;
  t.spec.retry_backoff_us = 250'000;
  t.spec.argv = {"/usr/bin/env", "", "a b"};
  t.spec.env = {"A=1"};
  t.spec.cwd = "/srv/work";
  t.spec.after = {"node-a:1", "node-b:77"};
  t.spec.name = "nightly";
  t.spec.output = "/srv/out/%x-%a.log";
  t.spec.separate_stderr = true;
  t.spec.account = "physics";
  t.reason = "preempted";
  t.exit = ExitStatus::exited(3);
  t.attempts = 2;
  t.preemptions = 17;
  t.cpu_time_us = 123'456'789;
  t.vruntime_ns = 5;
  t.submitted_at_us = 1'700'000'000'000'000;
  t.started_at_us = 1'700'000'000'500'000;
  r.process = {4242, 987654321, "/cg"};
  r.measured_cpu_us = 98'765;
  t.node_requeues = 2;
  t.spec.array_index = 41;
  t.spec.array_throttle = 4;
  t.spec.array_group = 1ull << 40;
  t.spec.after_kinds = {sched::DepKind::kFail, sched::DepKind::kAny};
  EXPECT_EQ(testing::hex(encode_task(r)),
            "010d6e6f64652d613a313233343536030b1206808080806080bfd60608a0c21e030c2f7573722f62"
            "696e2f656e7600036120620103413d31092f7372762f776f726b02086e6f64652d613a31096e6f64"
            "652d623a3737076e696768746c7909707265656d707465640006000422aab4de75058080f2818389"
            "8506c084af82838985060100a442b1d1f9d603032f63679a870c0452048080808080200202014d12"
            "2f7372762f6f75742f25782d25612e6c6f67010770687973696373");
  EXPECT_EQ(testing::hex(encode_task(testing::typical_record(7))),
            "01066e6f64653a3701000a0200000080897a0205736c65657001310000000000000000008e80f281"
            "8389850601010000000000000100000000");
}

TEST(TaskRecord, OlderRecordsDecodeWithoutMigrationFields) {
  TaskRecord out = full_record();
  ASSERT_TRUE(decode_task(raw_bytes({.appended = false}), out));
  EXPECT_EQ(out.task.hops, 0);
  EXPECT_TRUE(out.task.moved_to.empty());
  EXPECT_TRUE(out.task.adopted_from.empty());
  EXPECT_TRUE(out.task.refusals.empty());
  out = full_record();
  ASSERT_TRUE(decode_task(encode_task(full_record_before_migration()), out));
  EXPECT_EQ(out.task.hops, 0);
  EXPECT_TRUE(out.task.refusals.empty());
  EXPECT_EQ(out.task.spec.account, "physics.lab-2");
}

TEST(TaskRecord, OutOfBoundsMigrationFieldsAreRefused) {
  EXPECT_EQ(decode_error({.tail = migration_tail({})}), "decoded");
  EXPECT_EQ(decode_error({.tail = migration_tail({.hops = 256})}),
            "task record: hops 256 out of range 0..255");
  EXPECT_EQ(decode_error({.tail = migration_tail({.moved_to = std::string(256, 'm')})}),
            "task record: moved_to is 256 bytes, at most 255 allowed");
  EXPECT_EQ(decode_error({.tail = migration_tail({.adopted_from = std::string(300, 'a')})}),
            "task record: adopted_from is 300 bytes, at most 255 allowed");
  EXPECT_EQ(decode_error({.tail = migration_tail({.refusals = 8})}), "decoded");
  EXPECT_EQ(decode_error({.tail = migration_tail({.refusals = 9})}),
            "task record: refusals 9, at most 8 allowed");
  EXPECT_EQ(decode_error({.tail = migration_tail({.node = std::string(256, 'n')})}),
            "task record: refusal node is 256 bytes, at most 255 allowed");
  EXPECT_EQ(decode_error({.tail = migration_tail({.reason = std::string(1024, 'r')})}), "decoded");
  EXPECT_EQ(decode_error({.tail = migration_tail({.reason = std::string(1025, 'r')})}),
            "task record: refusal reason is 1025 bytes, at most 1024 allowed");
  EXPECT_TRUE(decode_error({.tail = migration_tail({.refusals = 1ull << 62})})
                  .starts_with("task record: refusals 4611686018427387904, at most 8"));
  EXPECT_EQ(decode_error({.tail = migration_tail({}) + std::string("\0x", 2)}),  // no constraints
            "task record: 1 trailing bytes after the last field");
}

TEST(TaskRecord, MigrationFieldsBeyondTheBoundsAreClampedWhenEncoded) {
  // The encoder never writes what the decoder would refuse (a stored record
  // that stops the next start): it keeps the last refusals and cuts strings.
  TaskRecord in = testing::typical_record(1);
  in.task.hops = 1000;
  in.task.moved_to = std::string(300, 'm');
  for (int i = 0; i < 10; ++i) {
    in.task.refusals.push_back({"n" + std::to_string(i), std::string(2000, 'r')});
  }
  TaskRecord out;
  const sched::Status s = decode_task(encode_task(in), out);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(out.task.hops, kHopsMax);
  EXPECT_EQ(out.task.moved_to, std::string(kNodeNameBytesMax, 'm'));
  ASSERT_EQ(out.task.refusals.size(), sched::kRefusalsKept);
  EXPECT_EQ(out.task.refusals.front().node, "n2");
  EXPECT_EQ(out.task.refusals.back().reason.size(), sched::kRefusalReasonBytesMax);
}

TEST(TaskRecord, BadDependencyKindsAreRefused) {
  EXPECT_EQ(decode_error({.after_kinds = "\x01"}),
            "task record: after_kinds has 1 kinds for 0 dependencies");
}

TEST(TaskRecord, OutOfRangeEnumsAreRefused) {
  EXPECT_EQ(decode_error({.state = 10}), "task record: state 10 out of range 0..9");
  EXPECT_EQ(decode_error({.state = 1ull << 40}),
            "task record: state 1099511627776 out of range 0..9");
  EXPECT_EQ(decode_error({.flags = 2, .exit_kind = 3}),
            "task record: exit kind 3 out of range 0..2");
  EXPECT_EQ(decode_error({.flags = 16}), "task record: unknown flags 16");
  EXPECT_EQ(decode_error({.flags = 12}),
            "task record: flags say both requeue and do not requeue on restart");
}

TEST(TaskRecord, OutOfRangeIntsAndAbsurdLengthsAreRefused) {
  EXPECT_EQ(decode_error({.priority = -(std::int64_t{1} << 40)}),
            "task record: priority -1099511627776 does not fit in 32 bits");
  EXPECT_TRUE(decode_error({.argv_count = 1ull << 60})
                  .starts_with("task record: truncated in argv: count "));
  EXPECT_EQ(decode_error({.version = 2}), "task record: format version 2, this braid reads 1");
}

TEST(TaskRecord, NoInputCrashesTheDecoder) {
  // Every single-byte change of a full record either decodes or is an Error;
  // run under the sanitizer build this is the "no UB on any input" check.
  const std::string bytes = encode_task(full_record());
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (const unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string mutated = bytes;
      mutated[at] = static_cast<char>(value);
      TaskRecord out;
      const sched::Status s = decode_task(mutated, out);
      if (!s) {
        EXPECT_TRUE(s.error().message.starts_with("task record: ")) << s.error().message;
      }
    }
  }
}

// Issue 11 §2: the node labels a task needs, appended after the migration
// section (which, with the sections before it, is then written as defaults).
std::string constraints_tail(std::uint64_t count, const std::vector<std::string>& parts) {
  std::string out;
  put_varint(out, count);
  for (const std::string& p : parts) put_string(out, p);
  return out;
}

TEST(TaskRecord, ConstraintsRoundTripAfterTheMigrationSection) {
  TaskRecord in = testing::typical_record(7);
  const std::string plain = encode_task(in);
  in.task.spec.constraints = {{"gpu", "1"}, {"zone", "eu-west.a"}};
  const std::string bytes = encode_task(in);
  // Default output section and account, default migration section, then the constraints.
  EXPECT_EQ(bytes, plain + std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8) +
                       constraints_tail(2, {"gpu", "1", "zone", "eu-west.a"}));
  TaskRecord out;
  ASSERT_TRUE(decode_task(bytes, out));
  EXPECT_EQ(out.task.spec.constraints, in.task.spec.constraints);
  EXPECT_EQ(out.task.hops, 0);
  EXPECT_EQ(encode_task(out), bytes);
  // With every other field set too.
  TaskRecord full = full_record();
  full.task.spec.constraints = {{"gpu", "1"}};
  ASSERT_TRUE(decode_task(encode_task(full), out));
  expect_same_durable_fields(full, out);
  EXPECT_EQ(out.task.spec.constraints, full.task.spec.constraints);
}

TEST(TaskRecord, RecordsWithoutConstraintsDecodeWithNone) {
  TaskRecord out;
  out.task.spec.constraints = {{"stale", "1"}};
  ASSERT_TRUE(decode_task(raw_bytes({.appended = false}), out));
  EXPECT_TRUE(out.task.spec.constraints.empty());
  out.task.spec.constraints = {{"stale", "1"}};
  ASSERT_TRUE(decode_task(raw_bytes({.tail = migration_tail({})}), out));
  EXPECT_TRUE(out.task.spec.constraints.empty());
  // And a record without them is written as before.
  EXPECT_EQ(testing::hex(encode_task(testing::typical_record(7))),
            "01066e6f64653a3701000a0200000080897a0205736c65657001310000000000000000008e80f281"
            "8389850601010000000000000100000000");
}

TEST(TaskRecord, BadConstraintsAreRefused) {
  const std::string migration = migration_tail({});
  EXPECT_EQ(decode_error({.tail = migration + constraints_tail(1, {"gpu", "1"})}), "decoded");
  EXPECT_EQ(decode_error({.tail = migration + constraints_tail(33, {})}),
            "task record: constraints 33, at most 32 allowed");
  EXPECT_EQ(decode_error({.tail = migration + constraints_tail(1, {std::string(64, 'k'), "1"})}),
            "task record: constraint key is 64 bytes, at most 63 allowed");
  EXPECT_EQ(
      decode_error({.tail = migration + constraints_tail(2, {"gpu", "1", "gpu", "2"})}),
      "task record: node label key \"gpu\" is given twice (gpu=1, gpu=2): each key at most once");
  EXPECT_EQ(decode_error({.tail = migration + constraints_tail(1, {"g pu", "1"})}),
            "task record: node label \"g pu=1\" must look like KEY=VALUE, each 1..63 of A-Z a-z "
            "0-9 . _ -");
  EXPECT_EQ(decode_error({.tail = migration + constraints_tail(1, {"gpu"})}),
            "task record: truncated in constraint value");
}

}  // namespace
}  // namespace braid::storage
