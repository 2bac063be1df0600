// Behaviour of SegmentedLog on the real file system, in a fresh temporary directory.
#include "raft/segmented_log.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "log_test_support.h"

namespace raft {
namespace {

using testing::make_entries;
using testing::make_entry;
using testing::TempDir;

constexpr std::uint64_t kNoLimit = UINT64_MAX;

SegmentedLog::Options small_segments() {
  SegmentedLog::Options options;
  options.segment_size = 1024;
  return options;
}

std::unique_ptr<SegmentedLog> open_log(const std::string& dir, SegmentedLog::Options options = {}) {
  auto log = SegmentedLog::open(posix_file_system(), dir, options);
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  return std::move(*log);
}

// Checks that the log holds exactly entries first..last with the terms `term_of` gives.
template <typename TermOf>
void check_log(const SegmentedLog& log, Index first, Index last, TermOf term_of) {
  REQUIRE(log.first_index() == first);
  REQUIRE(log.last_index() == last);
  if (last < first) return;
  auto all = log.entries(first, last + 1, kNoLimit);
  REQUIRE(all.ok());
  REQUIRE(all->size() == last - first + 1);
  for (Index i = first; i <= last; ++i) {
    const pb::Entry& e = (*all)[i - first];
    const Term t = static_cast<Term>(term_of(i));
    CHECK(e.index() == i);
    CHECK(e.term() == t);
    CHECK(e.SerializeAsString() == make_entry(i, t, e.data().size()).SerializeAsString());
    CHECK(*log.term(i) == t);
  }
}

TEST_CASE("segmented log: a fresh log is empty", "[storage][segmented_log]") {
  TempDir tmp;
  auto log = open_log(tmp.path() + "/log");
  CHECK(log->first_index() == 1);
  CHECK(log->last_index() == 0);
  CHECK(*log->term(0) == 0);
  CHECK(log->term(1).status().code() == ErrorCode::kUnavailable);
  CHECK(log->entries(1, 2, kNoLimit).status().code() == ErrorCode::kUnavailable);
  CHECK(log->entries(1, 1, kNoLimit)->empty());
  auto state = log->initial_state();
  REQUIRE(state.ok());
  CHECK(state->hard_state.term() == 0);
}

TEST_CASE("segmented log: appended entries read back and survive a reopen",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path() + "/log";
  auto term_of = [](Index i) { return i <= 5 ? 1 : 2; };
  {
    auto log = open_log(dir);
    REQUIRE(log->append(make_entries(1, 5, 1)).ok());
    REQUIRE(log->append(make_entries(6, 10, 2)).ok());
    check_log(*log, 1, 10, term_of);
    CHECK(log->entries(0, 3, kNoLimit).status().code() == ErrorCode::kCompacted);
    CHECK(log->entries(3, 12, kNoLimit).status().code() == ErrorCode::kUnavailable);
  }
  auto log = open_log(dir);
  check_log(*log, 1, 10, term_of);
}

TEST_CASE("segmented log: entries respects max_bytes and returns at least one",
          "[storage][segmented_log]") {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_segments());
  REQUIRE(log->append(make_entries(1, 40, 1, 100)).ok());
  const std::uint64_t one = make_entry(1, 1, 100).ByteSizeLong();
  CHECK(log->entries(1, 41, 0)->size() == 1);
  CHECK(log->entries(1, 41, one)->size() == 1);
  CHECK(log->entries(1, 41, 3 * one + 1)->size() == 3);
  // Across segment boundaries too.
  CHECK(log->entries(5, 41, 20 * one)->size() == 20);
  CHECK(log->entries(5, 41, kNoLimit)->size() == 36);
}

TEST_CASE("segmented log: an append over an existing suffix replaces it",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto log = open_log(dir, small_segments());
  for (Index i = 1; i <= 50; i += 5) REQUIRE(log->append(make_entries(i, i + 4, 1, 64)).ok());
  const std::size_t segments = log->segment_count();
  REQUIRE(segments > 3);
  REQUIRE(log->append(make_entries(12, 14, 3, 64)).ok());
  auto term_of = [](Index i) { return i < 12 ? 1 : 3; };
  check_log(*log, 1, 14, term_of);
  CHECK(log->segment_count() < segments);
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 1, 14, term_of);
  // Replace from the very first entry.
  REQUIRE(log->append(make_entries(1, 2, 4)).ok());
  check_log(*log, 1, 2, [](Index) { return 4; });
  CHECK(log->segment_count() == 1);
  // Gaps and non-contiguous batches are refused.
  CHECK(log->append(make_entries(5, 6, 4)).code() == ErrorCode::kInvalidArgument);
  std::vector<pb::Entry> holes = {make_entry(3, 4), make_entry(5, 4)};
  CHECK(log->append(holes).code() == ErrorCode::kInvalidArgument);
  check_log(*log, 1, 2, [](Index) { return 4; });
}

