// SegmentedLog: opening, recovery and reads. Writes are in segmented_log_write.cc.
#include "raft/segmented_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "storage/segment_format.h"
#include "storage/segment_preparer.h"

namespace raft {

namespace sf = segment_format;

namespace {

constexpr std::size_t kScanChunk = 4u << 20;  // bytes read at a time while scanning
// While looking for a valid record after a bad one, give up (and call it corruption, the
// safe answer) after checksumming this many bytes.
constexpr std::uint64_t kSearchBudget = 1ull << 30;

Status corruption(std::string message) {
  return Status(ErrorCode::kCorruption, std::move(message));
}

// Reads a file sequentially through a bounded window.
class Scanner {
 public:
  Scanner(const ReadableFile& file, std::uint64_t size) : file_(file), size_(size) {}

  // Makes bytes [offset, offset + n) available; n must fit in the file.
  Result<std::string_view> bytes(std::uint64_t offset, std::size_t n) {
    if (offset < start_ || offset + n > start_ + buffer_.size()) {
      const std::uint64_t want = std::max<std::uint64_t>(n, kScanChunk);
      const auto len = static_cast<std::size_t>(std::min(want, size_ - offset));
      if (Status s = file_.read(offset, len, &buffer_); !s.ok()) return s;
      start_ = offset;
      if (buffer_.size() < n) return corruption("short read");
    }
    return std::string_view(buffer_).substr(offset - start_, n);
  }

