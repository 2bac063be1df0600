// Random damage to a synced SegmentedLog (bit rot, garbage, zeroed runs, truncation), trial
// after seeded trial: open() never crashes and never skips. It either refuses with
// kCorruption or opens to an exact prefix of what was written, and the prefix it keeps is
// the one the recovery rule (raft/segmented_log.h, "Recovery") names for that damage. Damage
// in a segment that is not the last, or in the last one before an intact record, is refused.
// Damage that reaches the end of the last segment's records is a torn tail and is cut at the
// first damaged record. (A zeroed run before an intact record may look like a hole; then
// open() may cut there instead of refusing.) A log that opened must take appends and reopen
// clean.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "log_test_support.h"
#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"
#include "storage/segment_format.h"

namespace raft {
namespace {

using Fs = FaultInjectingFileSystem;
namespace sf = segment_format;

constexpr std::uint64_t kNoLimit = UINT64_MAX;
constexpr std::size_t kHeader = sf::kHeaderSize;
constexpr std::size_t kReserved = kHeader - 4;  // the header's last 4 bytes are reserved, 0
constexpr Index kEntries = 60;
const std::string kDir = "/data/log";

SegmentedLog::Options small_segments() {
  SegmentedLog::Options options;
  options.segment_size = 4096;
  return options;
}

// The entries every trial writes: data of 1 to 400 bytes, terms rising from 1 to 3.
std::vector<pb::Entry> originals() {
  std::mt19937_64 rng(42);
  std::vector<pb::Entry> out;
  for (Index i = 1; i <= kEntries; ++i) {
    out.push_back(testing::make_entry(i, 1 + (i - 1) * 3 / kEntries, 1 + rng() % 400));
  }
  return out;
}

// One segment of the log as written: its path and where its records start and end.
struct SegmentImage {
  std::string path;
  Index first = 0;
  std::vector<std::size_t> starts;  // record offsets
  std::vector<std::size_t> ends;
  std::string data;  // the file
};

// Writes the entries in batches of 1 to 3 (each append syncs) and returns the segments.
std::vector<SegmentImage> write_log(Fs& fs, const std::vector<pb::Entry>& entries) {
  {
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    REQUIRE(log.ok());
    for (std::size_t i = 0; i < entries.size();) {
      const std::size_t n = std::min<std::size_t>(1 + i % 3, entries.size() - i);
      REQUIRE((*log)
                  ->append({entries.begin() + static_cast<std::ptrdiff_t>(i),
                            entries.begin() + static_cast<std::ptrdiff_t>(i + n)})
                  .ok());
      i += n;
    }
  }
  std::vector<SegmentImage> segments;
  auto names = fs.list(kDir);
  REQUIRE(names.ok());
  for (const auto& name : *names) {
    SegmentImage s;
    if (!sf::parse_segment_name(name, &s.first)) continue;
    s.path = kDir + "/" + name;
    s.data = *fs.contents(s.path);
    segments.push_back(std::move(s));
  }
  REQUIRE(segments.size() >= 3);
  for (std::size_t k = 0; k < segments.size(); ++k) {
    const Index end = k + 1 < segments.size() ? segments[k + 1].first : kEntries + 1;
    std::size_t at = kHeader;
    for (Index i = segments[k].first; i < end; ++i) {
      segments[k].starts.push_back(at);
      at += sf::kRecordHeaderSize + entries[i - 1].ByteSizeLong();
      segments[k].ends.push_back(at);
    }
  }
  return segments;
}

enum class Damage { kFlipBit, kGarbage, kZeros, kTruncate };

struct Trial {
  Damage damage = Damage::kFlipBit;
  std::size_t segment = 0;  // which one
  std::string image;        // the damaged file
  std::size_t from = 0;     // the first byte that differs (or the truncation point)
  std::size_t to = 0;       // one past the last byte that differs
};

Trial damage(std::mt19937_64& rng, const std::vector<SegmentImage>& segments) {
  Trial t;
  t.damage = static_cast<Damage>(rng() % 4);
  t.segment = rng() % segments.size();
  const std::string& data = segments[t.segment].data;
  t.image = data;
  const std::size_t at = rng() % data.size();
  switch (t.damage) {
    case Damage::kFlipBit:
      t.image[at] = static_cast<char>(t.image[at] ^ (1u << (rng() % 8)));
      break;
    case Damage::kGarbage:  // every byte of the run changes
      for (std::size_t i = at; i < std::min(data.size(), at + 1 + rng() % 700); ++i) {
        t.image[i] = static_cast<char>(t.image[i] ^ (1 + rng() % 255));
      }
      break;
    case Damage::kZeros:
      for (std::size_t i = at; i < std::min(data.size(), at + 1 + rng() % 1200); ++i) {
        t.image[i] = '\0';
      }
      break;
    case Damage::kTruncate:
      t.image.resize(at);
      t.from = t.to = at;
      return t;
  }
  t.from = t.image.size();
  for (std::size_t i = 0; i < t.image.size(); ++i) {
    if (t.image[i] != data[i]) {
      t.from = std::min(t.from, i);
      t.to = i + 1;
    }
  }
  return t;
}

// The entries the last segment keeps when its first damaged byte is at `from`.
Index kept_before(const SegmentImage& s, std::size_t from) {
  Index n = 0;
  while (n < s.ends.size() && s.ends[n] <= from) ++n;
  return s.first - 1 + n;
}

// Checks that a log that opened holds exactly entries 1..last as written.
void check_prefix(const SegmentedLog& log, const std::vector<pb::Entry>& entries) {
  const Index last = log.last_index();
  REQUIRE(last <= kEntries);
  auto all = log.entries(1, last + 1, kNoLimit);
  REQUIRE(all.ok());
  REQUIRE(all->size() == last);
  for (Index i = 1; i <= last; ++i) {
    REQUIRE((*all)[i - 1].SerializeAsString() == entries[i - 1].SerializeAsString());
  }
}

TEST_CASE("segmented log damage: random damage is refused or cut to the prefix the rule names",
          "[storage][segmented_log]") {
  const std::vector<pb::Entry> entries = originals();
  std::mt19937_64 rng(20261207);
  int refused = 0;
  int cut = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Fs fs;
    const std::vector<SegmentImage> segments = write_log(fs, entries);
    const Trial t = damage(rng, segments);
    const SegmentImage& s = segments[t.segment];
    const bool last = t.segment + 1 == segments.size();
    REQUIRE(fs.set_contents(s.path, t.image).ok());
    INFO("trial " << trial << ": damage " << static_cast<int>(t.damage) << " in " << s.path
                  << " bytes [" << t.from << ", " << t.to << ") of " << s.data.size());

    // What the rule says. Unchanged: opens whole.
    bool must_refuse = false;
    bool may_refuse = false;
    Index expect = kEntries;
    const std::size_t logical_end = s.ends.empty() ? kHeader : s.ends.back();
    if (t.damage == Damage::kTruncate) {
      if (!last) {
        must_refuse = true;  // a short middle segment: a gap before the next one
      } else {
        // A header cut short is an interrupted creation: the segment is removed.
        expect = t.from < kHeader ? s.first - 1 : kept_before(s, t.from);
      }
    } else if (t.from >= kReserved && t.to <= kHeader) {
      // The header's reserved bytes are not checksummed but must be zero: damage that left
      // them zero (a run of zeros) changes nothing.
      must_refuse = t.image.substr(kReserved, kHeader - kReserved).find_first_not_of('\0') !=
                    std::string::npos;
    } else if (t.from < t.to) {
      bool intact_after = false;  // a record after the damage that the damage left whole
      for (std::size_t start : s.starts) intact_after = intact_after || start >= t.to;
      if (!last || t.from < kHeader) {
        must_refuse = true;
      } else if (t.from < logical_end && intact_after) {
        // Zeros may form a hole: an unsynced batch, cut at the damaged record.
        if (t.damage == Damage::kZeros) {
          may_refuse = true;
        } else {
          must_refuse = true;
        }
        expect = kept_before(s, t.from);
      } else {
        expect = kept_before(s, t.from);  // a torn tail (or garbage in the unused space)
      }
    }

    auto log = SegmentedLog::open(fs, kDir, small_segments());
    INFO("open: " << log.status().to_string());
    if (must_refuse) {
      REQUIRE(log.status().code() == ErrorCode::kCorruption);
      ++refused;
      continue;
    }
    if (may_refuse && !log.ok()) {
      REQUIRE(log.status().code() == ErrorCode::kCorruption);
      ++refused;
      continue;
    }
    REQUIRE(log.ok());
    CHECK((*log)->last_index() == expect);
    check_prefix(**log, entries);
    if ((*log)->recovery().cut) ++cut;
    const Index appended = (*log)->last_index() + 1;
    REQUIRE((*log)->append({testing::make_entry(appended, 9, 50)}).ok());
    log->reset();
    auto again = SegmentedLog::open(fs, kDir, small_segments());
    REQUIRE(again.ok());
    CHECK_FALSE((*again)->recovery().cut);
    CHECK((*again)->last_index() == appended);
  }
  // The trials reached both outcomes.
  CHECK(refused > 1000);
  CHECK(cut > 150);
}

// Writes, synced, a segment named for `name_first` whose header says `header_first`,
// followed by zeros (its unused space).
void put_segment(Fs& fs, Index name_first, Index header_first) {
  REQUIRE(fs.create_dirs(kDir).ok());
  auto file = fs.create_writable(kDir + "/" + sf::segment_name(name_first));
  REQUIRE(file.ok());
  REQUIRE((*file)->append(sf::encode_header(header_first, 0)).ok());
  REQUIRE((*file)->append(std::string(4096 - kHeader, '\0')).ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE(fs.sync_dir(kDir).ok());
}

// Writes, synced, META with this compaction point (generation 0).
void put_meta(Fs& fs, Index index, Term term) {
  REQUIRE(fs.create_dirs(kDir).ok());
  auto file = fs.create_writable(kDir + "/" + std::string(sf::kMetaName));
  REQUIRE(file.ok());
  REQUIRE((*file)->append(sf::encode_meta(index, term, 0)).ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE(fs.sync_dir(kDir).ok());
}

TEST_CASE("segmented log damage: a segment that starts at index 0 is refused",
          "[storage][segmented_log]") {
  Fs fs;
  put_segment(fs, 0, 0);
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.status().code() == ErrorCode::kCorruption);
  CHECK_THAT(log.status().message(), Catch::Contains("cannot start at index 0"));
}

TEST_CASE("segmented log damage: a segment named past the highest index is refused",
          "[storage][segmented_log]") {
  for (const Index first : {sf::kMaxIndex + 2, ~Index{0}}) {
    Fs fs;
    put_segment(fs, first, first);
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    INFO(log.status().to_string());
    REQUIRE(log.status().code() == ErrorCode::kCorruption);
    CHECK_THAT(log.status().message(), Catch::Contains("past the highest index"));
  }
  Fs fs;  // the highest index itself is a valid start (after a compaction point just below)
  put_segment(fs, sf::kMaxIndex, sf::kMaxIndex);
  put_meta(fs, sf::kMaxIndex - 1, 2);
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.ok());
  CHECK((*log)->last_index() == sf::kMaxIndex - 1);
}

TEST_CASE("segmented log damage: a segment header whose reserved bytes are not zero is refused",
          "[storage][segmented_log]") {
  for (std::size_t at = kReserved; at < kHeader; ++at) {
    Fs fs;
    const std::vector<SegmentImage> segments = write_log(fs, originals());
    const SegmentImage& s = segments.front();
    std::string bad = s.data;
    bad[at] = '\x01';
    REQUIRE(fs.set_contents(s.path, bad).ok());
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    INFO("byte " << at << ": " << log.status().to_string());
    REQUIRE(log.status().code() == ErrorCode::kCorruption);
    CHECK_THAT(log.status().message(), Catch::Contains("reserved bytes"));
  }
}

TEST_CASE("segmented log damage: a META past the highest index is refused, and so is a restore",
          "[storage][segmented_log]") {
  Fs fs;
  write_log(fs, originals());
  {
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    REQUIRE(log.ok());
    const Status s = (*log)->restore(~Index{0}, 3);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK((*log)->last_index() == kEntries);  // nothing changed
    REQUIRE((*log)->restore(sf::kMaxIndex, 3).ok());
    CHECK((*log)->first_index() == sf::kMaxIndex + 1);
    // Nothing can follow the highest index: the append is refused, not written.
    CHECK((*log)->append({testing::make_entry(sf::kMaxIndex + 1, 3, 10)}).code() ==
          ErrorCode::kInvalidArgument);
  }
  {
    auto reopened = SegmentedLog::open(fs, kDir, small_segments());
    INFO(reopened.status().to_string());
    REQUIRE(reopened.ok());
    CHECK((*reopened)->first_index() == sf::kMaxIndex + 1);
    CHECK((*reopened)->last_index() == sf::kMaxIndex);
  }
  Fs crafted;
  put_meta(crafted, sf::kMaxIndex + 1, 3);
  auto log = SegmentedLog::open(crafted, kDir, small_segments());
  INFO(log.status().to_string());
  REQUIRE(log.status().code() == ErrorCode::kCorruption);
  CHECK_THAT(log.status().message(), Catch::Contains("past the highest index"));
}

TEST_CASE("segmented log damage: a segment whose header disagrees with its name is refused",
          "[storage][segmented_log]") {
  Fs fs;
  put_segment(fs, 1, 2);
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.status().code() == ErrorCode::kCorruption);
  CHECK_THAT(log.status().message(), Catch::Contains("header says first index 2"));
}

