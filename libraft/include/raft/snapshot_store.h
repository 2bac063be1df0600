// SnapshotStore: where a node keeps the snapshots of its state machine — create one by
// streaming its bytes, list the ones kept, and stream one back (to restore it or to send it
// to a follower in chunks).
//
// The host (the runtime) owns the store; writers and readers it hands out borrow it and must
// be destroyed before it. The store's own calls are thread-safe; each writer and reader is
// used by one thread at a time. Implementations: FileSnapshotStore
// (storage/file_snapshot_store.h, one directory per snapshot).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// What is known of a snapshot without reading its data.
struct SnapshotMeta {
  std::string id;   // the store's name for it (FileSnapshotStore: "snap-<term>-<index>")
  Index index = 0;  // the last log entry it covers
  Term term = 0;    // that entry's term
  pb::Configuration configuration;  // the configuration as of `index`
  std::uint64_t size = 0;           // bytes of data
};

// Streams the data of a new snapshot. Nothing is visible to list() or open() until commit()
// returns ok; destroying a writer that was not committed aborts it.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  // Appends a chunk of the snapshot's data.
  virtual Status write(std::string_view chunk) = 0;
  // Makes the snapshot durable and visible, then drops old snapshots beyond the store's
  // retention. After an error, as after a crash, the snapshot may or may not have become
  // visible (list() tells); abort() or dropping the writer removes what is left of it.
  virtual Result<SnapshotMeta> commit() = 0;
  // Discards everything written; leaves nothing behind.
  virtual Status abort() = 0;
};

// Streams the data of a committed snapshot.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  virtual const SnapshotMeta& meta() const = 0;
  // Reads up to `max_bytes` at `offset` into *out (fewer only at the end; empty past it).
  // Reading the data to its end (sequentially or not) verifies its checksum: the read that
  // reaches the end returns kCorruption, naming the file, if it does not match.
  virtual Status read(std::uint64_t offset, std::size_t max_bytes, std::string* out) = 0;
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Starts a new snapshot covering the log up to `index` (of term `term`).
  virtual Result<std::unique_ptr<SnapshotWriter>> create(
      Index index, Term term, const pb::Configuration& configuration) = 0;
  // The committed snapshots, newest (highest index) first.
  virtual Result<std::vector<SnapshotMeta>> list() = 0;
  // Opens a committed snapshot by id; kNotFound if there is none by that id.
  virtual Result<std::unique_ptr<SnapshotReader>> open(const std::string& id) = 0;
};

}  // namespace raft
