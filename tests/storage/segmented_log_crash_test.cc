// Crash behaviour of SegmentedLog on the fault-injecting file system: torn and zero-filled
// tails, a crash at every call of a workload with rotation, suffix truncation, compaction
// and restore, corruption in the middle, and I/O errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "log_test_support.h"
#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"

namespace raft {
namespace {

using testing::make_entries;
using testing::make_entry;
using Fs = FaultInjectingFileSystem;

constexpr std::uint64_t kNoLimit = UINT64_MAX;
const std::string kDir = "/data/log";

// On this file system the spare segment is prepared inline (Spare::kAuto): the workloads
// below crash at every step of its preparation and of the rotations that rename it in, and
// again with Spare::kOff, where every segment is created.
SegmentedLog::Options small_segments(
    SegmentedLog::Options::Spare spare = SegmentedLog::Options::Spare::kAuto) {
  SegmentedLog::Options options;
  options.segment_size = 400;
  options.spare = spare;
  return options;
}

// What the log should hold: serialized entries by index, above a compaction point.
struct Model {
  Index snapshot = 0;
  Term snapshot_term = 0;
  std::map<Index, std::string> entries;

  Index last() const { return entries.empty() ? snapshot : entries.rbegin()->first; }
  void append(const std::vector<pb::Entry>& batch) {
    entries.erase(entries.lower_bound(batch.front().index()), entries.end());
    for (const auto& e : batch) {
      if (e.index() > snapshot) entries[e.index()] = e.SerializeAsString();
    }
  }
  void compact(Index i) {
    pb::Entry e;
    REQUIRE(e.ParseFromString(entries.at(i)));
    snapshot = i;
    snapshot_term = e.term();
    entries.erase(entries.begin(), entries.upper_bound(i));
  }
  void restore(Index i, Term t) {
    snapshot = i;
    snapshot_term = t;
    entries.clear();
  }
};

// One step of the workload: an append (batch non-empty), a compaction (compact_to) or a
// restore (restore_term non-zero).
struct Op {
  std::vector<pb::Entry> batch;
  Index compact_to = 0;
  Index restore_to = 0;
  Term restore_term = 0;