 private:
  const ReadableFile& file_;
  std::uint64_t size_;
  std::uint64_t start_ = 0;
  std::string buffer_;
};

// The length of `data` without its trailing zero bytes.
std::size_t without_trailing_zeros(std::string_view data) {
  static constexpr std::size_t kBlock = 4096;
  static const std::string zeros(kBlock, '\0');
  std::size_t end = data.size();
  while (end > 0) {  // whole zero blocks first (memcmp is vectorized), then bytes
    const std::size_t n = end % kBlock == 0 ? kBlock : end % kBlock;
    if (std::memcmp(data.data() + end - n, zeros.data(), n) != 0) break;
    end -= n;
  }
  while (end > 0 && data[end - 1] == '\0') --end;
  return end;
}

// True if a record at `offset` is valid and holds an entry with an index above `after`;
// then *index is that index and *size the record's size.
bool valid_record_at(std::string_view tail, std::size_t offset, Index after, std::uint64_t* budget,
                     Index* index = nullptr, std::size_t* size = nullptr) {
  if (tail.size() - offset < sf::kRecordHeaderSize) return false;
  const std::uint32_t len = sf::get32(tail.data() + offset);
  if (len == 0 || len > tail.size() - offset - sf::kRecordHeaderSize) return false;
  if (*budget < len) {
    *budget = 0;  // out of budget: the caller treats this as corruption
    return false;
  }
  *budget -= len;
  const std::string_view payload = tail.substr(offset + sf::kRecordHeaderSize, len);
  if (sf::get32(tail.data() + offset + 4) != sf::record_crc(payload)) return false;
  pb::Entry entry;
  if (!entry.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
      entry.index() <= after) {
    return false;
  }
  if (index != nullptr) *index = entry.index();
  if (size != nullptr) *size = sf::kRecordHeaderSize + len;
  return true;
}

constexpr std::uint64_t kSector = 512;
constexpr std::uint64_t kNoHole = UINT64_MAX;

bool all_zeros(std::string_view data) { return data.find_first_not_of('\0') == data.npos; }

// The file offset of the first hole in bytes [0, region) of `tail`, which starts at file
// offset `base` (the bad record's): an aligned sector wholly in the region and all zeros,
// or the part of the sector holding `base` from `base` to the sector's end when that is all
// zeros and at least a record header long (see "Recovery" in segmented_log.h). kNoHole if
// there is none.
std::uint64_t find_hole(std::string_view tail, std::uint64_t base, std::size_t region) {
  const std::uint64_t end = base + region;
  std::uint64_t sector = (base + kSector - 1) / kSector * kSector;  // the first whole one
  if (sector != base && sector <= end && sector - base >= sf::kRecordHeaderSize &&
      all_zeros(tail.substr(0, static_cast<std::size_t>(sector - base)))) {
    return base;
  }
  for (; sector + kSector <= end; sector += kSector) {
    if (all_zeros(tail.substr(static_cast<std::size_t>(sector - base), kSector))) return sector;
  }
  return kNoHole;
}

// Counts the valid records with rising indexes above `after` in bytes [from, end) of `tail`
// (where the first is at `from`), searching past bad bytes; *complete is false if the
// search ran out of budget.
std::uint64_t count_records(std::string_view tail, std::size_t from, std::size_t end, Index after,
                            bool* complete) {
  std::uint64_t budget = kSearchBudget;
  std::uint64_t count = 0;
  std::size_t p = from;
  while (p < end && budget > 0) {
    Index index = 0;
    std::size_t size = 0;
    if (valid_record_at(tail, p, after, &budget, &index, &size)) {
      ++count;
      after = index;
      p += size;
    } else {
      ++p;
    }
  }
  *complete = p >= end;
  return count;
}

}  // namespace

SegmentedLog::SegmentedLog(FileSystem& fs, std::string dir, Options options)
    : fs_(fs), dir_(std::move(dir)), options_(options) {}

SegmentedLog::~SegmentedLog() {
  preparer_.reset();  // cancels a preparation under way and joins its thread
  if (writer_) (void)writer_->close();
}

Status SegmentedLog::spare_error() const { return preparer_ ? preparer_->last_error() : Status(); }

Result<std::unique_ptr<SegmentedLog>> SegmentedLog::open(FileSystem& fs, const std::string& dir,
                                                         Options options) {
  std::unique_ptr<SegmentedLog> log(new SegmentedLog(fs, dir, options));
  if (Status s = log->recover(); !s.ok()) return s;
  return log;
}

std::string SegmentedLog::segment_path(Index first) const {
  return dir_ + "/" + sf::segment_name(first);
}

Status SegmentedLog::recover() {
  if (Status s = fs_.create_dirs(dir_); !s.ok()) return s;
  auto lock = fs_.lock(dir_ + "/" + std::string(sf::kLockName));
  if (!lock.ok()) return lock.status();
  lock_ = std::move(*lock);
  if (Status s = load_meta(); !s.ok()) return s;
  // What open() reads may be in the page cache only (written by a process that died before
  // its sync, or whose sync failed): it is made durable before anything is removed on its
  // account or served — the directory (names, META's rename) here, the last segment's
  // records below. Otherwise a node could act on, and acknowledge, state that a power loss
  // then takes back.
  if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;

  auto names = fs_.list(dir_);
  if (!names.ok()) return names.status();
  std::vector<Index> firsts;
  const std::string spare = dir_ + "/" + std::string(kSpareName);
  for (const auto& name : *names) {
    Index first = 0;
    if (sf::parse_segment_name(name, &first)) firsts.push_back(first);
    // A spare left behind (by a crash, a close during its preparation, or unused) is not
    // part of the log; the first append prepares a new one.
    if (name == kSpareName) {
      if (Status s = fs_.remove(spare); !s.ok()) return s;
    }
  }
  if (options_.preallocate && options_.spare != Options::Spare::kOff) {
    const bool background =
        options_.spare == Options::Spare::kBackground ||
        (options_.spare == Options::Spare::kAuto && &fs_ == &posix_file_system());
    preparer_ = std::make_unique<SegmentPreparer>(fs_, spare, options_.segment_size, background);
    want_spare_ = true;
    spare_from_ = options_.segment_size / 4;
  }
  std::sort(firsts.begin(), firsts.end());
  bool dir_changed = false;
  if (Status s = remove_stale_segments(&firsts, &dir_changed); !s.ok()) return s;
  for (std::size_t k = 0; k < firsts.size(); ++k) {
    Segment segment;
    segment.first_index = firsts[k];
    segment.path = segment_path(firsts[k]);
    bool remove = false;
    if (Status s = scan_segment(segment, k + 1 == firsts.size(), &remove); !s.ok()) return s;
    if (remove) {
      if (Status s = fs_.remove(segment.path); !s.ok()) return s;
      dir_changed = true;
      continue;
    }
    if (!segments_.empty()) {
      const Segment& prev = segments_.back();
      // A segment wholly at or below the compaction point is garbage (removed below), and
      // the garbage an interrupted compact() leaves may have gaps: its removals are synced
      // together, and unsynced removals can reach the disk in any order.
      if (prev.last_index() > snapshot_index_ && segment.first_index != prev.last_index() + 1) {
        return corruption(fmt::format(
            "segmented log {}: {} starts at index {} but {} ends at index {} (gap or overlap)",
            dir_, segment.path, segment.first_index, prev.path, prev.last_index()));
      }
    }
    segments_.push_back(std::move(segment));
  }

  // Segments wholly at or below the compaction point are leftovers of an interrupted
  // compact(): META was durable before their removal started.
  while (segments_.size() > 1 && segments_.front().last_index() <= snapshot_index_) {
    if (Status s = fs_.remove(segments_.front().path); !s.ok()) return s;
    segments_.pop_front();
    dir_changed = true;
  }
  if (dir_changed) {
    if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;
  }
  if (!segments_.empty()) {
    if (segments_.front().first_index > snapshot_index_ + 1) {
      return corruption(fmt::format(
          "segmented log {}: entries {} to {} are missing (compaction point {}, first segment {})",
          dir_, snapshot_index_ + 1, segments_.front().first_index - 1, snapshot_index_,
          segments_.front().path));
    }
    if (physical_last() < snapshot_index_) {
      return corruption(
          fmt::format("segmented log {}: the log ends at index {}, before the compaction point {}",
                      dir_, physical_last(), snapshot_index_));
    }
    // Runs before the first segment kept are no longer needed.
    const Index first = segments_.front().first_index;
    std::size_t drop = 0;
    while (drop + 1 < term_runs_.size() && term_runs_[drop + 1].first <= first) ++drop;
    term_runs_.erase(term_runs_.begin(), term_runs_.begin() + static_cast<std::ptrdiff_t>(drop));
    // Every other segment was synced before the next one was created (or by a cut here).
    auto last = fs_.open_writable(segments_.back().path);
    if (!last.ok()) return last.status();
    if (Status s = (*last)->sync(); !s.ok()) return s;
  } else {
    term_runs_.clear();
  }
  return Status();
}

Status SegmentedLog::load_meta() {
  const std::string temp = dir_ + "/" + std::string(sf::kMetaTempName);
  auto temp_exists = fs_.exists(temp);
  if (!temp_exists.ok()) return temp_exists.status();
  if (*temp_exists) {  // an interrupted write_meta(): META itself is intact
    if (Status s = fs_.remove(temp); !s.ok()) return s;
  }
  const std::string path = dir_ + "/" + std::string(sf::kMetaName);
  auto exists = fs_.exists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status();
  auto file = fs_.open_readable(path);
  if (!file.ok()) return file.status();
  std::string data;
  if (Status s = (*file)->read(0, sf::kMetaSize + 1, &data); !s.ok()) return s;
  const std::string why = sf::decode_meta(data, &snapshot_index_, &snapshot_term_, &generation_);
  if (!why.empty()) return corruption(fmt::format("{}: {}", path, why));
  return Status();
}

Status SegmentedLog::remove_stale_segments(std::vector<Index>* firsts, bool* dir_changed) {
  std::vector<Index> kept;
  for (Index first : *firsts) {
    const std::string path = segment_path(first);
    auto file = fs_.open_readable(path);
    if (!file.ok()) return file.status();
    std::string header;
    if (Status s = (*file)->read(0, sf::kHeaderSize, &header); !s.ok()) return s;
    Index header_first = 0;
    std::uint32_t generation = 0;
    // A bad header is scan_segment()'s to judge.
    if (sf::decode_header(header, &header_first, &generation).empty()) {
      if (generation > generation_) {
        return corruption(fmt::format(
            "{}: segment of generation {}, newer than the generation {} of the log's META", path,
            generation, generation_));
      }
      if (generation < generation_) {  // left behind by an interrupted restore()
        if (Status s = fs_.remove(path); !s.ok()) return s;
        *dir_changed = true;
        continue;
      }
    }
    kept.push_back(first);
  }
  *firsts = std::move(kept);
  return Status();
}

Status SegmentedLog::scan_segment(Segment& segment, bool last, bool* remove) {
  if (segment.first_index == 0) {  // raft's entries start at index 1
    return corruption(fmt::format("{}: a segment cannot start at index 0", segment.path));
  }
  if (segment.first_index > sf::kMaxIndex + 1) {
    return corruption(fmt::format("{}: first index {} is past the highest index {} + 1",
                                  segment.path, segment.first_index, sf::kMaxIndex));
  }
  auto file = fs_.open_readable(segment.path);
  if (!file.ok()) return file.status();
  auto size_or = (*file)->size();
  if (!size_or.ok()) return size_or.status();
  const std::uint64_t size = *size_or;
  Scanner scanner(**file, size);

  // The header.
  std::string header;
  if (Status s = (*file)->read(0, sf::kHeaderSize, &header); !s.ok()) return s;
  Index first = 0;
  std::uint32_t generation = 0;
  if (std::string why = sf::decode_header(header, &first, &generation); !why.empty()) {
    // A crash while the last segment was being created leaves it short or zero-filled.
    if (last) {
      bool zeros = size <= sf::kHeaderSize;
      if (!zeros) {
        std::string all;
        if (Status s = (*file)->read(0, static_cast<std::size_t>(size), &all); !s.ok()) return s;
        zeros = all.find_first_not_of('\0') == std::string::npos;
      }
      if (zeros) {
        *remove = true;
        return Status();
      }
    }
    return corruption(fmt::format("{}: {} at offset 0", segment.path, why));
  }
  if (first != segment.first_index) {
    return corruption(fmt::format("{}: header says first index {}, the name says {}", segment.path,
                                  first, segment.first_index));
  }

  // The records.
  std::uint64_t offset = sf::kHeaderSize;
  Index expected = first;
  std::string bad;  // why the record at `offset` is not valid, if it is not
  while (offset < size) {
    if (size - offset < sf::kRecordHeaderSize) {
      bad = "truncated record header";
      break;
    }
    auto head = scanner.bytes(offset, sf::kRecordHeaderSize);
    if (!head.ok()) return head.status();
    const std::uint32_t len = sf::get32(head->data());
    const std::uint32_t crc = sf::get32(head->data() + 4);
    if (len == 0 || len > size - offset - sf::kRecordHeaderSize) {
      bad = fmt::format("bad record length {}", len);
      break;
    }
    auto record = scanner.bytes(offset, sf::kRecordHeaderSize + len);
    if (!record.ok()) return record.status();
    const std::string_view payload = record->substr(sf::kRecordHeaderSize);
    if (crc != sf::record_crc(payload)) {
      bad = "record checksum mismatch";
      break;
    }
    pb::Entry entry;
    if (!entry.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return corruption(
          fmt::format("{}: record at offset {} has a valid checksum but is not "
                      "an entry",
                      segment.path, offset));
    }
    if (entry.index() != expected) {
      return corruption(fmt::format("{}: record at offset {} holds index {}, expected {}",
                                    segment.path, offset, entry.index(), expected));
    }
    segment.offsets.push_back(offset);
    if (term_runs_.empty() || term_runs_.back().term != entry.term()) {
      term_runs_.push_back(TermRun{entry.index(), entry.term()});
    }
    offset += sf::kRecordHeaderSize + len;
    ++expected;
  }
  segment.end = offset;
  if (bad.empty()) return Status();
  if (!last) {
    return corruption(
        fmt::format("{}: {} at offset {} (not the last segment)", segment.path, bad, offset));
  }
  // The last segment: zeros after the last valid record are its unused space.
  std::uint64_t data_end = offset;  // just past the last non-zero byte
  for (std::uint64_t at = offset; at < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kScanChunk, size - at));
    auto chunk = scanner.bytes(at, n);
    if (!chunk.ok()) return chunk.status();
    if (const std::size_t n_data = without_trailing_zeros(*chunk); n_data > 0) {
      data_end = at + n_data;
    }
    at += n;
  }
  if (data_end == offset) return Status();
  // Anything else is a torn write unless a valid record follows the bad one. A record starts
  // before data_end (its length is not zero) but may end in zeros after it.
  std::string tail;
  if (Status s = (*file)->read(offset, static_cast<std::size_t>(size - offset), &tail); !s.ok()) {
    return s;
  }
  const std::size_t search_end = static_cast<std::size_t>(data_end - offset);
  std::uint64_t budget = kSearchBudget;
  std::size_t next = 0;  // where the valid record is, or how far the search got
  bool found = false;
  if (tail.size() >= sf::kRecordHeaderSize) {
    const std::uint64_t natural = sf::kRecordHeaderSize + std::uint64_t{sf::get32(tail.data())};
    if (natural < search_end && valid_record_at(tail, natural, expected - 1, &budget)) {
      next = static_cast<std::size_t>(natural);
      found = true;
    }
    for (std::size_t p = 1; !found && p < search_end; ++p) {
      next = p;
      if (valid_record_at(tail, p, expected - 1, &budget)) found = true;
      if (budget == 0) break;
    }
  }
  Recovery& r = recovery_;
  r.cut = true;
  r.path = segment.path;
  r.offset = offset;
  r.bytes = data_end - offset;
  if (found || budget == 0) {
    // A valid record follows (or may: the search ran out): the bad region up to it decides.
    const std::uint64_t hole = find_hole(tail, offset, next);
    if (hole == kNoHole) {
      recovery_ = Recovery();
      return corruption(fmt::format(
          "{}: {} at offset {}, followed by {} at offset {}: refusing to skip it", segment.path,
          bad, offset, found ? "a valid record" : "data too large to search", offset + next));
    }
    bool complete = false;
    r.records = found ? count_records(tail, next, search_end, expected - 1, &complete) : 0;
    r.hole = true;
    r.hole_offset = hole;
    r.description = fmt::format(
        "{}: cut at offset {} ({}): a never-written sector at offset {} and {}{} valid "
        "record(s) after it, {} bytes in all: a write that was never synced, persisted out of "
        "order",
        segment.path, offset, bad, hole, complete ? "" : "at least ", r.records, r.bytes);
  } else {
    r.description =
        fmt::format("{}: cut at offset {} ({}): a torn write, {} bytes, no valid record after it",
                    segment.path, offset, bad, r.bytes);
  }
  return cut_tail(segment, offset);
}

