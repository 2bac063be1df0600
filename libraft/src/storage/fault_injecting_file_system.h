// FaultInjectingFileSystem: an in-memory FileSystem that can lose power, tear writes and fail
// calls on demand, for crash tests, benchmarks of the storage logic and the simulator
// (`raft-sim --storage disk`). Modelled on LevelDB's fault-injection env.
//
// The model. Files and directories are nodes (like inodes); a path is resolved by walking the
// live entries of directories from the root. Each file keeps its current content and the
// content it had at its last successful sync(). Each directory keeps its live entries and its
// durable entries: the entries it had at its last sync_dir(). crash() simulates power loss:
//   - every directory reachable from the root through durable entries gets its durable
//     entries back (a file created or renamed into a directory that was never synced
//     disappears; a rename or removal not followed by sync_dir of the directory is undone);
//   - every such file falls back to its synced content; by CrashMode, the unsynced change of
//     a file that only grew since its last sync — or, when it was not truncated since, was
//     written in place (write_at) without shrinking — may instead survive in part: the
//     change is the byte range from the first to the last byte that differs from the synced
//     content (the whole tail for a file that grew), and kTearTail keeps a random-length
//     prefix of it (from a seeded PRNG; the rest is as synced), kZeroTail fills it with zeros
//     (the blocks and size reached the disk, the data did not);
//   - locks are released and every file object opened before the crash fails from then on.
// Directories made by create_dirs() are durable at once (in their parent's durable entries
// too), as FileSystem::create_dirs promises (the POSIX one syncs each parent); renames and
// removals of directories follow the rules above.
//
// Faults: fail_nth() makes one future call of a kind fail with kIoError, fail_from() makes
// every call of a kind fail from the nth on, set_space_limit() makes writes fail once the
// bytes they add to files would pass a limit ("disk full"), schedule_crash() crashes the machine at
// the nth call from now (that call and every later one fail with kIoError until restart()).
// count() reports how many calls of a kind were made.
//
// Thread-safe: one mutex guards everything. The file system must outlive the files and locks
// it hands out. Paths are '/'-separated; "a/b" and "/a/b" name the same file.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "raft/file_system.h"

namespace raft {

class FaultInjectingFileSystem final : public FileSystem {
 public:
  // The kinds of call that are counted and can be made to fail.
  enum class Op {
    kOpenWritable,
    kCreateWritable,
    kOpenReadable,
    kAppend,  // append(), append_all() and write_at()
    kSync,
    kPreallocate,
    kTruncate,
    kClose,
    kRead,
    kRename,
    kRemove,
    kRemoveAll,
    kSyncDir,
    kCreateDirs,
    kList,
    kExists,
    kLock,
    kCount,  // the number of kinds, not a kind
  };

  // What survives of a file's unsynced tail at crash().
  enum class CrashMode {
    kDropUnsynced,  // nothing: the file is exactly its synced content
    kTearTail,      // a random-length prefix of the tail (a torn last write)
    kZeroTail,      // the tail's length, filled with zero bytes
  };

  explicit FaultInjectingFileSystem(std::uint64_t seed = 1);
  ~FaultInjectingFileSystem() override;
  FaultInjectingFileSystem(const FaultInjectingFileSystem&) = delete;
  FaultInjectingFileSystem& operator=(const FaultInjectingFileSystem&) = delete;

  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> create_writable(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status remove_all(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Status create_dirs(const std::string& path) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Result<bool> exists(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override;

  // Simulates power loss now (see the model above). The file system is usable afterwards,
  // as after a reboot; file objects opened before stay dead.
  void crash();
  void set_crash_mode(CrashMode mode);

  // The nth call (1-based, counted from now) of `op` fails with kIoError, once.
  void fail_nth(Op op, std::uint64_t n);
  // Every call of `op` from the nth one (counted from now) on fails with kIoError.
  void fail_from(Op op, std::uint64_t n);
  // Writes fail with kIoError ("no space left") once the bytes they add to files (growth; an
  // overwrite in place takes none) from now on would exceed `bytes`; the failing write
  // writes nothing.
  void set_space_limit(std::uint64_t bytes);
  // At the nth call (1-based, of any kind, counted from now) the machine crashes instead:
  // crash() runs, and that call and every later one fail with kIoError until restart().
  void schedule_crash(std::uint64_t n);
  // True between a scheduled crash and restart().
  bool is_down() const;
  // Brings a crashed machine back up (a reboot).
  void restart();
  // Removes every injected failure, space limit and scheduled crash.
  void clear_faults();
  // While held, every file sync() waits (a disk that stalls its caller: the thread that
  // syncs is held up) until release_syncs(), then proceeds as usual. Release before the
  // file system or a file waiting is destroyed.
  void hold_syncs();
  void release_syncs();
  // How many sync() calls are waiting now.
  std::uint64_t held_syncs() const;

  // Calls of `op` made since construction or reset_counts(), failed ones included.
  std::uint64_t count(Op op) const;
  // Calls of any kind made since construction or reset_counts().
  std::uint64_t calls() const;
  // Bytes passed to successful appends and write_at() since construction or reset_counts().
  std::uint64_t bytes_appended() const;
  void reset_counts();

  // Test helpers that bypass faults and counts. contents() returns the current content of a
  // file; set_contents() replaces it both live and synced (bit rot on the platter).
  Result<std::string> contents(const std::string& path) const;
  Status set_contents(const std::string& path, const std::string& data);

 private:
  struct Node;
  class File;
  class Writable;
  class Readable;
  class Lock;

  // Counts a call and applies injected faults; an error when the call must fail.
  Status enter(Op op, const std::string& what);
  Result<std::shared_ptr<Node>> resolve(const std::string& path) const;
  // The directory that holds `path`, and the last component of `path`.
  Result<std::pair<std::shared_ptr<Node>, std::string>> resolve_parent(
      const std::string& path) const;
  Result<std::unique_ptr<WritableFile>> open_writable_locked(const std::string& path, bool truncate,
                                                             Op op);
  void crash_locked();
  void unlock(const std::string& path, std::uint64_t id);

  mutable std::mutex mutex_;
  std::condition_variable syncs_released_;  // with mutex_
  bool syncs_held_ = false;                 // guarded by mutex_
  std::uint64_t syncs_waiting_ = 0;         // guarded by mutex_
  std::shared_ptr<Node> root_;
  std::mt19937_64 rng_;
  CrashMode crash_mode_ = CrashMode::kDropUnsynced;
  // Bumped by every crash; a file object of an older generation fails every call.
  std::uint64_t generation_ = 0;

  // Reported counts (reset_counts() zeroes them) ...
  std::uint64_t counts_[static_cast<int>(Op::kCount)] = {};
  std::uint64_t calls_ = 0;
  std::uint64_t bytes_appended_ = 0;
  // ... and the never-reset counts that injected faults and scheduled crashes refer to.
  std::uint64_t fault_counts_[static_cast<int>(Op::kCount)] = {};
  std::uint64_t fault_calls_ = 0;

  struct Fault {
    std::uint64_t at = 0;  // value of the op's count at which the fault fires
    bool sticky = false;   // fail every call from `at` on
  };
  std::multimap<Op, Fault> faults_;
  bool space_limited_ = false;
  std::uint64_t space_left_ = 0;
  std::uint64_t crash_at_call_ = 0;  // 0: none scheduled
  bool down_ = false;

  std::map<std::string, std::uint64_t> locks_;  // normalized path -> holder id
  std::uint64_t next_lock_id_ = 1;
};

std::string_view to_string(FaultInjectingFileSystem::Op op);

}  // namespace raft
