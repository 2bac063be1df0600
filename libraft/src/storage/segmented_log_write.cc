// SegmentedLog: append (with suffix truncation and segment rotation) and compaction.
// Opening, recovery and reads are in segmented_log.cc.
#include <fmt/format.h>

#include "raft/segmented_log.h"
#include "storage/segment_format.h"
#include "storage/segment_preparer.h"

namespace raft {

namespace sf = segment_format;

namespace {

// Appends zero the last segment ahead of themselves up to a multiple of this (see the
// header): the blocks they then write are already written, not merely allocated.
constexpr std::uint64_t kZeroAhead = 1u << 20;

// A segment created without the spare (none was ready) is left for one made from the spare
// (see the header) as soon as that is ready, if at least half of it, capped at this, is
// still to be zeroed ahead (and at least kZeroAhead): that would cost appends more than the
// rotation (a cut and two syncs).
constexpr std::uint64_t kEarlyRotation = 8u << 20;

// The next multiple of kZeroAhead above `offset`.
std::uint64_t round_up(std::uint64_t offset) { return (offset / kZeroAhead + 1) * kZeroAhead; }

// `n` (<= kZeroAhead) zero bytes.
std::string_view zeros(std::uint64_t n) {
  static const std::string* const block = new std::string(kZeroAhead, '\0');  // never freed
  return std::string_view(*block).substr(0, static_cast<std::size_t>(n));
}

}  // namespace

Status SegmentedLog::append(const std::vector<pb::Entry>& entries) {
  if (!failed_.ok()) return failed_;
  auto checked = check_append(entries);
  if (!checked.ok()) return checked.status();
  const std::size_t skip = *checked;
  if (skip == entries.size()) return Status();
  const Index start = entries[skip].index();
  // Encode first: a bad entry must not leave a half-done truncation behind.
  std::string batch;
  std::size_t bytes = 0;
  for (std::size_t k = skip; k < entries.size(); ++k) {
    bytes += sf::kRecordHeaderSize + entries[k].ByteSizeLong();
  }
  batch.reserve(bytes);
  std::vector<std::uint64_t> relative;  // each record's offset within the batch
  relative.reserve(entries.size() - skip);
  for (std::size_t k = skip; k < entries.size(); ++k) {
    if (entries[k].ByteSizeLong() > UINT32_MAX) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("entry {} is too large ({} bytes)", entries[k].index(),
                                entries[k].ByteSizeLong()));
    }
    relative.push_back(batch.size());
    sf::append_record(entries[k], &batch);
  }

  if (start <= physical_last()) {
    if (Status s = truncate_suffix(start); !s.ok()) return s;
  }
  if (segments_.empty() ||
      (segments_.back().end >= options_.segment_size && !segments_.back().offsets.empty()) ||
      spare_beats_zeroing()) {
    if (Status s = start_segment(start); !s.ok()) return s;
  }
  if (Status s = open_writer(); !s.ok()) return s;
  Segment& segment = segments_.back();
  const std::uint64_t stop = segment.end + batch.size();
  // A small batch that passes the zeroed part is followed by zeros up to the next kZeroAhead
  // boundary (within the file), written with it. (A big one would pay more for writing the
  // zeros than it saves: it converts allocated blocks at most once per kZeroAhead / 8 bytes.
  // Measured on ext4: 64 KiB batches gain, 256 KiB ones lose.)
  std::uint64_t ahead = stop;
  if (stop > zeroed_ && batch.size() <= kZeroAhead / 8) {
    ahead = std::max(stop, std::min(writer_->size(), round_up(stop)));
  }
  Status written = writer_->write_at(segment.end, batch);
  if (written.ok() && ahead > stop) written = writer_->write_at(stop, zeros(ahead - stop));
  if (!written.ok()) {
    // Cut whatever part of the batch was written, so no stale record follows the next one.
    Status t = writer_->truncate(segment.end);
    if (t.ok()) t = extend_and_sync(*writer_);
    if (!t.ok()) {
      failed_ = Status(ErrorCode::kIoError,
                       fmt::format("segmented log {}: append failed ({}) and the cleanup "
                                   "failed too ({}); reopen the log",
                                   dir_, written.to_string(), t.to_string()));
    }
    zeroed_ = segment.end;
    return written;
  }
  zeroed_ = std::max(zeroed_, ahead);
  if (Status s = writer_->sync(); !s.ok()) {
    failed_ = Status(ErrorCode::kIoError,
                     fmt::format("segmented log {}: sync failed ({}); the log refuses writes "
                                 "until it is reopened",
                                 dir_, s.to_string()));
    return s;
  }
  for (std::uint64_t r : relative) segment.offsets.push_back(segment.end + r);
  segment.end = stop;
  note_terms(entries, skip);
  // The spare for the next rotation (see the header): the batch is durable already, so a
  // preparation run inline that fails or crashes cannot touch it.
  if (want_spare_ && segment.end >= spare_from_) {
    want_spare_ = false;
    preparer_->start();
  }
  return Status();
}

