// SnapshotWorker: the runtime's snapshot thread. It writes a state machine's point-in-time
// view (StateMachineSnapshot, captured on the apply thread) into the snapshot store while the
// apply thread goes on applying, commits it, and reports it so the core thread compacts the
// log. One snapshot at a time.
//
// Threads: submit(), busy(), newest_index() and note_installed() from any thread; the
// callbacks run on the snapshot thread. The DurableStorage is borrowed: only its snapshot
// store is used here (thread-safe); the log is compacted by the on_committed callback's
// owner, on the core thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "raft/durable_storage.h"
#include "raft/logger.h"
#include "raft/raft.h"
#include "raft/state_machine.h"

namespace raft::runtime {

class SnapshotWorker {
 public:
  struct Job {
    std::unique_ptr<StateMachineSnapshot> view;
    Index index = 0;
    Term term = 0;
    pb::Configuration configuration;
    std::vector<Callback<SnapshotMeta>> waiters;
  };

  SnapshotWorker(DurableStorage& storage, Logger& logger, Index newest_index,
                 std::function<void(const SnapshotMeta&)> on_committed);
  ~SnapshotWorker();  // stop()

  void start();
  // Aborts the snapshot being written (its waiters get kShutdown) and joins the thread.
  void stop();

  // Hands a job over; false (and the job untouched) if one is running or queued.
  bool submit(Job& job);
  bool busy() const { return busy_.load(); }
  // The index of the newest snapshot in the store (committed here or installed).
  Index newest_index() const { return newest_index_.load(); }
  void note_installed(Index index);
  // A snapshot at `index` failed (the state machine's view or its write): automatic
  // snapshots back off (see ApplyWorker) until one succeeds or one is installed.
  void note_failed(Index index);
  // Snapshots failed in a row since the last one that succeeded, and the index of the last.
  std::uint32_t consecutive_failures() const { return failures_.load(); }
  Index failed_index() const { return failed_index_.load(); }

 private:
  void run();
  Result<SnapshotMeta> write(Job& job);

  DurableStorage& storage_;
  Logger& logger_;
  std::function<void(const SnapshotMeta&)> on_committed_;
  std::atomic<Index> newest_index_;
  std::atomic<bool> busy_{false};
  std::atomic<std::uint32_t> failures_{0};
  std::atomic<Index> failed_index_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Job> job_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace raft::runtime
