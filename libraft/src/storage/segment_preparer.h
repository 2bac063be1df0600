// SegmentPreparer: makes the segmented log's spare segment file (kSpareName in the log's
// directory) ahead of need: a file of exactly segment_size zero bytes, really written (not
// merely allocated) and synced, that the log renames into place as its next segment at
// rotation (see "The spare segment" in raft/segmented_log.h).
//
// In the background mode a thread of its own prepares the spare and the log's thread only
// starts it and takes the result; the two hand the spare over under a mutex, and the thread
// touches nothing but the spare file. Inline, start() prepares the spare before it returns
// (deterministic, for a file system such as FaultInjectingFileSystem, whose counted calls
// and scheduled crashes a second thread would make racy).
//
// Used by one thread (the log's); internally synchronized with its own worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "raft/file_system.h"

namespace raft {

inline constexpr std::string_view kSpareName = "SPARE.tmp";

class SegmentPreparer {
 public:
  // Prepares `size` bytes at `path`, on a thread if `background`.
  SegmentPreparer(FileSystem& fs, std::string path, std::uint64_t size, bool background);
  // Cancels a preparation under way and waits for its thread (the file stays, unfinished;
  // the log's next open() removes it).
  ~SegmentPreparer();
  SegmentPreparer(const SegmentPreparer&) = delete;
  SegmentPreparer& operator=(const SegmentPreparer&) = delete;

  // Starts preparing a spare unless one is ready or under way. Background: returns at once.
  // Inline: returns when it is done (or failed; see last_error()).
  void start();
  // If a spare is ready, hands it over (the file open for writing, synced, of exactly the
  // size); the caller owns the file at path() from then on, and the next start() makes a
  // new one. Otherwise (none ready, still under way, failed) returns null at once: never
  // waits for the worker.
  std::unique_ptr<WritableFile> take();
  // Cancels a preparation under way and waits for its thread.
  void stop();
  // Whether take() would hand over a spare now.
  bool ready() const;

  const std::string& path() const { return path_; }
  // The error of the last preparation that failed, or ok (for tests and stats).
  Status last_error() const;

 private:
  enum class State { kIdle, kRunning, kReady };
  // Writes and syncs the spare; runs on the worker or inline.
  void prepare();
  Status write_spare(std::unique_ptr<WritableFile>* out);
  void join();

  FileSystem& fs_;
  const std::string path_;
  const std::uint64_t size_;
  const bool background_;
  std::thread thread_;  // the log's thread only: started by start(), joined by take()/stop()
  std::atomic<bool> cancel_{false};
  mutable std::mutex mutex_;  // guards the fields below
  State state_ = State::kIdle;
  std::unique_ptr<WritableFile> ready_;  // the spare, once kReady
  Status error_;
};

}  // namespace raft
