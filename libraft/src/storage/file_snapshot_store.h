// FileSnapshotStore: the SnapshotStore kept in a directory, one subdirectory per snapshot.
//
// Layout of the store's directory:
//   LOCK                 held (FileSystem::lock) while the store is open: a second open of the
//                        same directory fails with kIoError saying it is in use
//   snap-<term>-<index>  a committed snapshot; term and index in 20 zero-padded decimal digits
//                        so that names sort like the numbers
//   tmp-<term>-<index>-<n>  a snapshot being written; removed (with anything in it) at open
//   tmp-removed-snap-...    a snapshot being removed (renamed first, so that a crash never
//                        leaves a snap- directory without its meta); removed at open
// Each snapshot directory holds two files:
//   data   the snapshot's bytes, exactly as written
//   meta   what the snapshot is, in a framed record (integers little-endian):
//            offset 0    8 bytes  magic "RAFTSNAP"
//            offset 8    u32      format version, 1
//            offset 12   u32      payload length N
//            offset 16   N bytes  payload
//            offset 16+N u32      CRC-32 (IEEE, as zlib) of bytes [0, 16+N)
//          and nothing after it. The payload of version 1:
//            u64 index | u64 term | u64 data size | u32 CRC-32 of the data |
//            u32 length + bytes of the pb::Configuration (protobuf SerializeToString)
//
// commit() syncs and closes data, writes and syncs meta, syncs the temporary directory,
// renames it to its final name and syncs the store's directory: a crash at any point leaves
// either no trace of the new snapshot (its temporary directory is removed at the next open)
// or all of it. Then snapshots beyond the newest `retain` are removed. A snapshot committed
// twice (same term and index) keeps the first copy (and syncs the directory again: the first
// commit's sync may have failed). open() syncs the directory before anything is listed, so a
// snapshot renamed into place but not yet durable is made durable before it is acted on. A meta
// that fails its checks is kCorruption from list() and open(); a data file of the wrong size is
// kCorruption from open(), a wrong checksum from the read that reaches the end of the data.
//
// Owns its lock; borrows the FileSystem, which must outlive it; writers and readers borrow the
// store. The store's calls are thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "raft/file_system.h"
#include "raft/snapshot_store.h"

namespace raft {

struct FileSnapshotStoreOptions {
  // How many committed snapshots to keep (at least 1); older ones are removed.
  std::size_t retain = 2;
};

class FileSnapshotStore final : public SnapshotStore {
 public:
  // Opens the store in `dir` (created if absent), removes leftover temporary snapshots and
  // applies the retention.
  static Result<std::unique_ptr<FileSnapshotStore>> open(FileSystem& fs, const std::string& dir,
                                                         FileSnapshotStoreOptions options = {});
  ~FileSnapshotStore() override;

  Result<std::unique_ptr<SnapshotWriter>> create(Index index, Term term,
                                                 const pb::Configuration& configuration) override;
  Result<std::vector<SnapshotMeta>> list() override;
  Result<std::unique_ptr<SnapshotReader>> open(const std::string& id) override;

  const std::string& dir() const { return dir_; }
  // The id of the snapshot of `term` and `index`: "snap-<term>-<index>", zero-padded.
  static std::string snapshot_id(Term term, Index index);

 private:
  class Writer;
  class Reader;
  struct Named {
    std::string id;
    Term term = 0;
    Index index = 0;
  };

  FileSnapshotStore(FileSystem& fs, std::string dir, FileSnapshotStoreOptions options,
                    std::unique_ptr<FileLock> lock);
  // Committed snapshots by name, newest first. Holds mutex_.
  Result<std::vector<Named>> committed_locked();
  // Reads and checks a snapshot's meta; *data_crc (if given) gets the data's checksum.
  Result<SnapshotMeta> read_meta_locked(const std::string& id, std::uint32_t* data_crc = nullptr);
  // Moves a completed temporary directory into place and applies the retention.
  Result<SnapshotMeta> install(const std::string& tmp_dir, const SnapshotMeta& meta);
  Status apply_retention_locked();

  FileSystem& fs_;
  const std::string dir_;
  const FileSnapshotStoreOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::mutex mutex_;
  std::uint64_t next_tmp_ = 0;
};

}  // namespace raft
