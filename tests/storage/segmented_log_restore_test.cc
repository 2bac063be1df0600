// SegmentedLog::restore: a follower installing a snapshot starts the log over after its index.
// On the real file system (below, at and past the last index, on an empty log, with appends,
// compactions and reopens after it) and on the fault-injecting one (leftovers of an
// interrupted restore, META generations, I/O errors). A crash at every call of restore is
// in segmented_log_crash_test.cc.
#include <catch2/catch.hpp>
#include <string>

#include "log_test_support.h"
#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"
#include "storage/segment_format.h"

namespace raft {
namespace {

using testing::make_entries;
using testing::make_entry;
using testing::TempDir;
using Fs = FaultInjectingFileSystem;

constexpr std::uint64_t kNoLimit = UINT64_MAX;

SegmentedLog::Options small_segments() {
  SegmentedLog::Options options;
  options.segment_size = 1024;
  return options;
}

std::unique_ptr<SegmentedLog> open_log(FileSystem& fs, const std::string& dir) {
  auto log = SegmentedLog::open(fs, dir, small_segments());
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  return std::move(*log);
}

std::size_t segment_files(FileSystem& fs, const std::string& dir) {
  auto names = fs.list(dir);
  REQUIRE(names.ok());
  std::size_t n = 0;
  for (const auto& name : *names) n += name.ends_with(".log") ? 1 : 0;
  return n;
}

// The log is empty after `index`, whose term is `term`.
void check_restored(const SegmentedLog& log, Index index, Term term) {
  CHECK(log.first_index() == index + 1);
  CHECK(log.last_index() == index);
  auto t = log.term(index);
  REQUIRE(t.ok());
  CHECK(*t == term);
  if (index > 0) CHECK(log.term(index - 1).status().code() == ErrorCode::kCompacted);
  CHECK(log.term(index + 1).status().code() == ErrorCode::kUnavailable);
  CHECK(log.entries(index + 1, index + 1, kNoLimit)->empty());
  CHECK(log.entries(index + 1, index + 2, kNoLimit).status().code() == ErrorCode::kUnavailable);
  CHECK(log.segment_count() == 0);
}

// Checks that the log holds entries lo..hi of `term`, as make_entry builds them.
void check_range(const SegmentedLog& log, Index lo, Index hi, Term term) {
  auto all = log.entries(lo, hi + 1, kNoLimit);
  REQUIRE(all.ok());
  REQUIRE(all->size() == hi - lo + 1);
  for (Index i = lo; i <= hi; ++i) {
    const pb::Entry& e = (*all)[i - lo];
    CHECK(e.SerializeAsString() == make_entry(i, term, 100).SerializeAsString());
  }
}

// Checks that the log holds exactly entries first..last of `term`.
void check_entries(const SegmentedLog& log, Index first, Index last, Term term) {
  REQUIRE(log.first_index() == first);
  REQUIRE(log.last_index() == last);
  check_range(log, first, last, term);
}

// A log of entries 1..30 (1..15 in term 1, the rest in term 2) over several segments,
// compacted up to 5.
std::unique_ptr<SegmentedLog> filled_log(FileSystem& fs, const std::string& dir) {
  auto log = open_log(fs, dir);
  REQUIRE(log->append(make_entries(1, 15, 1, 100)).ok());
  for (Index i = 16; i <= 30; ++i) REQUIRE(log->append({make_entry(i, 2, 100)}).ok());
  REQUIRE(log->segment_count() > 2);
  REQUIRE(log->compact(5).ok());
  return log;
}

TEST_CASE("segmented log restore: an empty log starts over after the snapshot index",
          "[storage][segmented_log][restore]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  {
    auto log = open_log(fs, tmp.path());
    REQUIRE(log->restore(10, 3).ok());
    check_restored(*log, 10, 3);
  }
  auto log = open_log(fs, tmp.path());
  check_restored(*log, 10, 3);
}

TEST_CASE("segmented log restore: every entry goes, below, at or past the last index",
          "[storage][segmented_log][restore]") {
  struct Case {
    Index index;
    Term term;
  };
  // Below the last index with a conflicting term and with the log's own term, at the last
  // index, past it, and below the compaction point.
  for (Case c : {Case{20, 7}, Case{20, 2}, Case{30, 2}, Case{100, 9}, Case{3, 1}}) {
    INFO("restore to " << c.index << " in term " << c.term);
    TempDir tmp;
    FileSystem& fs = posix_file_system();
    {
      auto log = filled_log(fs, tmp.path());
      REQUIRE(log->restore(c.index, c.term).ok());
      check_restored(*log, c.index, c.term);
      CHECK(segment_files(fs, tmp.path()) == 0);
    }
    auto log = open_log(fs, tmp.path());
    check_restored(*log, c.index, c.term);
  }
}

TEST_CASE("segmented log restore: appends continue after the snapshot index and survive reopen",
          "[storage][segmented_log][restore]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  const std::string dir = tmp.path();
  {
    auto log = filled_log(fs, dir);
    REQUIRE(log->restore(20, 7).ok());
    // A gap after the snapshot index is refused; entries at or below it are ignored.
    CHECK(log->append(make_entries(22, 23, 7, 100)).code() == ErrorCode::kInvalidArgument);
    REQUIRE(log->append(make_entries(15, 20, 7, 100)).ok());
    check_restored(*log, 20, 7);
    REQUIRE(log->append(make_entries(18, 25, 7, 100)).ok());
    for (Index i = 26; i <= 40; ++i) REQUIRE(log->append({make_entry(i, 7, 100)}).ok());
    CHECK(log->segment_count() > 1);
    check_entries(*log, 21, 40, 7);
  }
  {
    auto log = open_log(fs, dir);
    check_entries(*log, 21, 40, 7);
    CHECK(*log->term(20) == 7);
    // Compaction and a second restore work as usual after a first one.
    REQUIRE(log->compact(30).ok());
    check_entries(*log, 31, 40, 7);
    REQUIRE(log->restore(35, 8).ok());
    check_restored(*log, 35, 8);
    REQUIRE(log->append(make_entries(36, 37, 8, 100)).ok());
  }
  auto log = open_log(fs, dir);
  check_entries(*log, 36, 37, 8);
  CHECK(*log->term(35) == 8);
}

TEST_CASE("segmented log restore: old segments left by a failed removal are removed at open",
          "[storage][segmented_log][restore]") {
  Fs fs;
  const std::string dir = "/data/log";
  auto log = filled_log(fs, dir);
  const std::size_t before = segment_files(fs, dir);
  fs.fail_nth(Fs::Op::kRemove, 2);
  // The error surfaces, but the log is restored: META is in place.
  CHECK(log->restore(12, 4).code() == ErrorCode::kIoError);
  check_restored(*log, 12, 4);
  CHECK(segment_files(fs, dir) == 1);
  REQUIRE(before > 1);
  // Appends go on; the leftover, of the old generation, is never read.
  REQUIRE(log->append(make_entries(13, 30, 4, 100)).ok());
  check_entries(*log, 13, 30, 4);
  log.reset();
  fs.crash();  // the removals that were not followed by sync_dir come back
  log = open_log(fs, dir);
  check_entries(*log, 13, 30, 4);
  // Only the new generation's segments are left.
  CHECK(segment_files(fs, dir) == log->segment_count());
}

TEST_CASE("segmented log restore: an error before META is replaced leaves the log unchanged",
          "[storage][segmented_log][restore]") {
  for (Fs::Op op : {Fs::Op::kCreateWritable, Fs::Op::kAppend, Fs::Op::kSync, Fs::Op::kRename}) {
    INFO("failing " << to_string(op));
    Fs fs;
    const std::string dir = "/data/log";
    auto log = filled_log(fs, dir);
    fs.fail_nth(op, 1);
    CHECK(log->restore(12, 4).code() == ErrorCode::kIoError);
    CHECK(log->first_index() == 6);
    CHECK(log->last_index() == 30);
    check_range(*log, 6, 15, 1);
    check_range(*log, 16, 30, 2);
    REQUIRE(log->append({make_entry(31, 2, 100)}).ok());
    log.reset();
    log = open_log(fs, dir);
    CHECK(log->first_index() == 6);
    CHECK(log->last_index() == 31);
  }
}

TEST_CASE("segmented log restore: when META may not be durable the log refuses writes",
          "[storage][segmented_log][restore]") {
  for (bool crash : {false, true}) {
    INFO("crash before reopen: " << crash);
    Fs fs;
    const std::string dir = "/data/log";
    auto log = filled_log(fs, dir);
    fs.fail_nth(Fs::Op::kSyncDir, 1);  // the sync after META's rename
    CHECK(log->restore(12, 4).code() == ErrorCode::kIoError);
    CHECK(log->append({make_entry(31, 2, 100)}).code() == ErrorCode::kIoError);
    CHECK(log->restore(12, 4).code() == ErrorCode::kIoError);
    CHECK(log->compact(10).code() == ErrorCode::kIoError);
    log.reset();
    if (crash) fs.crash();
    log = open_log(fs, dir);
    if (crash) {  // the rename never reached the disk: the old log
      CHECK(log->first_index() == 6);
      CHECK(log->last_index() == 30);
      check_range(*log, 16, 30, 2);
    } else {  // it did: the restored log, with the old segments removed unread
      check_restored(*log, 12, 4);
      CHECK(segment_files(fs, dir) == 0);
    }
  }
}

TEST_CASE("segmented log restore: a segment of a newer generation than META is corruption",
          "[storage][segmented_log][restore]") {
  Fs fs;
  const std::string dir = "/data/log";
  {
    auto log = open_log(fs, dir);
    REQUIRE(log->restore(10, 3).ok());
    REQUIRE(log->append(make_entries(11, 12, 3, 100)).ok());
  }
  // META loses its generation (as if an older META came back).
  REQUIRE(fs.set_contents(dir + "/META", segment_format::encode_meta(10, 3, 0)).ok());
  auto log = SegmentedLog::open(fs, dir, small_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find("00000000000000000011.log") != std::string::npos);
  CHECK(log.status().message().find("generation") != std::string::npos);
}

}  // namespace
}  // namespace raft