TEST_CASE("segmented log: segments rotate at segment_size", "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto log = open_log(dir, small_segments());
  for (Index i = 1; i <= 100; ++i) REQUIRE(log->append({make_entry(i, 1, 100)}).ok());
  // ~108 bytes a record, 1024-byte segments: about ten records each.
  CHECK(log->segment_count() >= 9);
  CHECK(log->segment_count() <= 12);
  auto names = posix_file_system().list(dir);
  REQUIRE(names.ok());
  CHECK(names->front() == "00000000000000000001.log");
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 1, 100, [](Index) { return 1; });
}

TEST_CASE("segmented log: compaction drops whole segments and keeps the compaction term",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto log = open_log(dir, small_segments());
  for (Index i = 1; i <= 60; i += 3) {
    REQUIRE(log->append(make_entries(i, i + 2, i <= 30 ? 1 : 2, 100)).ok());
  }
  const std::size_t before = log->segment_count();
  REQUIRE(log->compact(35).ok());
  CHECK(log->segment_count() < before);
  auto term_of = [](Index i) { return i <= 30 ? 1 : 2; };
  check_log(*log, 36, 60, term_of);
  CHECK(*log->term(35) == 2);
  CHECK(log->term(34).status().code() == ErrorCode::kCompacted);
  CHECK(log->entries(35, 40, kNoLimit).status().code() == ErrorCode::kCompacted);
  CHECK(log->compact(35).code() == ErrorCode::kCompacted);
  CHECK(log->compact(61).code() == ErrorCode::kUnavailable);
  // Appending below the compaction point ignores the compacted part.
  REQUIRE(log->append(make_entries(30, 40, 2, 100)).ok());
  check_log(*log, 36, 40, term_of);
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 36, 40, term_of);
  CHECK(*log->term(35) == 2);
  // Compacting everything leaves an empty log that continues after the point.
  REQUIRE(log->compact(40).ok());
  check_log(*log, 41, 40, term_of);
  CHECK(*log->term(40) == 2);
  REQUIRE(log->append(make_entries(41, 45, 3)).ok());
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 41, 45, [](Index) { return 3; });
  CHECK(*log->term(40) == 2);
}

TEST_CASE("segmented log: compaction leftovers with a gap between them are removed at open",
          "[storage][segmented_log]") {
  // compact() removes the segments it drops and syncs the directory once; the removals may
  // reach the disk in any order, so a crash can leave an older leftover without a newer one.
  TempDir tmp;
  const std::string dir = tmp.path();
  auto log = open_log(dir, small_segments());
  for (Index i = 1; i <= 60; i += 3) REQUIRE(log->append(make_entries(i, i + 2, 1, 100)).ok());
  REQUIRE(log->segment_count() >= 4);
  auto names = posix_file_system().list(dir);  // sorted: oldest segment first
  REQUIRE(names.ok());
  std::vector<std::string> segments;
  for (const auto& name : *names) {
    if (name.ends_with(".log")) segments.push_back(dir + "/" + name);
  }
  const std::string first = segments.front();
  const std::string saved = first + ".saved";
  std::filesystem::copy_file(first, saved);
  REQUIRE(log->compact(45).ok());
  REQUIRE(!std::filesystem::exists(first));
  REQUIRE(!std::filesystem::exists(segments[1]));  // the gap: a newer leftover is gone
  log.reset();
  std::filesystem::rename(saved, first);  // the older leftover's removal "did not persist"
  log = open_log(dir, small_segments());
  check_log(*log, 46, 60, [](Index) { return 1; });
  CHECK(!std::filesystem::exists(first));
}

TEST_CASE("segmented log: a second open of the same directory is refused",
          "[storage][segmented_log]") {
  TempDir tmp;
  auto log = open_log(tmp.path());
  auto second = SegmentedLog::open(posix_file_system(), tmp.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kIoError);
  CHECK(second.status().message().find("in use") != std::string::npos);
  log.reset();
  CHECK(SegmentedLog::open(posix_file_system(), tmp.path()).ok());
}

