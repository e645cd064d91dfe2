// Migration record codecs (handoff journal, fences, outbox): round trips,
// documented layouts, and every truncation, trailing byte, unknown version,
// out-of-range state or over-long name refused with an Error, never a crash.
#include "storage/migration_records.h"

#include <gtest/gtest.h>

#include <limits>

#include "storage/task_record.h"
#include "storage/test_util.h"
#include "storage/varint.h"

namespace braid::storage {
namespace {

using sched::ExitStatus;
using sched::TaskState;

HandoffRecord sample_handoff() {
  return {"node-a:17", "node-b", 1ull << 40, kHandoffMoved, 1'700'000'000'000'000};
}

OutcomeReport sample_outcome() {
  OutcomeReport r;
  r.task_id = "node-a:17";
  r.origin = "node-a";
  r.state = static_cast<std::uint8_t>(TaskState::kFailed);
  r.exit = ExitStatus::spawn_failed("No such file or directory");
  r.exit->code = -3;
  r.reason = "exit 1 \xc3\xa9";
  r.finished_at_us = 1'700'000'000'900'000;
  r.started_at_us = 1'700'000'000'100'000;
  r.attempts = 3;
  r.cpu_time_us = std::numeric_limits<std::int64_t>::max();
  return r;
}

template <typename Record>
std::string decode_error(sched::Status (*decode)(std::string_view, Record&),
                         const std::string& bytes) {
  Record out;
  const sched::Status s = decode(bytes, out);
  return s ? "decoded" : s.error().message;
}

// Every strict prefix of `bytes` is refused as a truncation.
template <typename Record>
void expect_every_prefix_refused(sched::Status (*decode)(std::string_view, Record&),
                                 const std::string& bytes) {
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const std::string message = decode_error(decode, bytes.substr(0, size));
    EXPECT_TRUE(message.starts_with("truncated in ")) << size << ": " << message;
  }
}

// Every single-byte change either decodes or is an Error (no UB under ASan).
template <typename Record>
void expect_no_crash_on_mutations(sched::Status (*decode)(std::string_view, Record&),
                                  const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (const unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string mutated = bytes;
      mutated[at] = static_cast<char>(value);
      decode_error(decode, mutated);
    }
  }
}

TEST(HandoffRecord, RoundTripsLeavingTheKeyAlone) {
  const HandoffRecord in = sample_handoff();
  const std::string bytes = encode_handoff(in);
  EXPECT_EQ(bytes[0], '\x01');  // format version
  HandoffRecord out;
  out.task_id = "node-a:17";  // the key, set by the caller
  const sched::Status s = decode_handoff(bytes, out);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(out, in);
  for (const std::uint8_t state : {kHandoffMigrating, kHandoffMoved, kHandoffReclaimed}) {
    HandoffRecord each = in;
    each.state = state;
    ASSERT_TRUE(decode_handoff(encode_handoff(each), out));
    EXPECT_EQ(out, each);
  }
}

TEST(HandoffRecord, LayoutIsTheDocumentedOne) {
  const HandoffRecord in{"n:1", "peer", 300, kHandoffMigrating, -2};
  EXPECT_EQ(testing::hex(encode_handoff(in)), "010470656572ac020103");
}

TEST(HandoffRecord, CorruptValuesAreRefused) {
  const std::string bytes = encode_handoff(sample_handoff());
  expect_every_prefix_refused(&decode_handoff, bytes);
  EXPECT_EQ(decode_error(&decode_handoff, bytes + "x"), "1 trailing bytes after the last field");
  EXPECT_EQ(decode_error(&decode_handoff, "\x02" + bytes.substr(1)),
            "format version 2, this braid reads 1");
  EXPECT_EQ(decode_error(&decode_handoff, ""), "truncated in version");
  for (const std::uint64_t state : {0ull, 4ull, 1ull << 40}) {
    std::string raw;
    put_varint(raw, 1);
    put_string(raw, "node-b");
    put_varint(raw, 5);
    put_varint(raw, state);
    put_signed_varint(raw, 0);
    EXPECT_EQ(decode_error(&decode_handoff, raw),
              "state " + std::to_string(state) + " out of range 1..3");
  }
  std::string long_peer;
  put_varint(long_peer, 1);
  put_string(long_peer, std::string(256, 'p'));
  put_varint(long_peer, 5);
  put_varint(long_peer, 1);
  put_signed_varint(long_peer, 0);
  EXPECT_EQ(decode_error(&decode_handoff, long_peer), "peer is 256 bytes, at most 255 allowed");
  expect_no_crash_on_mutations(&decode_handoff, bytes);
}

TEST(HandoffRecord, FailedDecodeLeavesTheRecordAlone) {
  HandoffRecord out = sample_handoff();
  ASSERT_FALSE(decode_handoff("\x01\x09", out));
  EXPECT_EQ(out, sample_handoff());
}

TEST(HandoffRecord, OverLongPeerIsCutSoWhatIsWrittenDecodes) {
  HandoffRecord in = sample_handoff();
  in.peer = std::string(1000, 'p');
  HandoffRecord out;
  ASSERT_TRUE(decode_handoff(encode_handoff(in), out));
  EXPECT_EQ(out.peer, std::string(kNodeNameBytesMax, 'p'));
}

TEST(FenceRecord, RoundTripsAndRefusesCorruptValues) {
  const FenceRecord in{"node-a:17", std::numeric_limits<std::uint64_t>::max(), "donor-b"};
  const std::string bytes = encode_fence(in);
  EXPECT_EQ(testing::hex(encode_fence({"n:1", 300, "d"})), "010164ac02");
  FenceRecord out;
  out.task_id = in.task_id;
  ASSERT_TRUE(decode_fence(bytes, out));
  EXPECT_EQ(out, in);
  expect_every_prefix_refused(&decode_fence, bytes);
  EXPECT_EQ(decode_error(&decode_fence, bytes + "x"), "1 trailing bytes after the last field");
  EXPECT_EQ(decode_error(&decode_fence, "\x07\x01"), "format version 7, this braid reads 1");
  EXPECT_EQ(decode_error(&decode_fence,
                         std::string("\x01\x01\x64\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f")),
            "varint longer than 64 bits in epoch");
  expect_no_crash_on_mutations(&decode_fence, bytes);
}

TEST(OutcomeReport, RoundTripsWithAndWithoutExit) {
  const OutcomeReport in = sample_outcome();
  const std::string bytes = encode_outcome(in);
  EXPECT_EQ(bytes[0], '\x01');
  OutcomeReport out;
  out.task_id = in.task_id;
  const sched::Status s = decode_outcome(bytes, out);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(out, in);

  OutcomeReport completed;
  completed.task_id = "node-a:18";
  completed.origin = "node-a";
  completed.state = static_cast<std::uint8_t>(TaskState::kCompleted);
  completed.exit = ExitStatus::exited(0);
  OutcomeReport cancelled = completed;
  cancelled.state = static_cast<std::uint8_t>(TaskState::kCancelled);
  cancelled.exit.reset();
  cancelled.reason = "cancelled by the operator";
  for (const OutcomeReport& each : {completed, cancelled}) {
    out = OutcomeReport{};
    out.task_id = each.task_id;
    ASSERT_TRUE(decode_outcome(encode_outcome(each), out));
    EXPECT_EQ(out, each);
  }
  EXPECT_FALSE(completed == cancelled);
}

TEST(OutcomeReport, LayoutIsTheDocumentedOne) {
  OutcomeReport in;
  in.origin = "o";
  in.state = static_cast<std::uint8_t>(TaskState::kCompleted);
  in.exit = ExitStatus::signaled(9);
  in.reason = "r";
  in.finished_at_us = 5;
  in.started_at_us = -1;
  in.attempts = 1;
  in.cpu_time_us = 2;
  // version, "o", state 6, has_exit, kind 1 code 9 (zigzag 18) "", "r", 5 -1 1 2 (zigzag).
  EXPECT_EQ(testing::hex(encode_outcome(in)), "01016f060101120001720a010204");
}

TEST(OutcomeReport, CorruptValuesAreRefused) {
  const std::string bytes = encode_outcome(sample_outcome());
  expect_every_prefix_refused(&decode_outcome, bytes);
  EXPECT_EQ(decode_error(&decode_outcome, bytes + "x"), "1 trailing bytes after the last field");
  EXPECT_EQ(decode_error(&decode_outcome, "\x03" + bytes.substr(1)),
            "format version 3, this braid reads 1");
  // version, origin "o", then the state / has_exit / exit kind under test.
  EXPECT_EQ(decode_error(&decode_outcome, std::string("\x01\x01o\x0a\x00", 5)),
            "state 10 out of range 0..9");
  EXPECT_EQ(decode_error(&decode_outcome, std::string("\x01\x01o\x06\x02", 5)),
            "has_exit 2 out of range 0..1");
  EXPECT_EQ(decode_error(&decode_outcome, std::string("\x01\x01o\x06\x01\x03", 6)),
            "exit kind 3 out of range 0..2");
  std::string long_origin;
  put_varint(long_origin, 1);
  put_string(long_origin, std::string(300, 'o'));
  EXPECT_EQ(decode_error(&decode_outcome, long_origin), "origin is 300 bytes, at most 255 allowed");
  std::string big_attempts = std::string("\x01\x01o\x06\x00\x00", 6);
  for (int i = 0; i < 2; ++i) put_signed_varint(big_attempts, 0);
  put_signed_varint(big_attempts, std::int64_t{1} << 40);
  put_signed_varint(big_attempts, 0);
  EXPECT_EQ(decode_error(&decode_outcome, big_attempts),
            "attempts 1099511627776 does not fit in 32 bits");
  expect_no_crash_on_mutations(&decode_outcome, bytes);
}

}  // namespace
}  // namespace braid::storage