void SegmentedLog::note_terms(const std::vector<pb::Entry>& entries, std::size_t from) {
  for (std::size_t k = from; k < entries.size(); ++k) {
    if (term_runs_.empty() || term_runs_.back().term != entries[k].term()) {
      term_runs_.push_back(TermRun{entries[k].index(), entries[k].term()});
    }
  }
}

Status SegmentedLog::truncate_suffix(Index start) {
  // Whole segments after `start` go first, newest first, the directory synced after each
  // (unsynced removals can reach the disk in any order), so that the segment holding `start`
  // is cut only after they are gone: a crash at any point leaves a contiguous log. Runs past
  // the end of the log never answer term(); they are dropped as the log shrinks.
  auto drop_runs = [this] {
    while (!term_runs_.empty() && term_runs_.back().first > physical_last()) term_runs_.pop_back();
  };
  while (segments_.back().first_index > start) {
    if (segments_.size() == 1) break;  // cannot happen: start > compaction point
    writer_.reset();
    if (Status s = fs_.remove(segments_.back().path); !s.ok()) {
      drop_runs();
      failed_ = s;
      return s;
    }
    segments_.pop_back();
    if (Status s = fs_.sync_dir(dir_); !s.ok()) {
      drop_runs();
      failed_ = s;
      return s;
    }
  }
  drop_runs();
  Segment& segment = segments_.back();
  const std::uint64_t cut = segment.offsets[start - segment.first_index];
  if (!writer_) {
    auto writer = fs_.open_writable(segment.path);
    if (!writer.ok()) {
      failed_ = writer.status();
      return failed_;
    }
    writer_ = std::move(*writer);
  }
  // The cut records must not come back at the next open (a shorter append would leave
  // some of them after the new logical end): ftruncate frees them, and the file is then
  // extended again, reading as zeros.
  if (Status s = writer_->truncate(cut); !s.ok()) {
    failed_ = s;
    return s;
  }
  // The file is cut: the index follows even if what follows fails.
  segment.offsets.resize(start - segment.first_index);
  segment.end = cut;
  zeroed_ = cut;
  drop_runs();
  if (Status s = extend_and_sync(*writer_); !s.ok()) {
    failed_ = s;
    return s;
  }
  return Status();
}

Status SegmentedLog::extend_and_sync(WritableFile& file) {
  const std::uint64_t size = file.size();
  if (options_.preallocate && size < options_.segment_size) {
    // Best effort: without it the space past the old size is a hole, which reads as zeros
    // too (and appends allocate it as they zero ahead).
    (void)file.preallocate(size, options_.segment_size - size);
    if (Status s = file.truncate(options_.segment_size); !s.ok()) return s;
  }
  return file.sync();
}

Status SegmentedLog::open_writer() {
  if (writer_) return Status();
  const Segment& segment = segments_.back();
  auto writer = fs_.open_writable(segment.path);
  if (!writer.ok()) return writer.status();
  if ((*writer)->size() < segment.end) {
    failed_ = Status(ErrorCode::kIoError,
                     fmt::format("{}: size {} is below the end of the log {}; reopen", segment.path,
                                 (*writer)->size(), segment.end));
    return failed_;
  }
  // A segment cut to its records (it was not the last one, or came from a log written
  // without preallocation) gets its unused space back.
  if (options_.preallocate && (*writer)->size() < options_.segment_size) {
    if (Status s = extend_and_sync(**writer); !s.ok()) {
      failed_ = s;  // a failed sync is not retried (the kernel may have dropped the pages)
      return s;
    }
  }
  writer_ = std::move(*writer);
  zeroed_ = segment.end;
  return Status();
}

