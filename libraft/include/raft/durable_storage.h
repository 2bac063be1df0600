// DurableStorage: everything one node keeps on disk, in one data directory, behind the
// LogReader the core reads and the one write a host makes per Ready.
//
//   <dir>/log/        the SegmentedLog (entries; segmented_log.h has the format)
//   <dir>/stable/     the FileStableStore (term, vote, commit hint and small facts)
//   <dir>/snapshots/  the FileSnapshotStore (one directory per snapshot, newest N kept)
//
// persist(rd) is step 2 of the Ready contract (ready.h) in the order safety needs: received
// snapshot chunks are streamed into a snapshot being written; a completed received snapshot
// is committed (synced, renamed into place) before the log is reset to it; then the entries
// are appended with one write and one fdatasync; then, only if the term or the vote changed,
// the stable record is replaced (write temp, fsync, rename, fsync dir), so a vote is durable
// before any message that promises it leaves, and entries are durable before a commit index
// that covers them. The commit index is saved with those records (never on its own): after a
// restart it is at least the newest snapshot's index, and the leader tells the rest.
//
// Recovery (open): a crash after a received snapshot was committed but before the log was
// reset to it leaves a snapshot newer than the log's compaction point whose last entry the
// log does not hold: open() finishes the install (resets the log to it). The configuration in
// initial_state() is the newest snapshot's; configuration entries in the log override it.
//
// Ownership and threads: the host owns it (open() hands out a unique_ptr) and keeps the
// FileSystem alive longer. Not thread-safe: one thread at a time (the thread that drives
// the RawNode, or a storage thread the host serializes with it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/file_system.h"
#include "raft/log_storage.h"
#include "raft/ready.h"
#include "raft/segmented_log.h"
#include "raft/snapshot_store.h"
#include "raft/stable_store.h"

namespace raft {

class DurableStorage final : public LogReader {
 public:
  // Snapshots read_snapshot() keeps open at most, one per transfer (see sending_ below).
  static constexpr std::size_t kMaxSendingReaders = 4;

  struct Options {
    SegmentedLog::Options log;
    std::size_t snapshots_retained = 2;
  };

  // Opens (creating if absent) the storage in `dir`; locks its directories (a second open
  // fails with kIoError) and recovers as described above.
  static Result<std::unique_ptr<DurableStorage>> open(FileSystem& fs, const std::string& dir,
                                                      Options options);
  static Result<std::unique_ptr<DurableStorage>> open(FileSystem& fs, const std::string& dir) {
    return open(fs, dir, Options());
  }
  ~DurableStorage() override;
  DurableStorage(const DurableStorage&) = delete;
  DurableStorage& operator=(const DurableStorage&) = delete;

  // --- LogReader
  Result<InitialState> initial_state() const override;
  Result<std::vector<pb::Entry>> entries(Index lo, Index hi,
                                         std::uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<pb::SnapshotMetadata> snapshot_metadata() const override;
  Result<std::string> read_snapshot(const pb::SnapshotMetadata& metadata, std::uint64_t offset,
                                    std::uint64_t max_bytes) const override;

  // Whether the node has any durable state (a term, an entry or a snapshot).
  bool has_state() const;
  // Bootstraps a founding server (configuration.h): entry 1 and term 1. kAlreadyExists if
  // the node has state.
  Status bootstrap(const pb::Configuration& configuration);

  // Step 2 of the Ready contract (see above). On error nothing of `rd` may be acted upon:
  // the host must stop the node (it cannot know what reached the disk until it reopens).
  Status persist(const Ready& rd);

  // Snapshots the host's state machine takes: stream the data into the writer, commit() it,
  // then compact(). The configuration is the one in force at `index` (the last
  // ENTRY_CONF_CHANGE applied up to it).
  Result<std::unique_ptr<SnapshotWriter>> begin_snapshot(Index index, Term term,
                                                         const pb::Configuration& configuration);
  // Drops log entries up to index - trailing (never past the newest snapshot's index).
  Status compact(Index index, Index trailing);
  // The newest snapshot, to restore the state machine from (at start, or after persist()
  // installed one); kNotFound if there is none.
  Result<std::unique_ptr<SnapshotReader>> open_newest_snapshot();

  // Small durable facts (e.g. "cluster_id"); set_fact() saves at once.
  std::optional<std::string> fact(const std::string& key) const;
  Status set_fact(const std::string& key, const std::string& value);

  const std::string& dir() const { return dir_; }
  SegmentedLog& log() { return *log_; }

 private:
  DurableStorage(std::string dir, std::unique_ptr<SegmentedLog> log,
                 std::unique_ptr<StableStore> stable, std::unique_ptr<SnapshotStore> snapshots);
  Status recover();
  Status save_stable();
  Result<std::optional<SnapshotMeta>> newest_snapshot() const;

  const std::string dir_;
  std::unique_ptr<SegmentedLog> log_;
  std::unique_ptr<StableStore> stable_;
  std::unique_ptr<SnapshotStore> snapshots_;
  StableState stable_state_;  // as last saved
  pb::HardState hard_state_;  // the newest handed to persist() (commit may be ahead of disk)

  // A snapshot being received from the leader (Ready::snapshot_chunks).
  std::unique_ptr<SnapshotWriter> incoming_;
  pb::SnapshotMetadata incoming_meta_;
  std::uint64_t incoming_size_ = 0;

  // Readers of the snapshots followers are being sent, least recently read first (chunks of
  // one are read in order). One per snapshot, not one in all: an open reader is what keeps a
  // snapshot readable after retention removed it, and two followers sent different
  // snapshots must not close each other's (each would then restart on the newest, again and
  // again, and neither finish). At most kMaxSendingReaders stay open; a reader keeps its
  // snapshot's disk space until it is dropped.
  mutable std::vector<std::unique_ptr<SnapshotReader>> sending_;
};

}  // namespace raft
