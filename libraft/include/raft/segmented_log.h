// SegmentedLog: the durable raft log, kept in segment files written front to back, in one
// directory.
//
// It is the on-disk LogReader the core consults, plus the writes a host performs on a
// Ready: append() (one write and one fdatasync per call: group commit, with suffix
// truncation on conflict), compact() (drop a prefix after a snapshot) and restore() (start
// over after a snapshot received from the leader). The entries part only: initial_state()
// returns an empty hard state and configuration, because those live in the stable store;
// the host combines the two (hard state and configuration from the stable store, entries
// from here) before it builds a RawNode.
//
// Ownership and threads: the host owns the SegmentedLog (open() hands it a unique_ptr) and
// must keep the FileSystem alive longer. Not thread-safe: one thread at a time, as the
// LogReader contract describes (the thread that drives the RawNode; a host that appends
// from another thread serializes the two itself). The directory is locked (LOCK, flock(2))
// for the SegmentedLog's lifetime, so a second open, in this process or another, fails.
// On the POSIX file system it starts a thread of its own now and then, which writes only the
// spare segment (see "The spare segment" below) and is joined by the destructor.
//
// ON-DISK FORMAT (version 1). All integers are little-endian. A directory holds:
//
//   LOCK                  empty; held with flock(2) while the log is open.
//   META                  optional; the compaction point and the generation (see below).
//   SPARE.tmp             optional; the spare segment: segment_size zero bytes, prepared
//                         ahead of the next rotation (see "The spare segment" below).
//   <first index>.log     segments, named by the index of their first entry, written as 20
//                         decimal digits so that names sort as indexes do
//                         ("00000000000000000001.log").
//
// A segment is a 32-byte header followed by records, followed — in the last segment only —
// by unused space:
//
//   header:  [0,8)   magic "RAFTSEG\n"
//            [8,12)  format version (1)
//            [12,16) generation (see restore below; 0 in a log never restored)
//            [16,24) first index (equal to the file name)
//            [24,28) masked CRC32C of bytes [0,24)
//            [28,32) reserved, 0 (a header where they are not is refused)
//   record:  [0,4)   payload length n (> 0)
//            [4,8)   masked CRC32C of the payload (crc32c.h: LevelDB's rotate-and-add mask,
//                    so a run of zero bytes is never a valid record)
//            [8,8+n) payload: one pb::Entry, serialized
//
// Records hold consecutive indexes, starting at the segment's first index; each segment
// begins where the previous one ends. A segment is created (header written, file given its
// full size of Options::segment_size bytes — space reserved with fallocate(2) where the
// file system supports it, size set with ftruncate(2), so the rest reads as zeros — file
// synced, directory synced; or taken from the spare, below) when the active one holds
// segment_size bytes of header and records; a segment may exceed segment_size by the last
// batch appended to it, because one append() always goes to one segment. Appends write (pwrite)
// over the zeros after the last record, so the file's size does not change and fdatasync has no
// size to flush. Where a batch of up to 128 KiB passes the part of the file already written, the
// zeros up to the next MiB boundary are written with it (a second write, about once per MiB), so
// that later small batches land on written blocks, not merely allocated ones (whose conversion
// fdatasync would otherwise have to journal each time). The LOGICAL END of the last segment
// is the end of its last valid record, not the file size: the zeros after it are unused
// space, never a record. When the next segment is created, the finished one is cut
// (ftruncate + sync) to its logical end, so every segment but the last is exactly its
// header and records. Whatever is cut from the last segment (suffix truncation on conflict,
// a torn tail at open, a failed write) is cut with ftruncate and the file is then extended
// again to segment_size and synced, before anything is appended: the cut bytes read as
// zeros, so a later open cannot take stale records past the logical end for entries.
//
// The spare segment. The zeros an append writes ahead of itself cost it a second write and
// a bigger sync about once per MiB; a segment made of blocks already written costs none. So
// right after each rotation, and after open() or in a new or restored log once the active
// segment is a quarter full (a log that sees a few appends, then none, costs no segment's
// worth of I/O), unless Options::spare is kOff or there is no preallocation, the next
// segment's file is prepared ahead of need: SPARE.tmp is created (emptied if present),
// segment_size zero bytes are written to it (really written, not allocated) and it is
// synced. In the background mode (the default on the POSIX file system) a thread of the
// log's own does this while appends go on; it touches nothing but SPARE.tmp, and hands the
// file over under a mutex. In the inline mode (the default on any other FileSystem, e.g.
// the fault-injecting one, whose counted calls and scheduled crashes must stay
// deterministic) the append() that needs a spare prepares it after its own batch is synced,
// so that a failed or interrupted preparation never touches what was acknowledged. At
// rotation, if the spare is ready, the new segment's header is written over its first
// 32 zero bytes, the file is synced, renamed to the segment's name and the directory
// synced: the new segment is complete (header then zeros, of its full size) before its name
// exists, and its appends land on written blocks with nothing to zero ahead. If the spare
// is not ready (still being written, or its preparation failed) the segment is created as
// above: appends never wait for it; and once the spare is ready, if half of that segment
// (or of the active segment found at open), but at least 1 MiB and at most 8 MiB, is still
// to be zeroed ahead, the next append rotates early to the spare (so a segment may end
// short of segment_size). A failed preparation is retried at the next rotation; its error
// is in spare_error(). The spare is not part of the log: open() deletes a SPARE.tmp it
// finds (a preparation a crash or a close interrupted, or a spare never used) before it
// looks at the segments. A crash during the rotation leaves either SPARE.tmp (deleted) or a
// complete empty segment. The spare holds one more segment_size of disk space; restore()
// and suffix truncation leave it be (it holds no entries and no generation until it is
// renamed), and the destructor cancels a preparation under way and waits for its thread.
//
// META records the compaction point and the generation: 40 bytes, [0,8) magic "RAFTMETA",
// [8,12) version (1), [12,16) generation (0 in a log never restored), [16,24) index, [24,32)
// term, [32,36) masked CRC32C of [0,32), [36,40) reserved, 0 (checked). first_index() is index + 1
// and term(index) is term. It is replaced atomically (META.tmp written and synced, renamed,
// directory synced) before any segment is removed, so segment files wholly at or below the
// compaction point are garbage that open() deletes. Entries at or below the compaction point
// may linger in the first segment kept; they are never returned.
//
// Restore and generations. restore(index, term) makes the log empty after `index` (the
// snapshot a follower installs): it writes META with the new point and the generation plus
// one (atomically, as above), and only then removes every segment. A segment belongs to the
// generation in its header and is part of the log only if that is META's generation:
// segments of an older generation are leftovers of a restore that a crash interrupted
// (META was durable before their removal started) and open() deletes them before it looks
// at anything else, so none of their entries — at or below the new point, or past it with
// terms of the old log — is ever returned; a segment of a newer generation than META's
// means META was lost and is kCorruption. So a crash at any step of restore() opens to
// either the old log (the new META did not reach the disk) or the restored, empty one.
//
// Recovery (open). The directory is synced first and the last segment once it is checked:
// what open() accepts may be in the page cache only (a process killed before its sync, or
// whose sync failed), and it is made durable before it is served or acted on. Every segment
// is read and checked. In the LAST segment, the logical end
// is found by reading records until one is not valid. If only zeros follow, that is the
// unused space. Otherwise the tail that does not hold a valid record — too short for a
// record, a length running past the end of the file, a CRC mismatch — is a write that a
// crash interrupted: it is cut (as above) and the log continues from the last complete
// record. Nothing synced is lost, because a sync covers everything before it. (The check
// for a following record looks at the bad record's natural end and then at every later
// offset before the trailing zeros for a record that decodes as an entry with a higher
// index.) If a valid record DOES follow the bad one, the bad region — from the bad record's
// offset to that valid record — decides:
//   - it holds a HOLE: an aligned 512-byte sector that is all zeros, or the part of the
//     sector holding the bad record's offset from that offset to the sector's end, when that
//     is all zeros and at least a record header (8 bytes) long. A hole is a sector the last
//     write never reached: a synced region has none (fdatasync persisted every page written
//     before it, and the space past the logical end reads as zeros), so the hole and the
//     valid records after it are an unsynced batch whose pages reached the disk out of order,
//     never acknowledged. The log is cut at the bad record, the records after it too;
//   - it holds none (garbage, a flipped bit, zeros that fill no sector as above; a sector
//     torn within itself, new data then zeros, is no hole by itself, though the next sector
//     may be one): corruption. open() fails with kCorruption naming the file and offset,
//     and nothing is skipped.
// A bad record in any other segment is kCorruption whatever it holds. What open() cut is in
// recovery() (file, offset, bytes and valid records dropped, and why), for the host to log.
// A last segment with no complete header (its creation was interrupted) is removed. Gaps
// between segments, entries out of sequence, a segment named for index 0 or past 2^62 (the
// highest index the log takes, so that no index arithmetic can wrap; META's index too, and
// restore() past it is kInvalidArgument) and a name that disagrees with the header are
// kCorruption — except after a segment wholly at or below
// the compaction point: such segments are compaction leftovers, removed at open, and may
// have gaps between them (compact() syncs its removals together, and they can reach the
// disk in any order).
// Limits of the rule: an entry whose payload itself holds an aligned sector of zeros and that
// is damaged elsewhere, in the last segment and followed by valid records, is taken for a
// torn write and cut with what follows; and an unsynced write whose only missing bytes are a
// sector torn within itself, or the last 1 to 7 bytes of a sector, before later sectors that
// reached the disk, has no hole to show: open() reports kCorruption rather than guess.
//
// Memory: the in-memory index holds 8 bytes per entry (its file offset) plus one
// (index, term) pair per run of equal terms; entries are read from the files (the page
// cache serves recent ones).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/file_system.h"
#include "raft/log_storage.h"