Status SegmentedLog::close_last_segment() {
  const Segment& segment = segments_.back();
  if (!writer_) {
    auto writer = fs_.open_writable(segment.path);
    if (!writer.ok()) return writer.status();
    writer_ = std::move(*writer);
  }
  if (writer_->size() != segment.end) {
    if (Status s = writer_->truncate(segment.end); !s.ok()) return s;
    if (Status s = writer_->sync(); !s.ok()) {
      failed_ = s;
      return s;
    }
  }
  (void)writer_->close();  // everything in it was synced
  writer_.reset();
  return Status();
}

bool SegmentedLog::spare_beats_zeroing() const {
  if (!preparer_ || segments_.empty() || segments_.back().offsets.empty()) return false;
  // Bytes of the active segment still to be zeroed ahead (after open, before the writer is
  // opened: its unused space, which may or may not have been zeroed before).
  const std::uint64_t end = segments_.back().end;
  const std::uint64_t size = writer_ ? writer_->size() : options_.segment_size;
  const std::uint64_t unzeroed = size - std::min(size, writer_ ? std::max(zeroed_, end) : end);
  const std::uint64_t worth = std::max(kZeroAhead, std::min(kEarlyRotation, size / 2));
  return unzeroed >= worth && preparer_->ready();
}

Status SegmentedLog::start_segment(Index first) {
  // The finished segment is cut to its records first: every segment but the last is exactly
  // its header and records.
  if (!segments_.empty()) {
    if (Status s = close_last_segment(); !s.ok()) return s;
  }
  writer_.reset();
  const std::string path = segment_path(first);
  std::unique_ptr<WritableFile> file;
  bool named = false;
  const bool spare_ready = preparer_ && (file = preparer_->take()) != nullptr;
  // Whatever happens, the next append prepares a spare if none is ready or under way: at
  // once after a rotation, once the segment is a quarter full when it is the first one.
  want_spare_ = preparer_ != nullptr;
  spare_from_ = segments_.empty() ? options_.segment_size / 4 : 0;
  Status s = spare_ready ? adopt_spare(first, path, &file, &named)
                         : create_segment(first, path, &file, &named);
  if (s.ok()) s = fs_.sync_dir(dir_);
  if (!s.ok()) {
    file.reset();
    // An empty segment is harmless to recovery, but a stray one here would confuse the next
    // start_segment(); remove it.
    if (!named) return s;
    // The removal is synced too: a name that survived a crash would put an empty segment
    // after the one the next append() goes on with, which then could not open as a middle
    // segment (its unused zeros).
    Status r = remove_segment_file(path);
    if (r.ok()) r = fs_.sync_dir(dir_);
    if (!r.ok()) {
      failed_ = Status(ErrorCode::kIoError,
                       fmt::format("segmented log {}: creating {} failed ({}) and removing it "
                                   "failed too ({}); reopen the log",
                                   dir_, path, s.to_string(), r.to_string()));
    }
    return s;
  }
  if (spare_ready) ++spares_used_;
  Segment segment;
  segment.first_index = first;
  segment.path = path;
  segment.end = sf::kHeaderSize;
  segments_.push_back(std::move(segment));
  writer_ = std::move(file);
  // A spare is zeros written and synced throughout: nothing to zero ahead.
  zeroed_ = spare_ready ? writer_->size() : sf::kHeaderSize;
  return Status();
}

Status SegmentedLog::create_segment(Index first, const std::string& path,
                                    std::unique_ptr<WritableFile>* file, bool* named) {
  auto writer = fs_.create_writable(path);
  if (!writer.ok()) return writer.status();
  *named = true;
  *file = std::move(*writer);
  if (Status s = (*file)->append(sf::encode_header(first, generation_)); !s.ok()) return s;
  return extend_and_sync(**file);
}

Status SegmentedLog::adopt_spare(Index first, const std::string& path,
                                 std::unique_ptr<WritableFile>* file, bool* named) {
  // The header is durable before the file takes the segment's name: a crash leaves either
  // the spare (which open() deletes) or a complete, empty segment. On failure the spare is
  // spent: the next preparation starts it over.
  if (Status s = (*file)->write_at(0, sf::encode_header(first, generation_)); !s.ok()) return s;
  if (Status s = (*file)->sync(); !s.ok()) return s;
  (void)(*file)->close();  // everything in it was synced
  file->reset();
  if (Status s = fs_.rename(preparer_->path(), path); !s.ok()) return s;
  *named = true;
  // Reopened under its new name, which its errors then give.
  auto writer = fs_.open_writable(path);
  if (!writer.ok()) return writer.status();
  *file = std::move(*writer);
  return Status();
}