TEST_CASE("segmented log: a torn tail on disk is cut at open", "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  {
    auto log = open_log(dir);
    REQUIRE(log->append(make_entries(1, 10, 1, 50)).ok());
  }
  // Half a record at the end, as a crash during a write leaves it.
  const std::string segment = dir + "/00000000000000000001.log";
  std::string record;
  {
    auto w = posix_file_system().open_writable(segment);
    REQUIRE(w.ok());
    REQUIRE((*w)->append(std::string("\x3a\x00\x00\x00\x12\x34", 6)).ok());
  }
  auto log = open_log(dir);
  check_log(*log, 1, 10, [](Index) { return 1; });
  REQUIRE(log->append(make_entries(11, 12, 1, 50)).ok());
  log.reset();
  log = open_log(dir);
  check_log(*log, 1, 12, [](Index) { return 1; });
}

std::uint64_t file_size(const std::string& path) {
  auto file = posix_file_system().open_readable(path);
  REQUIRE(file.ok());
  auto size = (*file)->size();
  REQUIRE(size.ok());
  return *size;
}

std::string file_contents(const std::string& path) {
  auto file = posix_file_system().open_readable(path);
  REQUIRE(file.ok());
  std::string data;
  REQUIRE((*file)->read(0, static_cast<std::size_t>(file_size(path)), &data).ok());
  return data;
}

std::vector<std::string> segment_paths(const std::string& dir) {
  auto names = posix_file_system().list(dir);
  REQUIRE(names.ok());
  std::vector<std::string> paths;
  for (const auto& name : *names) {
    if (name.ends_with(".log")) paths.push_back(dir + "/" + name);
  }
  return paths;
}

// Bytes of a segment holding `entries`: its header and their records.
std::uint64_t records_size(const std::vector<pb::Entry>& entries) {
  std::uint64_t size = 32;
  for (const auto& e : entries) size += 8 + e.ByteSizeLong();
  return size;
}

TEST_CASE("segmented log: the active segment has its full size and appends overwrite it in place",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  SegmentedLog::Options options;
  options.segment_size = 64 * 1024;
  const std::string segment = dir + "/00000000000000000001.log";
  {
    auto log = open_log(dir, options);
    for (Index i = 1; i <= 10; ++i) REQUIRE(log->append({make_entry(i, 1, 100)}).ok());
    CHECK(file_size(segment) == options.segment_size);
  }
  auto log = open_log(dir, options);
  check_log(*log, 1, 10, [](Index) { return 1; });
  // The zeros after the last record are unused space: nothing was cut, nothing was lost.
  const std::string data = file_contents(segment);
  const std::uint64_t end = records_size(make_entries(1, 10, 1, 100));
  CHECK(data.find_first_not_of('\0', end) == std::string::npos);
  CHECK(data[end - 1] != '\0');
  REQUIRE(log->append(make_entries(11, 20, 2, 100)).ok());
  CHECK(file_size(segment) == options.segment_size);
  log.reset();
  log = open_log(dir, options);
  check_log(*log, 1, 20, [](Index i) { return i <= 10 ? 1 : 2; });
}

TEST_CASE("segmented log: closed segments are cut to their records, the last keeps its space",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto log = open_log(dir, small_segments());
  for (Index i = 1; i <= 100; ++i) REQUIRE(log->append({make_entry(i, 1, 100)}).ok());
  const auto paths = segment_paths(dir);
  REQUIRE(paths.size() >= 3);
  auto first_of = [](const std::string& path) {
    return static_cast<Index>(std::stoull(path.substr(path.size() - 24, 20)));
  };
  for (std::size_t k = 0; k + 1 < paths.size(); ++k) {
    INFO(paths[k]);
    const Index lo = first_of(paths[k]);
    const Index hi = first_of(paths[k + 1]) - 1;
    CHECK(file_size(paths[k]) == records_size(make_entries(lo, hi, 1, 100)));
  }
  CHECK(file_size(paths.back()) == 1024);
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 1, 100, [](Index) { return 1; });
}

TEST_CASE("segmented log: entries cut by a shorter conflicting append do not come back at open",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  auto term_of = [](Index i) { return i < 5 ? 1 : 2; };
  {
    auto log = open_log(dir);
    REQUIRE(log->append(make_entries(1, 20, 1, 100)).ok());
    REQUIRE(log->append({make_entry(5, 2, 100)}).ok());
    check_log(*log, 1, 5, term_of);
  }
  // The bytes of entries 6..20 are gone from the file, not merely past the logical end.
  const std::string data = file_contents(dir + "/00000000000000000001.log");
  std::vector<pb::Entry> kept = make_entries(1, 4, 1, 100);
  kept.push_back(make_entry(5, 2, 100));
  CHECK(data.find_first_not_of('\0', records_size(kept)) == std::string::npos);
  auto log = open_log(dir);
  check_log(*log, 1, 5, term_of);
  REQUIRE(log->append(make_entries(6, 7, 3, 100)).ok());
  log.reset();
  log = open_log(dir);
  check_log(*log, 1, 7, [](Index i) { return i < 5 ? 1 : i == 5 ? 2 : 3; });
}