  static Op restore(Index i, Term t) { return {{}, 0, i, t}; }
  bool is_restore() const { return restore_term != 0; }
  void apply(Model& model) const {
    if (is_restore()) {
      model.restore(restore_to, restore_term);
    } else if (batch.empty()) {
      model.compact(compact_to);
    } else {
      model.append(batch);
    }
  }
};

std::vector<Op> workload() {
  std::vector<Op> ops;
  for (Index i = 1; i <= 10; i += 2) ops.push_back({make_entries(i, i + 1, 1, 40), 0});
  ops.push_back({make_entries(6, 8, 2, 40), 0});  // truncates across segments
  for (Index i = 9; i <= 20; i += 3) ops.push_back({make_entries(i, i + 2, 2, 40), 0});
  ops.push_back({{}, 12});
  ops.push_back({make_entries(21, 25, 3, 40), 0});
  ops.push_back({make_entries(18, 19, 4, 40), 0});  // truncation after compaction
  ops.push_back({{}, 17});
  ops.push_back({make_entries(20, 30, 4, 40), 0});
  return ops;
}

// Restores below, above and at the last index and below the compaction point, between
// appends that rotate, truncate and compact.
std::vector<Op> restore_workload() {
  std::vector<Op> ops;
  for (Index i = 1; i <= 10; i += 2) ops.push_back({make_entries(i, i + 1, 1, 40), 0});
  ops.push_back({{}, 4});
  ops.push_back(Op::restore(7, 2));  // below the last index, conflicting with entry 7
  ops.push_back({make_entries(8, 12, 2, 40), 0});
  ops.push_back(Op::restore(20, 3));  // past the last index
  ops.push_back({make_entries(21, 25, 3, 40), 0});
  ops.push_back({make_entries(23, 24, 4, 40), 0});  // truncation after a restore
  ops.push_back(Op::restore(24, 4));                // at the last index
  ops.push_back({make_entries(25, 28, 5, 40), 0});
  ops.push_back({{}, 26});
  ops.push_back(Op::restore(22, 6));  // below the compaction point
  ops.push_back({make_entries(23, 30, 6, 40), 0});
  return ops;
}

Status run(SegmentedLog& log, const Op& op) {
  if (op.is_restore()) return log.restore(op.restore_to, op.restore_term);
  return op.batch.empty() ? log.compact(op.compact_to) : log.append(op.batch);
}

bool is_prefix_of(const SegmentedLog& log, const Model& model) {
  if (log.last_index() < log.first_index()) return true;
  auto all = log.entries(log.first_index(), log.last_index() + 1, kNoLimit);
  REQUIRE(all.ok());
  for (const auto& e : *all) {
    auto it = model.entries.find(e.index());
    if (it == model.entries.end() || it->second != e.SerializeAsString()) return false;
  }
  return true;
}

// True if the log is exactly `model` up to some last index: same compaction point and term,
// entries a prefix of the model's.
bool holds_prefix_of(const SegmentedLog& log, const Model& model) {
  return log.first_index() == model.snapshot + 1 &&
         *log.term(model.snapshot) == model.snapshot_term && is_prefix_of(log, model);
}

// After a crash during `op`: the log opens, holds a prefix of the state before or after
// the op, and lost nothing that was acknowledged before it. After a restore nothing of the
// old log is left: neither entries at or below the restore point nor entries after it.
void check_recovered(const SegmentedLog& log, const Model& acked, const Model& attempted,
                     const Op& op) {
  REQUIRE(log.term(log.first_index() - 1).ok());
  const bool before = holds_prefix_of(log, acked);
  const bool after = holds_prefix_of(log, attempted);
  CHECK((before || after));
  if (op.is_restore()) {
    if (!after) CHECK(log.last_index() >= acked.last());
    return;
  }
  const Index floor =
      op.batch.empty() ? acked.last() : std::min(acked.last(), op.batch.front().index() - 1);
  CHECK(log.last_index() >= floor);
}

void crash_at_every_call(const std::vector<Op>& ops, Fs::CrashMode mode, std::uint64_t seed,
                         const SegmentedLog::Options& options = small_segments()) {
  // A dry run counts the calls.
  std::uint64_t total = 0;
  {
    Fs fs(seed);
    auto log = SegmentedLog::open(fs, kDir, options);
    REQUIRE(log.ok());
    fs.reset_counts();
    for (const auto& op : ops) REQUIRE(run(**log, op).ok());
    total = fs.calls();
    // The rotations renamed the spare in (the restores' rotations too), or created segments.
    if (options.spare == SegmentedLog::Options::Spare::kOff) {
      CHECK((*log)->spares_used() == 0);
    } else {
      CHECK((*log)->spares_used() >= 1);
    }
  }
  for (std::uint64_t n = 1; n <= total + 1; ++n) {
    INFO("crash at call " << n << " of " << total << ", mode " << static_cast<int>(mode));
    Fs fs(seed + n);
    fs.set_crash_mode(mode);
    Model acked;
    Model attempted;
    Op in_flight;
    {
      auto log = SegmentedLog::open(fs, kDir, options);
      REQUIRE(log.ok());
      fs.schedule_crash(n);
      for (const auto& op : ops) {
        attempted = acked;
        op.apply(attempted);
        in_flight = op;
        if (!run(**log, op).ok()) break;
        acked = attempted;
      }
      if (!fs.is_down()) fs.crash();
    }
    fs.restart();
    auto log = SegmentedLog::open(fs, kDir, options);
    INFO(log.status().to_string());
    REQUIRE(log.ok());
    check_recovered(**log, acked, attempted, in_flight);
    // The node carries on from where the log ends.
    const Index next = (*log)->last_index() + 1;
    REQUIRE((*log)->append(make_entries(next, next + 2, 9, 40)).ok());
    log->reset();
    auto again = SegmentedLog::open(fs, kDir, options);
    REQUIRE(again.ok());
    CHECK((*again)->last_index() == next + 2);
    CHECK(*(*again)->term(next + 2) == 9);
  }
}

TEST_CASE("segmented log crash: a crash at any call leaves a log that opens with a valid prefix",
          "[storage][segmented_log][crash]") {
  crash_at_every_call(workload(), Fs::CrashMode::kDropUnsynced, 1);
}

TEST_CASE("segmented log crash: torn tails at any call are cut and lose nothing synced",
          "[storage][segmented_log][crash]") {
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    crash_at_every_call(workload(), Fs::CrashMode::kTearTail, seed);
  }
}

TEST_CASE("segmented log crash: zero-filled tails at any call are cut and lose nothing synced",
          "[storage][segmented_log][crash]") {
  crash_at_every_call(workload(), Fs::CrashMode::kZeroTail, 21);
}

TEST_CASE("segmented log crash: without the spare, a crash at any call opens with a valid prefix",
          "[storage][segmented_log][crash]") {
  const auto off = small_segments(SegmentedLog::Options::Spare::kOff);
  crash_at_every_call(workload(), Fs::CrashMode::kDropUnsynced, 41, off);
  crash_at_every_call(workload(), Fs::CrashMode::kTearTail, 42, off);
  crash_at_every_call(workload(), Fs::CrashMode::kZeroTail, 43, off);
  crash_at_every_call(restore_workload(), Fs::CrashMode::kTearTail, 44, off);
}

TEST_CASE("segmented log crash: a crash at any call of an early rotation to the spare",
          "[storage][segmented_log][crash]") {
  // The first segment, created, is a quarter full after the first append (the spare is
  // prepared then) and gives way to the spare at the second (over half of it, 1.5 MiB, is
  // left to zero ahead); so does the one a truncation leaves active.
  SegmentedLog::Options options;
  options.segment_size = 3u << 20;
  std::vector<Op> ops;
  ops.push_back({make_entries(1, 20, 1, 40 << 10), 0});
  ops.push_back({make_entries(21, 22, 1, 40), 0});
  ops.push_back({make_entries(23, 24, 1, 40), 0});
  ops.push_back({make_entries(15, 17, 2, 40), 0});  // removes the second segment, cuts the first
  ops.push_back({make_entries(18, 20, 2, 40), 0});
  ops.push_back({{}, 16});
  ops.push_back({make_entries(21, 23, 2, 40), 0});
  {
    Fs fs;
    auto log = SegmentedLog::open(fs, kDir, options);
    REQUIRE(log.ok());
    for (const auto& op : ops) REQUIRE(run(**log, op).ok());
    CHECK((*log)->spares_used() == 2);  // both early rotations took place
  }
  crash_at_every_call(ops, Fs::CrashMode::kDropUnsynced, 51, options);
  crash_at_every_call(ops, Fs::CrashMode::kTearTail, 52, options);
  crash_at_every_call(ops, Fs::CrashMode::kZeroTail, 53, options);
}

TEST_CASE("segmented log crash: a crash at any call of restore opens to the old or the new log",
          "[storage][segmented_log][crash]") {
  crash_at_every_call(restore_workload(), Fs::CrashMode::kDropUnsynced, 31);
  for (std::uint64_t seed : {32u, 33u}) {
    crash_at_every_call(restore_workload(), Fs::CrashMode::kTearTail, seed);
  }
  crash_at_every_call(restore_workload(), Fs::CrashMode::kZeroTail, 34);
}

// Writes ten entries (segments of ~5 records) and returns the file system.
void fill(Fs& fs) {
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.ok());
  for (Index i = 1; i <= 20; i += 2) REQUIRE((*log)->append(make_entries(i, i + 1, 1, 40)).ok());
  REQUIRE((*log)->segment_count() >= 3);
}

