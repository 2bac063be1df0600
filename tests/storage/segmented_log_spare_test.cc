// The segmented log's spare segment (see "The spare segment" in raft/segmented_log.h): it is
// prepared inline on the fault-injecting file system and in the background on the POSIX one,
// renamed into place at rotation, removed at open, and a failure to prepare it never fails
// an append. (Crashes at every call of its preparation and of the rotation that uses it are
// in segmented_log_crash_test.cc.)
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "log_test_support.h"
#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"
#include "storage/segment_format.h"
#include "storage/segment_preparer.h"

namespace raft {
namespace {

using testing::make_entries;
using testing::make_entry;
using testing::TempDir;
using Fs = FaultInjectingFileSystem;
using Spare = SegmentedLog::Options::Spare;

constexpr std::uint64_t kNoLimit = UINT64_MAX;
const std::string kDir = "/data/log";
const std::string kSpare = kDir + "/" + std::string(kSpareName);

SegmentedLog::Options small_segments(Spare spare = Spare::kAuto) {
  SegmentedLog::Options options;
  options.segment_size = 400;
  options.spare = spare;
  return options;
}

std::unique_ptr<SegmentedLog> open_log(FileSystem& fs, const std::string& dir,
                                       const SegmentedLog::Options& options) {
  auto log = SegmentedLog::open(fs, dir, options);
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  return std::move(*log);
}

// Checks that the log holds entries 1..last, entry i of term `term_of(i)`, 40 bytes each.
template <typename TermOf>
void check_entries(const SegmentedLog& log, Index last, TermOf term_of) {
  REQUIRE(log.first_index() == 1);
  REQUIRE(log.last_index() == last);
  auto all = log.entries(1, last + 1, kNoLimit);
  REQUIRE(all.ok());
  REQUIRE(all->size() == last);
  for (Index i = 1; i <= last; ++i) {
    INFO("entry " << i);
    CHECK((*all)[i - 1].SerializeAsString() == make_entry(i, term_of(i), 40).SerializeAsString());
  }
}
void check_entries(const SegmentedLog& log, Index last) {
  check_entries(log, last, [](Index) { return 1; });
}

bool all_zeros(const std::string& data) { return data.find_first_not_of('\0') == data.npos; }

TEST_CASE("segmented log spare: prepared after the first append, renamed in at rotation",
          "[storage][segmented_log][spare]") {
  Fs fs;
  auto log = open_log(fs, kDir, small_segments());
  REQUIRE(log->append({make_entry(1, 1, 40)}).ok());
  // Not at open, nor before the first segment is a quarter full (100 bytes).
  CHECK_FALSE(*fs.exists(kSpare));
  REQUIRE(log->append({make_entry(2, 1, 40)}).ok());
  // Inline on this file system: ready when append() returns, zeros of the segment's size.
  REQUIRE(*fs.exists(kSpare));
  CHECK(*fs.contents(kSpare) == std::string(400, '\0'));
  CHECK(log->spares_used() == 0);  // the first segment was created
  CHECK(log->spare_error().ok());

  Index last = 2;
  while (log->segment_count() < 2) {
    ++last;
    REQUIRE(log->append({make_entry(last, 1, 40)}).ok());
  }
  CHECK(log->spares_used() == 1);
  const std::string second = kDir + "/" + segment_format::segment_name(last);
  const std::string data = *fs.contents(second);
  CHECK(data.size() == 400);
  Index first = 0;
  std::uint32_t generation = 0;
  CHECK(segment_format::decode_header(data.substr(0, 32), &first, &generation).empty());
  CHECK(first == last);
  // The next spare was prepared by the append that rotated.
  REQUIRE(*fs.exists(kSpare));
  CHECK(*fs.contents(kSpare) == std::string(400, '\0'));
  // The first segment was cut to its records.
  const std::string first_segment = kDir + "/" + segment_format::segment_name(1);
  CHECK(fs.contents(first_segment)->size() ==
        32 + (last - 1) * (8 + make_entry(1, 1, 40).ByteSizeLong()));

  for (Index i = last + 1; i <= 40; ++i) REQUIRE(log->append({make_entry(i, 1, 40)}).ok());
  CHECK(log->spares_used() + 1 == log->segment_count());
  log.reset();
  log = open_log(fs, kDir, small_segments());
  CHECK_FALSE(*fs.exists(kSpare));
  check_entries(*log, 40);
}

TEST_CASE("segmented log spare: none without preallocation or with Spare::kOff",
          "[storage][segmented_log][spare]") {
  for (bool preallocate : {false, true}) {
    Fs fs;
    SegmentedLog::Options options = small_segments(preallocate ? Spare::kOff : Spare::kInline);
    options.preallocate = preallocate;
    auto log = open_log(fs, kDir, options);
    for (Index i = 1; i <= 30; ++i) REQUIRE(log->append({make_entry(i, 1, 40)}).ok());
    CHECK(log->segment_count() >= 3);
    CHECK(log->spares_used() == 0);
    CHECK_FALSE(*fs.exists(kSpare));
  }
}

TEST_CASE("segmented log spare: open removes a leftover spare, whatever it holds",
          "[storage][segmented_log][spare]") {
  const std::string header_of_next = segment_format::encode_header(21, 0);
  for (const std::string& leftover :
       {std::string(), std::string(123, '\0'), std::string(400, '\0'), std::string("garbage"),
        header_of_next + std::string(400 - 32, '\0')}) {
    Fs fs;
    {
      auto log = open_log(fs, kDir, small_segments(Spare::kOff));
      REQUIRE(log->append(make_entries(1, 20, 1, 40)).ok());
    }
    auto spare = fs.create_writable(kSpare);
    REQUIRE(spare.ok());
    REQUIRE((*spare)->append(leftover).ok());
    REQUIRE((*spare)->sync().ok());
    REQUIRE(fs.sync_dir(kDir).ok());
    spare->reset();
    auto log = open_log(fs, kDir, small_segments());
    CHECK_FALSE(*fs.exists(kSpare));
    check_entries(*log, 20);
    REQUIRE(log->append(make_entries(21, 30, 1, 40)).ok());
    check_entries(*log, 30);
  }
}

TEST_CASE("segmented log spare: a leftover spare on the real file system is removed at open",
          "[storage][segmented_log][spare]") {
  TempDir tmp;
  const std::string dir = tmp.path() + "/log";
  auto& fs = posix_file_system();
  SegmentedLog::Options options = small_segments();
  options.segment_size = 4096;
  {
    auto log = open_log(fs, dir, options);
    REQUIRE(log->append(make_entries(1, 5, 1, 40)).ok());
  }  // the background preparation may or may not have finished: either way, a leftover
  auto file = fs.create_writable(dir + "/" + std::string(kSpareName));
  REQUIRE(file.ok());
  REQUIRE((*file)->append(std::string(1000, 'x')).ok());
  file->reset();
  auto log = open_log(fs, dir, options);
  CHECK_FALSE(*fs.exists(dir + "/" + std::string(kSpareName)));
  check_entries(*log, 5);
}

TEST_CASE("segmented log spare: an all-zero last segment (its header never synced) is removed",
          "[storage][segmented_log][spare]") {
  Fs fs;
  {
    auto log = open_log(fs, kDir, small_segments());
    REQUIRE(log->append(make_entries(1, 20, 1, 40)).ok());
  }
  // As if the spare's rename reached the disk and its header did not.
  const std::string next = kDir + "/" + segment_format::segment_name(21);
  auto file = fs.create_writable(next);
  REQUIRE(file.ok());
  REQUIRE((*file)->append(std::string(400, '\0')).ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE(fs.sync_dir(kDir).ok());
  file->reset();
  auto log = open_log(fs, kDir, small_segments());
  CHECK_FALSE(*fs.exists(next));
  check_entries(*log, 20);
  REQUIRE(log->append(make_entries(21, 30, 1, 40)).ok());
  check_entries(*log, 30);
}

TEST_CASE("segmented log spare: a failed preparation fails no append; the next rotation retries",
          "[storage][segmented_log][spare]") {
  Fs fs;
  auto log = open_log(fs, kDir, small_segments());
  // A directory where the spare goes: creating it fails.
  REQUIRE(fs.create_dirs(kSpare).ok());
  Index last = 0;
  auto append_until_rotation = [&] {
    const std::size_t segments = log->segment_count();
    while (log->segment_count() == segments) {
      ++last;
      REQUIRE(log->append({make_entry(last, 1, 40)}).ok());
    }
  };
  append_until_rotation();  // the first segment, created
  append_until_rotation();  // the second, created: the spare failed during the first
  CHECK(log->spare_error().code() == ErrorCode::kIoError);
  CHECK(log->spare_error().message().find(kSpareName) != std::string::npos);
  append_until_rotation();  // created too: it failed again
  CHECK(log->spares_used() == 0);
  REQUIRE(fs.remove(kSpare).ok());
  append_until_rotation();  // created; this time the spare is prepared
  append_until_rotation();  // from the spare
  CHECK(log->spares_used() == 1);
  log.reset();
  log = open_log(fs, kDir, small_segments());
  check_entries(*log, last);
}

// Terms by index: what a log of 40-byte entries (make_entry) should hold.
using Terms = std::map<Index, Term>;

void apply_batch(Terms& terms, const std::vector<pb::Entry>& batch) {
  terms.erase(terms.lower_bound(batch.front().index()), terms.end());
  for (const auto& e : batch) terms[e.index()] = e.term();
}

// True if the log holds entries 1..last_index() as `terms` has them.
bool holds_prefix(const SegmentedLog& log, const Terms& terms) {
  if (log.first_index() != 1) return false;
  auto all = log.entries(1, log.last_index() + 1, kNoLimit);
  REQUIRE(all.ok());
  for (const auto& e : *all) {
    auto it = terms.find(e.index());
    if (it == terms.end() ||
        e.SerializeAsString() != make_entry(e.index(), it->second, 40).SerializeAsString()) {
      return false;
    }
  }
  return true;
}

TEST_CASE("segmented log spare: an I/O error at any call fails an append only outside the spare",
          "[storage][segmented_log][spare]") {
  // Appends that rotate often (after a conflicting one that truncates), on a log of 20.
  const std::vector<std::vector<pb::Entry>> batches = {
      make_entries(21, 22, 1, 40), make_entries(18, 19, 2, 40), make_entries(20, 30, 2, 40),
      make_entries(31, 31, 2, 40), make_entries(32, 45, 2, 40), make_entries(46, 46, 2, 40)};
  for (Fs::Op op : {Fs::Op::kCreateWritable, Fs::Op::kAppend, Fs::Op::kSync, Fs::Op::kRename,
                    Fs::Op::kSyncDir, Fs::Op::kTruncate}) {
    // A dry run counts the calls of `op`.
    std::uint64_t total = 0;
    {
      Fs fs;
      auto log = open_log(fs, kDir, small_segments());
      REQUIRE(log->append(make_entries(1, 20, 1, 40)).ok());
      fs.reset_counts();
      for (const auto& batch : batches) REQUIRE(log->append(batch).ok());
      CHECK(log->spares_used() >= 3);
      total = fs.count(op);
    }
    int in_spare = 0;
    int in_append = 0;
    for (std::uint64_t n = 1; n <= total; ++n) {
      INFO("failing call " << n << " of " << total << " to " << to_string(op));
      Fs fs;
      auto log = open_log(fs, kDir, small_segments());
      REQUIRE(log->append(make_entries(1, 20, 1, 40)).ok());
      fs.fail_nth(op, n);
      Terms acked;
      apply_batch(acked, make_entries(1, 20, 1, 40));
      Terms attempted = acked;
      bool failed = false;
      for (const auto& batch : batches) {
        attempted = acked;
        apply_batch(attempted, batch);
        if (Status s = log->append(batch); !s.ok()) {
          INFO(s.to_string());
          failed = true;
          // What the log reports is what it holds: the state before, or the conflicting
          // suffix cut.
          CHECK(log->last_index() >= std::min(acked.rbegin()->first, batch.front().index() - 1));
          CHECK(holds_prefix(*log, acked));
          break;
        }
        acked = attempted;
      }
      // Exactly one call failed: in a preparation (no append failed) or in an append.
      CHECK(log->spare_error().ok() == failed);
      ++(failed ? in_append : in_spare);
      fs.clear_faults();
      log.reset();
      log = open_log(fs, kDir, small_segments());
      if (!failed) {
        CHECK(log->last_index() == 46);
        CHECK(holds_prefix(*log, acked));
      } else {
        CHECK((holds_prefix(*log, acked) || holds_prefix(*log, attempted)));
        CHECK(log->last_index() >= 17);
      }
      // The log carries on from where it ends.
      const Index next = log->last_index() + 1;
      REQUIRE(log->append(make_entries(next, next + 9, 3, 40)).ok());
      log.reset();
      log = open_log(fs, kDir, small_segments());
      CHECK(log->last_index() == next + 9);
      CHECK(*log->term(next + 9) == 3);
    }
    // Both kinds were hit, where each makes such calls (segments are all made from the
    // spare here: only its preparation creates files).
    if (op != Fs::Op::kCreateWritable) CHECK(in_append > 0);
    if (op == Fs::Op::kCreateWritable || op == Fs::Op::kAppend || op == Fs::Op::kSync) {
      CHECK(in_spare > 0);
    }
  }
}

TEST_CASE("segmented log spare: a segment created without it gives way to it once ready",
          "[storage][segmented_log][spare]") {
  // The first segment is a quarter full after the first append (the spare is prepared then),
  // and over half of it (1.5 MiB) is still to be zeroed ahead at the second.
  SegmentedLog::Options options;
  options.segment_size = 3u << 20;
  const std::size_t big = 40 << 10;
  auto size_of = [&](Index i) { return i <= 20 ? big : 40; };
  auto check = [&](const SegmentedLog& log, Index last) {
    REQUIRE(log.last_index() == last);
    auto all = log.entries(1, last + 1, kNoLimit);
    REQUIRE(all.ok());
    REQUIRE(all->size() == last);
    for (Index i = 1; i <= last; ++i) {
      CHECK((*all)[i - 1].SerializeAsString() == make_entry(i, 1, size_of(i)).SerializeAsString());
    }
  };
  Fs fs;
  {
    auto log = open_log(fs, kDir, options);
    REQUIRE(log->append(make_entries(1, 20, 1, big)).ok());  // created; the spare after it
    CHECK(log->segment_count() == 1);
    REQUIRE(*fs.exists(kSpare));
    REQUIRE(log->append(make_entries(21, 23, 1, 40)).ok());  // rotates to the spare at once
    CHECK(log->segment_count() == 2);
    CHECK(log->spares_used() == 1);
    REQUIRE(log->append(make_entries(24, 26, 1, 40)).ok());  // and stays there
    CHECK(log->segment_count() == 2);
    const std::string first = kDir + "/" + segment_format::segment_name(1);
    CHECK(fs.contents(first)->size() == 32 + 20 * (8 + make_entry(1, 1, big).ByteSizeLong()));
    const std::string second = *fs.contents(kDir + "/" + segment_format::segment_name(21));
    CHECK(second.size() == options.segment_size);
    CHECK(all_zeros(second.substr(second.size() - 4096)));
  }
  // After open the active segment may not have been zeroed: once it is a quarter full and a
  // spare is ready, it gives way again.
  auto log = open_log(fs, kDir, options);
  check(*log, 26);
  REQUIRE(log->append(make_entries(27, 46, 1, 40)).ok());
  CHECK(log->segment_count() == 2);
  REQUIRE(log->append(make_entries(47, 47, 1, big * 20)).ok());  // now a quarter full
  CHECK(log->segment_count() == 2);
  REQUIRE(log->append(make_entries(48, 50, 1, 40)).ok());
  CHECK(log->segment_count() == 3);
  log.reset();
  log = open_log(fs, kDir, options);
  REQUIRE(log->last_index() == 50);
  CHECK(log->entries(1, 51, kNoLimit)->size() == 50);
  CHECK((*log->entries(47, 48, kNoLimit))[0].data().size() == big * 20);
}

TEST_CASE("segmented log spare: in the background on the real file system, many rotations",
          "[storage][segmented_log][spare]") {
  TempDir tmp;
  const std::string dir = tmp.path() + "/log";
  auto& fs = posix_file_system();
  SegmentedLog::Options options;
  options.segment_size = 4096;
  options.spare = Spare::kBackground;
  Index last = 0;
  {
    auto log = open_log(fs, dir, options);
    // Appends go on while the spares are prepared; whether one is ready at a rotation is up
    // to the thread. Go on (no sleeping: every append syncs) until several were used.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (log->spares_used() < 10 && std::chrono::steady_clock::now() < deadline) {
      REQUIRE(log->append(make_entries(last + 1, last + 8, 1, 40)).ok());
      last += 8;
    }
    CHECK(log->spares_used() >= 10);
    CHECK(log->spare_error().ok());
    check_entries(*log, last);
  }
  auto log = open_log(fs, dir, options);
  CHECK_FALSE(*fs.exists(dir + "/" + std::string(kSpareName)));
  check_entries(*log, last);
  // Truncation and restore with a preparation under way.
  REQUIRE(log->append(make_entries(last - 20, last, 2, 40)).ok());
  REQUIRE(log->restore(last + 100, 3).ok());
  REQUIRE(log->append(make_entries(last + 101, last + 200, 3, 40)).ok());
  log.reset();
  log = open_log(fs, dir, options);
  CHECK(log->first_index() == last + 101);
  CHECK(log->last_index() == last + 200);
  CHECK(log->entries(last + 101, last + 201, kNoLimit)->size() == 100);
}

TEST_CASE("segmented log spare: closing the log cancels a preparation under way",
          "[storage][segmented_log][spare]") {
  TempDir tmp;
  const std::string dir = tmp.path() + "/log";
  auto& fs = posix_file_system();
  SegmentedLog::Options options;  // 64 MiB segments: the preparation takes a while
  options.spare = Spare::kBackground;
  for (int round = 0; round < 3; ++round) {
    auto log = open_log(fs, dir, options);
    const Index next = log->last_index() + 1;
    REQUIRE(log->append(make_entries(next, next + 9, 1, 40)).ok());
    log.reset();  // cancels and joins
    log = open_log(fs, dir, options);
    CHECK_FALSE(*fs.exists(dir + "/" + std::string(kSpareName)));
    check_entries(*log, next + 9);
  }
}

}  // namespace
}  // namespace raft