Status SegmentedLog::remove_segment_file(const std::string& path) {
  Status s = fs_.remove(path);
  if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
  return Status();
}

Status SegmentedLog::write_meta(Index index, Term term, std::uint32_t generation, bool* renamed) {
  *renamed = false;
  const std::string temp = dir_ + "/" + std::string(sf::kMetaTempName);
  auto writer = fs_.create_writable(temp);
  if (!writer.ok()) return writer.status();
  Status s = (*writer)->append(sf::encode_meta(index, term, generation));
  if (s.ok()) s = (*writer)->sync();
  if (s.ok()) s = (*writer)->close();
  if (s.ok()) s = fs_.rename(temp, dir_ + "/" + std::string(sf::kMetaName));
  if (!s.ok()) return s;
  *renamed = true;
  return fs_.sync_dir(dir_);
}

Status SegmentedLog::compact(Index index) {
  if (!failed_.ok()) return failed_;
  if (index <= snapshot_index_) {
    return Status(ErrorCode::kCompacted, fmt::format("index {} is already compacted", index));
  }
  if (index > last_index()) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("compact {} is past the last index {}", index, last_index()));
  }
  auto t = term(index);
  if (!t.ok()) return t.status();
  // The compaction point is durable before any segment goes.
  bool renamed = false;
  if (Status s = write_meta(index, *t, generation_, &renamed); !s.ok()) return s;
  snapshot_index_ = index;
  snapshot_term_ = *t;
  // Whole segments at or below it go, oldest first (the last segment always stays, it is
  // where the next append goes). A failure here leaves garbage that open() removes.
  bool removed = false;
  while (segments_.size() > 1 && segments_.front().last_index() <= index) {
    if (Status s = fs_.remove(segments_.front().path); !s.ok()) return s;
    segments_.pop_front();
    removed = true;
  }
  if (!segments_.empty()) {
    const Index first = segments_.front().first_index;
    std::size_t drop = 0;
    while (drop + 1 < term_runs_.size() && term_runs_[drop + 1].first <= first) ++drop;
    term_runs_.erase(term_runs_.begin(), term_runs_.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  if (removed) return fs_.sync_dir(dir_);
  return Status();
}

Status SegmentedLog::restore(Index index, Term term) {
  if (!failed_.ok()) return failed_;
  if (index > sf::kMaxIndex) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("segmented log {}: cannot restore to index {}, past the highest "
                              "index {}",
                              dir_, index, sf::kMaxIndex));
  }
  if (generation_ == UINT32_MAX) {
    return Status(ErrorCode::kIoError,
                  fmt::format("segmented log {}: out of generations, cannot restore", dir_));
  }
  // The switch: once META of the next generation is in place, every segment on disk belongs
  // to an older generation, and open() deletes it unread.
  bool renamed = false;
  if (Status s = write_meta(index, term, generation_ + 1, &renamed); !s.ok()) {
    if (!renamed) return s;  // the old META stands: nothing changed
    // META is replaced but may not be durable: the next open may find either one. Keep
    // every segment (the old log must survive if the old META does) and write nothing more.
    failed_ = Status(ErrorCode::kIoError,
                     fmt::format("segmented log {}: restore could not make META durable ({}); "
                                 "the log refuses writes until it is reopened",
                                 dir_, s.to_string()));
    return failed_;
  }
  ++generation_;
  snapshot_index_ = index;
  snapshot_term_ = term;
  term_runs_.clear();
  if (writer_) {
    (void)writer_->close();
    writer_.reset();
  }
  zeroed_ = 0;
  // The old segments are garbage now; newest first, like a suffix truncation.
  Status result;
  bool removed = false;
  while (!segments_.empty()) {
    if (Status s = remove_segment_file(segments_.back().path); !s.ok()) {
      if (result.ok()) result = s;  // left for the next open() to remove
    } else {
      removed = true;
    }
    segments_.pop_back();
  }
  if (removed && result.ok()) result = fs_.sync_dir(dir_);
  return result;
}

}  // namespace raft