std::string last_segment(Fs& fs) {
  auto names = fs.list(kDir);
  REQUIRE(names.ok());
  std::string last;
  for (const auto& name : *names) {
    if (name.ends_with(".log")) last = name;
  }
  return kDir + "/" + last;
}

TEST_CASE("segmented log crash: a bad checksum followed by good records refuses to open",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  const std::string path = last_segment(fs);
  std::string data = *fs.contents(path);
  const std::size_t offset = 32;  // the first record of the segment
  data[offset + 20] ^= 0x01;      // a bit flip in its payload
  REQUIRE(fs.set_contents(path, data).ok());
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find(path) != std::string::npos);
  CHECK(log.status().message().find("offset 32") != std::string::npos);
}

TEST_CASE("segmented log crash: a damaged length in the middle refuses to open",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  const std::string path = last_segment(fs);
  std::string data = *fs.contents(path);
  data[32] = '\x07';  // the first record's length
  REQUIRE(fs.set_contents(path, data).ok());
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find("offset 32") != std::string::npos);
}

TEST_CASE("segmented log crash: zeros within a sector followed by a valid record are corruption",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  const std::string path = last_segment(fs);
  std::string data = *fs.contents(path);
  // The first record of the last segment becomes zeros; the records after it stay valid.
  // The zeros fill no 512-byte sector (the segment is smaller than one): not a hole.
  const std::size_t length = 8 + data[32];
  std::fill(data.begin() + 32, data.begin() + 32 + static_cast<std::ptrdiff_t>(length), '\0');
  REQUIRE(fs.set_contents(path, data).ok());
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find(path) != std::string::npos);
  CHECK(log.status().message().find("offset 32") != std::string::npos);
}

TEST_CASE("segmented log crash: the unused space of the last segment is not a torn tail",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  const std::string path = last_segment(fs);
  const std::string before = *fs.contents(path);
  REQUIRE(before.size() == small_segments().segment_size);
  fs.reset_counts();
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.ok());
  CHECK((*log)->last_index() == 20);
  // Nothing was cut or written at open.
  CHECK(fs.count(Fs::Op::kTruncate) == 0);
  CHECK(fs.count(Fs::Op::kAppend) == 0);
  CHECK(*fs.contents(path) == before);
}