TEST_CASE("segmented log damage: a flipped bit anywhere in META is refused",
          "[storage][segmented_log]") {
  Fs fs;
  const std::vector<pb::Entry> entries = originals();
  write_log(fs, entries);
  {
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    REQUIRE(log.ok());
    REQUIRE((*log)->compact(30).ok());
  }
  const std::string meta_path = kDir + "/META";
  const std::string meta = *fs.contents(meta_path);
  REQUIRE(meta.size() == 40);
  for (std::size_t at = 0; at < 40; ++at) {  // [36,40) is reserved: must be zero
    std::string bad = meta;
    bad[at] = static_cast<char>(bad[at] ^ (1u << (at % 8)));
    REQUIRE(fs.set_contents(meta_path, bad).ok());
    auto log = SegmentedLog::open(fs, kDir, small_segments());
    INFO("byte " << at << ": " << log.status().to_string());
    REQUIRE(log.status().code() == ErrorCode::kCorruption);
    CHECK_THAT(log.status().message(), Catch::Contains(meta_path));
  }
  REQUIRE(fs.set_contents(meta_path, meta).ok());
  auto log = SegmentedLog::open(fs, kDir, small_segments());
  REQUIRE(log.ok());
  CHECK((*log)->first_index() == 31);
  CHECK((*log)->last_index() == kEntries);
}

}  // namespace
}  // namespace raft