namespace raft {

class SegmentPreparer;

class SegmentedLog final : public LogReader {
 public:
  struct Options {
    // A segment is closed, and the next one created, once it holds this many bytes.
    std::uint64_t segment_size = 64ull << 20;
    // Give the active segment its full size up front (see above), so that appends overwrite
    // space in place and fdatasync after an append need not update the file's metadata.
    // Without it, each append grows the file.
    bool preallocate = true;
    // Where a new segment's file comes from (see "The spare segment" above).
    enum class Spare {
      kAuto,        // kBackground on posix_file_system(), kInline on any other FileSystem
      kOff,         // none: each segment is created at rotation and zeroed as appends reach it
      kInline,      // prepared by append() itself, once its batch is synced (deterministic)
      kBackground,  // prepared by a thread of the log's own, off the append path
    };
    // Ignored (no spare) without preallocate.
    Spare spare = Spare::kAuto;
  };

  // Opens (creating if absent) the log in `dir`, locks the directory and recovers as
  // described above. Fails with kIoError if the directory is locked, kCorruption if the log
  // is damaged in a way a crash cannot explain.
  static Result<std::unique_ptr<SegmentedLog>> open(FileSystem& fs, const std::string& dir,
                                                    Options options);
  static Result<std::unique_ptr<SegmentedLog>> open(FileSystem& fs, const std::string& dir) {
    return open(fs, dir, Options());
  }