TEST_CASE("segmented log crash: a bad record in a segment that is not the last refuses to open",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  const std::string path = kDir + "/00000000000000000001.log";
  std::string data = *fs.contents(path);
  data[data.size() - 3] ^= 0x40;  // the segment's last record
  REQUIRE(fs.set_contents(path, data).ok());
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find(path) != std::string::npos);
  CHECK(log.status().message().find("offset") != std::string::npos);
}

TEST_CASE("segmented log crash: a full disk fails the append and the log stays consistent",
          "[storage][segmented_log][crash]") {
  Fs fs;
  fill(fs);
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.ok());
  fs.set_space_limit(100);
  Status s = (*log)->append(make_entries(21, 30, 1, 40));
  CHECK(s.code() == ErrorCode::kIoError);
  CHECK((*log)->last_index() == 20);
  CHECK((*log)->entries(1, 21, kNoLimit)->size() == 20);
  fs.clear_faults();
  REQUIRE((*log)->append(make_entries(21, 30, 1, 40)).ok());
  log->reset();
  auto reopened = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->last_index() == 30);
  CHECK((*reopened)->entries(1, 31, kNoLimit)->size() == 30);
}

TEST_CASE("segmented log crash: an I/O error on write or sync surfaces and reopen recovers",
          "[storage][segmented_log][crash]") {
  for (Fs::Op op : {Fs::Op::kAppend, Fs::Op::kSync, Fs::Op::kCreateWritable, Fs::Op::kSyncDir,
                    Fs::Op::kTruncate, Fs::Op::kRemove}) {
    INFO("failing " << to_string(op));
    Fs fs;
    fill(fs);
    Model model;
    for (Index i = 1; i <= 20; ++i) model.append({make_entry(i, 1, 40)});
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    REQUIRE(log.ok());
    fs.fail_from(op, 1);
    // A truncating append, then plain appends (which rotate): each may fail.
    std::vector<std::vector<pb::Entry>> batches = {make_entries(4, 6, 2, 40),
                                                   make_entries(7, 30, 2, 40)};
    std::vector<Model> states = {model};
    for (const auto& batch : batches) {
      Model attempted = model;
      attempted.append(batch);
      states.push_back(attempted);
      Status s = (*log)->append(batch);
      if (s.ok()) {
        model = attempted;
      } else {
        // A failed append may have cut the conflicting suffix, never more.
        CHECK(s.code() != ErrorCode::kOk);
        CHECK((*log)->last_index() >= std::min(model.last(), batch.front().index() - 1));
        CHECK(is_prefix_of(**log, model));
        model.entries.erase(model.entries.upper_bound((*log)->last_index()), model.entries.end());
      }
      // What the log reports is exactly what it holds.
      CHECK((*log)->last_index() == model.last());
      CHECK(is_prefix_of(**log, model));
    }
    fs.clear_faults();
    log->reset();
    auto reopened = SegmentedLog::open(fs, kDir, small_segments());
    INFO(reopened.status().to_string());
    REQUIRE(reopened.ok());
    // A failed write may or may not have reached the file; either way a valid prefix.
    CHECK((*reopened)->last_index() >= 3);
    bool prefix = false;
    for (const auto& state : states) prefix = prefix || is_prefix_of(**reopened, state);
    CHECK(prefix);
  }
}

TEST_CASE("segmented log crash: the directory lock stops a second open",
          "[storage][segmented_log][crash]") {
  Fs fs;
  auto log = SegmentedLog::open(fs, kDir);
  REQUIRE(log.ok());
  auto second = SegmentedLog::open(fs, kDir);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kIoError);
  log->reset();
  CHECK(SegmentedLog::open(fs, kDir).ok());
}

TEST_CASE("what open() serves after a failed sync is durable: a crash right after keeps it") {
  Fs fs;
  {
    auto log = SegmentedLog::open(fs, kDir);
    REQUIRE(log.ok());
    REQUIRE((*log)->append(make_entries(1, 5, 1)).ok());
    fs.fail_nth(Fs::Op::kSync, 1);
    REQUIRE_FALSE((*log)->append(make_entries(6, 8, 1)).ok());
  }  // the host reopens the log, as append() asks after a failed sync
  Index served = 0;
  {
    auto log = SegmentedLog::open(fs, kDir);
    REQUIRE(log.ok());
    served = (*log)->last_index();  // 6..8 reached the page cache: open() may take them
    REQUIRE(served >= 5);
  }
  fs.crash();  // a power loss, with no write in between
  auto log = SegmentedLog::open(fs, kDir);
  REQUIRE(log.ok());
  CHECK((*log)->last_index() == served);
  auto entries = (*log)->entries(1, served + 1, kNoLimit);
  REQUIRE(entries.ok());
  CHECK(entries->size() == served);
}

}  // namespace
}  // namespace raft