Status SegmentedLog::cut_tail(Segment& segment, std::uint64_t offset) {
  auto writer = fs_.open_writable(segment.path);
  if (!writer.ok()) return writer.status();
  if (Status s = (*writer)->truncate(offset); !s.ok()) return s;
  if (Status s = extend_and_sync(**writer); !s.ok()) return s;
  return (*writer)->close();
}

Index SegmentedLog::physical_last() const {
  return segments_.empty() ? snapshot_index_ : segments_.back().last_index();
}

Result<InitialState> SegmentedLog::initial_state() const { return InitialState{}; }

Index SegmentedLog::first_index() const { return snapshot_index_ + 1; }

Index SegmentedLog::last_index() const { return std::max(physical_last(), snapshot_index_); }

Result<Term> SegmentedLog::term(Index i) const {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < snapshot_index_) {
    return Status(ErrorCode::kCompacted,
                  fmt::format("index {} is compacted (first index {})", i, first_index()));
  }
  if (i > last_index()) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("index {} is past the last index {}", i, last_index()));
  }
  auto it = std::upper_bound(term_runs_.begin(), term_runs_.end(), i,
                             [](Index v, const TermRun& run) { return v < run.first; });
  return std::prev(it)->term;
}

const SegmentedLog::Segment& SegmentedLog::segment_of(Index i) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), i,
                             [](Index v, const Segment& s) { return v < s.first_index; });
  return *std::prev(it);
}