TEST_CASE("segmented log: a shorter conflicting append in a closed segment keeps the cut away",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  {
    auto log = open_log(dir, small_segments());
    for (Index i = 1; i <= 50; ++i) REQUIRE(log->append({make_entry(i, 1, 100)}).ok());
    REQUIRE(log->segment_count() > 3);
    REQUIRE(log->append({make_entry(12, 2, 100)}).ok());
  }
  auto log = open_log(dir, small_segments());
  check_log(*log, 1, 12, [](Index i) { return i < 12 ? 1 : 2; });
  // The segment that became the last one again has its unused space back.
  CHECK(file_size(segment_paths(dir).back()) == 1024);
}

TEST_CASE("segmented log: a torn record in the preallocated space is cut at open",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  const std::string segment = dir + "/00000000000000000001.log";
  SegmentedLog::Options options;
  options.segment_size = 64 * 1024;
  {
    auto log = open_log(dir, options);
    REQUIRE(log->append(make_entries(1, 10, 1, 100)).ok());
  }
  // The first half of the record of entry 11, where the next append would have put it.
  const std::uint64_t end = records_size(make_entries(1, 10, 1, 100));
  std::string record;
  {
    const pb::Entry next = make_entry(11, 1, 100);
    const std::string payload = next.SerializeAsString();
    record = std::string("\0\0\0\0\0\0\0\0", 8) + payload;
    record[0] = static_cast<char>(payload.size());
    record[4] = '\x5a';  // any CRC: the record is torn anyway
    auto w = posix_file_system().open_writable(segment);
    REQUIRE(w.ok());
    REQUIRE((*w)->write_at(end, record.substr(0, record.size() / 2)).ok());
    REQUIRE((*w)->sync().ok());
  }
  auto log = open_log(dir, options);
  check_log(*log, 1, 10, [](Index) { return 1; });
  // The torn bytes are gone, the unused space is back.
  CHECK(file_contents(segment).find_first_not_of('\0', end) == std::string::npos);
  CHECK(file_size(segment) == options.segment_size);
  REQUIRE(log->append({make_entry(11, 2, 10)}).ok());
  log.reset();
  log = open_log(dir, options);
  REQUIRE(log->last_index() == 11);
  CHECK(*log->term(11) == 2);
}

TEST_CASE("segmented log: logs written with and without preallocation open either way",
          "[storage][segmented_log]") {
  TempDir tmp;
  const std::string dir = tmp.path();
  SegmentedLog::Options plain = small_segments();
  plain.preallocate = false;
  const std::string segment = dir + "/00000000000000000001.log";
  {
    auto log = open_log(dir, plain);
    REQUIRE(log->append(make_entries(1, 3, 1, 100)).ok());
    CHECK(file_size(segment) == records_size(make_entries(1, 3, 1, 100)));
  }
  {
    auto log = open_log(dir, small_segments());
    check_log(*log, 1, 3, [](Index) { return 1; });
    REQUIRE(log->append(make_entries(4, 5, 1, 100)).ok());
    CHECK(file_size(segment) == 1024);
  }
  auto log = open_log(dir, plain);
  check_log(*log, 1, 5, [](Index) { return 1; });
  for (Index i = 6; i <= 30; ++i) REQUIRE(log->append({make_entry(i, 1, 100)}).ok());
  log.reset();
  log = open_log(dir, small_segments());
  check_log(*log, 1, 30, [](Index) { return 1; });
}

TEST_CASE("segmented log: entries larger than a segment and big batches",
          "[storage][segmented_log]") {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_segments());
  REQUIRE(log->append(make_entries(1, 3, 1, 5000)).ok());
  REQUIRE(log->append(make_entries(4, 300, 1, 10)).ok());
  REQUIRE(log->append(make_entries(301, 301, 1, 70000)).ok());
  check_log(*log, 1, 301, [](Index) { return 1; });
  log.reset();
  log = open_log(tmp.path(), small_segments());
  check_log(*log, 1, 301, [](Index) { return 1; });
}

}  // namespace
}  // namespace raft