  ~SegmentedLog() override;
  SegmentedLog(const SegmentedLog&) = delete;
  SegmentedLog& operator=(const SegmentedLog&) = delete;

  // Empty hard state and configuration: they are kept by the stable store (see above).
  Result<InitialState> initial_state() const override;
  Result<std::vector<pb::Entry>> entries(Index lo, Index hi,
                                         std::uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;

  // Appends contiguous entries and makes them durable: one write and one fdatasync. They
  // may start at any index in [first_index(), last_index() + 1]; a suffix they overlap is
  // removed first (durably). Entries at or below the compaction point are ignored.
  // On a write error the file is cut back and the log stays as it was; after a failed sync
  // (the kernel may have dropped the unsynced pages) every later write fails until the log
  // is reopened, which recovers what reached the disk.
  Status append(const std::vector<pb::Entry>& entries);
  // Drops entries up to and including `index` (<= last_index()): first_index() becomes
  // index + 1 and term(index) stays answerable. Whole segments below the new first index are
  // deleted. kCompacted if index is already compacted.
  Status compact(Index index);
  // Installs a snapshot's position, as a follower does when it receives one from the leader:
  // every entry is dropped, whatever its index or term, and the log starts over after
  // `index` (any index, also past last_index() or below first_index()): first_index() is
  // index + 1, last_index() is index, term(index) is term. Crash-safe (see "Restore and
  // generations" above). On an error: before META is replaced, the log is unchanged; if
  // META was replaced but the directory sync that makes it durable failed, the log is
  // unchanged in memory and every later write fails until it is reopened (which opens to
  // the old log or the restored one); if removing an old segment failed, the log is
  // restored and the file is garbage that the next open() removes.
  Status restore(Index index, Term term);

  // What open() cut from the end of the last segment (see "Recovery" above), for the host to
  // log; `cut` is false when nothing was.
  struct Recovery {
    bool cut = false;
    std::string path;           // the segment cut
    std::uint64_t offset = 0;   // where: the new logical end
    std::uint64_t bytes = 0;    // bytes dropped, up to the last non-zero byte
    std::uint64_t records = 0;  // valid records dropped with the bad one (after a hole)
    bool hole = false;          // an unsynced write persisted out of order (a zero sector)
    std::uint64_t hole_offset = 0;
    std::string description;  // one line saying all of the above
  };
  const Recovery& recovery() const { return recovery_; }

  // Introspection for tests, benchmarks and stats.
  std::size_t segment_count() const { return segments_.size(); }
  // Segments started from the spare (renamed into place) since open().
  std::uint64_t spares_used() const { return spares_used_; }
  // The error of the last spare preparation that failed, or ok.
  Status spare_error() const;
  const std::string& dir() const { return dir_; }

 private:
  // One segment file. Its records hold entries first_index .. first_index + offsets.size()-1.
  struct Segment {
    Index first_index = 0;
    std::string path;
    std::vector<std::uint64_t> offsets;            // file offset of each record
    std::uint64_t end = 0;                         // file offset just past the last record
    mutable std::unique_ptr<ReadableFile> reader;  // opened on first read
    Index last_index() const { return first_index + offsets.size() - 1; }
  };
  // The entries from `first` on share `term` (until the next run).
  struct TermRun {
    Index first;
    Term term;
  };

  SegmentedLog(FileSystem& fs, std::string dir, Options options);

  Status recover();
  Status load_meta();
  // Removes the segments of an older generation than META's from `firsts` and from disk.
  Status remove_stale_segments(std::vector<Index>* firsts, bool* dir_changed);
  Status scan_segment(Segment& segment, bool last, bool* remove);
  Status cut_tail(Segment& segment, std::uint64_t offset);
  // Gives the file of the active segment its preallocated size when it is shorter (the
  // space past its end reading as zeros), then syncs it.
  Status extend_and_sync(WritableFile& file);
  // Opens writer_ on the last segment, extended to its preallocated size.
  Status open_writer();
  // Cuts the last segment to its logical end (before a new segment follows it) and closes
  // writer_.
  Status close_last_segment();
  // `renamed` tells, on failure, whether META itself may have been replaced.
  Status write_meta(Index index, Term term, std::uint32_t generation, bool* renamed);
  Status truncate_suffix(Index start);
  Status start_segment(Index first);
  // Whether the active segment should give way to the spare before it is full (see "The
  // spare segment" above).
  bool spare_beats_zeroing() const;
  // The two ways start_segment() makes the file of a new segment at `path`; *named tells,
  // on failure, whether a file at `path` may exist.
  Status create_segment(Index first, const std::string& path, std::unique_ptr<WritableFile>* file,
                        bool* named);
  Status adopt_spare(Index first, const std::string& path, std::unique_ptr<WritableFile>* file,
                     bool* named);
  Status remove_segment_file(const std::string& path);
  void note_terms(const std::vector<pb::Entry>& entries, std::size_t from);
  // The segment holding entry i (which must be present on disk).
  const Segment& segment_of(Index i) const;
  Status read_range(const Segment& segment, Index lo, Index hi, std::vector<pb::Entry>* out) const;
  Index physical_last() const;
  std::string segment_path(Index first) const;

  FileSystem& fs_;
  const std::string dir_;
  const Options options_;
  std::unique_ptr<FileLock> lock_;
  std::deque<Segment> segments_;
  std::vector<TermRun> term_runs_;
  std::unique_ptr<WritableFile> writer_;  // the last segment, opened on first append
  // Bytes of the last segment known to be written (records or zeros), not merely allocated:
  // appends zero ahead of themselves from here (see above).
  std::uint64_t zeroed_ = 0;
  Index snapshot_index_ = 0;  // the compaction point (META)
  Term snapshot_term_ = 0;
  std::uint32_t generation_ = 0;  // META's generation: bumped by restore()
  Status failed_;  // set once a sync failed: every write fails until the log is reopened
  Recovery recovery_;
  // Prepares the spare; null when there is none (Spare::kOff, no preallocation).
  std::unique_ptr<SegmentPreparer> preparer_;
  // Whether an append() starts a preparation once the active segment's end reaches
  // spare_from_: set by open() and by each rotation (so a preparation that failed is retried
  // once per segment, not once per append).
  bool want_spare_ = false;
  std::uint64_t spare_from_ = 0;
  std::uint64_t spares_used_ = 0;
};

}  // namespace raft