Result<std::vector<pb::Entry>> SegmentedLog::entries(Index lo, Index hi,
                                                     std::uint64_t max_bytes) const {
  if (Status s = check_entries_range(lo, hi); !s.ok()) return s;
  std::vector<pb::Entry> out;
  std::uint64_t total = 0;
  Index i = lo;
  while (i < hi) {
    const Segment& segment = segment_of(i);
    const Index segment_hi = std::min(hi, segment.last_index() + 1);
    Index j = i;
    bool full = false;
    while (j < segment_hi) {
      const std::size_t k = j - segment.first_index;
      const std::uint64_t next =
          k + 1 < segment.offsets.size() ? segment.offsets[k + 1] : segment.end;
      total += next - segment.offsets[k] - sf::kRecordHeaderSize;
      if (total > max_bytes && (j > lo)) {
        full = true;
        break;
      }
      ++j;
    }
    if (j > i) {
      if (Status s = read_range(segment, i, j, &out); !s.ok()) return s;
    }
    if (full) break;
    i = j;
  }
  return out;
}

Status SegmentedLog::read_range(const Segment& segment, Index lo, Index hi,
                                std::vector<pb::Entry>* out) const {
  if (!segment.reader) {
    auto reader = fs_.open_readable(segment.path);
    if (!reader.ok()) return reader.status();
    segment.reader = std::move(*reader);
  }
  const std::size_t k_lo = lo - segment.first_index;
  const std::size_t k_hi = hi - segment.first_index;
  const std::uint64_t begin = segment.offsets[k_lo];
  const std::uint64_t end = k_hi < segment.offsets.size() ? segment.offsets[k_hi] : segment.end;
  std::string data;
  if (Status s = segment.reader->read(begin, static_cast<std::size_t>(end - begin), &data);
      !s.ok()) {
    return s;
  }
  if (data.size() != end - begin) {
    return corruption(fmt::format("{}: short read at offset {} ({} of {} bytes)", segment.path,
                                  begin, data.size(), end - begin));
  }
  for (std::size_t k = k_lo; k < k_hi; ++k) {
    const std::uint64_t at = segment.offsets[k];
    const char* p = data.data() + (at - begin);
    const std::uint32_t len = sf::get32(p);
    const std::uint64_t next =
        k + 1 < segment.offsets.size() ? segment.offsets[k + 1] : segment.end;
    const std::string_view payload(p + sf::kRecordHeaderSize, len);
    pb::Entry entry;
    if (at + sf::kRecordHeaderSize + len != next || sf::get32(p + 4) != sf::record_crc(payload) ||
        !entry.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
        entry.index() != segment.first_index + k) {
      return corruption(fmt::format("{}: record at offset {} is damaged (read of index {})",
                                    segment.path, at, segment.first_index + k));
    }
    out->push_back(std::move(entry));
  }
  return Status();
}

}  // namespace raft
