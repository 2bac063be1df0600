// FileSystem: the only way libraft's durable storage touches files, so that tests can swap in
// a fault-injecting implementation (storage/fault_injecting_file_system.h) that loses what
// was not synced, tears the last write, or fails a call with an I/O error.
//
// Paths are plain strings ('/'-separated). Implementations are thread-safe; a file object is
// used by one thread at a time. Every error is a Status (kIoError, kNotFound, ...) naming the
// path and the failing call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "raft/status.h"

namespace raft {

// A file open for writing, at its end (append) or at any offset (write_at). Data written is
// durable only after sync() returns ok. One writer per file at a time: the object keeps the
// file's size itself.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` at the end of the file (one pwrite(2) where possible).
  virtual Status append(std::string_view data) = 0;
  // Appends several buffers with one call (pwritev(2)).
  virtual Status append_all(const std::vector<std::string_view>& parts) = 0;
  // Writes all of `data` at `offset` (pwrite(2)), replacing what is there; a write that
  // passes the end extends the file (a gap before `offset` reads as zeros). size() becomes
  // max(size(), offset + data.size()).
  virtual Status write_at(std::uint64_t offset, std::string_view data) = 0;
  // Makes the data durable (fdatasync(2)).
  virtual Status sync() = 0;
  // Reserves `length` bytes from `offset` so later syncs need not update the file size
  // (fallocate(2) with FALLOC_FL_KEEP_SIZE); a no-op where unsupported.
  virtual Status preallocate(std::uint64_t offset, std::uint64_t length) = 0;
  // Sets the file's size to `size` bytes (ftruncate(2)): cuts it, or extends it with bytes
  // that read as zeros; durable after sync().
  virtual Status truncate(std::uint64_t size) = 0;
  virtual Status close() = 0;
  // The size of the file (the append position).
  virtual std::uint64_t size() const = 0;
};

// A file open for reading at any offset.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `n` bytes at `offset` into `out` (resized to what was read; short at EOF).
  virtual Status read(std::uint64_t offset, std::size_t n, std::string* out) const = 0;
  virtual Result<std::uint64_t> size() const = 0;
};

// An exclusive lock on a data directory, released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens (creating if absent) a file for appending at its current end.
  virtual Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path) = 0;
  // Creates or empties a file and opens it for appending.
  virtual Result<std::unique_ptr<WritableFile>> create_writable(const std::string& path) = 0;
  virtual Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable after sync_dir of the parent.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Removes a directory and everything in it.
  virtual Status remove_all(const std::string& path) = 0;
  // Makes the directory's entries (created, renamed, removed files) durable (fsync of the
  // directory).
  virtual Status sync_dir(const std::string& path) = 0;
  // Creates the directory and its parents if absent. Each directory it creates is durable
  // when it returns (its parent is synced after the mkdir), so that files synced into it
  // later cannot vanish with it at a power loss.
  virtual Status create_dirs(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, sorted.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  virtual Result<bool> exists(const std::string& path) = 0;
  // Takes an exclusive advisory lock (a lock file, flock(2)); a second holder — another
  // process or another FileLock in this one — gets kIoError saying the path is in use.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::string& path) = 0;
};

// The real, POSIX file system. Lives for the whole program.
FileSystem& posix_file_system();

}  // namespace raft
