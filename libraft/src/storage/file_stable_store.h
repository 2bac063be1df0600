// FileStableStore: the StableStore kept in one small file, replaced atomically on every save.
//
// Files, in the directory given to open():
//   stable       the current record
//   stable.tmp   the next record while it is being written (removed at open if left over)
//   stable.lock  held (FileSystem::lock) while the store is open: a second open of the same
//                directory fails with kIoError saying the directory is in use
//
// save() writes the whole record to stable.tmp, syncs it, renames it over `stable` and syncs
// the directory. A crash at any point leaves `stable` holding the old or the new record: a
// torn stable.tmp is never read. A `stable` that fails its checks is kCorruption naming the
// file and what is wrong; a missing `stable` is a fresh store (empty record).
//
// Format of `stable` (integers little-endian):
//   offset 0   8 bytes  magic "RAFTSTBL"
//   offset 8   u32      format version, 1
//   offset 12  u32      payload length N
//   offset 16  N bytes  payload
//   offset 16+N u32     CRC-32 (IEEE, as zlib) of bytes [0, 16+N)
// and nothing after it. The payload of version 1:
//   u64 term | u32 length + bytes of vote | u32 number of facts |
//   per fact, in key order: u32 length + bytes of key, u32 length + bytes of value
//
// Owns its lock; borrows the FileSystem, which must outlive it. Thread-safe (one mutex).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "raft/file_system.h"
#include "raft/stable_store.h"

namespace raft {

class FileStableStore final : public StableStore {
 public:
  // Opens the store in `dir` (created if absent), reads and checks the current record.
  static Result<std::unique_ptr<FileStableStore>> open(FileSystem& fs, const std::string& dir);

  Result<StableState> load() override;
  Status save(const StableState& state) override;

  // The path of the current record.
  const std::string& path() const { return path_; }

  // The file image of a record, and the record of a file image ("" or what is wrong in
  // *error). Exposed for tests.
  static std::string encode(const StableState& state);
  static bool decode(std::string_view file, StableState* state, std::string* error);

 private:
  FileStableStore(FileSystem& fs, std::string dir, std::unique_ptr<FileLock> lock);
  // Loads the record (if any) into state_ and syncs its file.
  Status read_current();

  FileSystem& fs_;
  const std::string dir_;
  const std::string path_;
  const std::string tmp_path_;
  std::unique_ptr<FileLock> lock_;
  std::mutex mutex_;
  StableState state_;  // the last record read or saved
};

}  // namespace raft
