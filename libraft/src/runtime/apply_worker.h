// ApplyWorker: the runtime's apply thread, and the bookkeeping of requests that wait for it.
//
// The core thread hands it committed entries and received snapshots in log order; the apply
// thread applies each entry to the StateMachine exactly once (an entry at or below the
// applied index is skipped, so a restore or a restart never re-applies), completes the
// apply() future registered for that index (if the entry there is still the one proposed:
// same term), wakes the reads waiting for that index, and asks for a snapshot when enough
// was applied since the last one.
//
// Threads: enqueue_*() and request_snapshot() from the core thread only; register_*(),
// expire(), fail_all() and the getters from any thread; everything else on the apply
// thread. Callbacks are called with no lock held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "raft/logger.h"
#include "raft/raft.h"
#include "raft/snapshot_store.h"
#include "raft/state_machine.h"
#include "runtime/snapshot_worker.h"

namespace raft::runtime {

using Clock = std::chrono::steady_clock;

class ApplyWorker {
 public:
  struct Position {
    Index applied = 0;
    Term applied_term = 0;
    pb::Configuration configuration;  // in force as of `applied`
  };

  ApplyWorker(StateMachine& fsm, Logger& logger, SnapshotWorker& snapshots, Position start,
              std::uint64_t snapshot_threshold, std::uint64_t max_queued_bytes,
              std::function<void(Status)> on_fatal);
  ~ApplyWorker();  // stop()

  void start();
  // Applies what is queued (committed entries are durable: their futures complete with
  // their result), then joins the thread.
  void stop();

  // --- core thread
  // Blocks while more than max_queued_bytes wait to be applied (back pressure on the core),
  // unless the worker is stopping.
  void enqueue_entries(std::vector<pb::Entry> entries);
  void enqueue_restore(pb::SnapshotMetadata metadata, std::unique_ptr<SnapshotReader> reader);
  void request_snapshot(Callback<SnapshotMeta> done);

  // --- any thread
  // Completes `done` when the entry at `index` is applied (if its term is still `term`; a
  // different entry there fails it with kLeadershipLost). A proposal already waiting at
  // `index` (an earlier term's) keeps waiting too: the applied entry's term decides which
  // of them it was.
  void register_proposal(Index index, Term term, std::uint64_t bytes, Clock::time_point deadline,
                         Callback<ApplyResult> done);
  // Completes `done` with `index` once the applied index reaches it (at once if it has).
  void wait_applied(Index index, Clock::time_point deadline, Callback<Index> done);
  // Fails the proposals and waits whose deadline passed (kTimeout).
  void expire(Clock::time_point now);
  // Fails every proposal and wait with `status`.
  void fail_all(const Status& status);
  // Has the apply thread check whether an automatic snapshot is due, with no entry to apply
  // (called when a snapshot completes: the entries applied while it was being written would
  // otherwise wait for the next apply, which may never come).
  void check_snapshot();

  Index applied() const { return applied_.load(); }
  Term applied_term() const { return applied_term_.load(); }
  std::size_t pending_entries() const { return queued_entries_.load(); }
  std::uint64_t proposed_bytes() const { return proposed_bytes_.load(); }

 private:
  struct Task {
    std::vector<pb::Entry> entries;
    std::unique_ptr<SnapshotReader> restore;  // set: restore from it
    pb::SnapshotMetadata restore_metadata;
    std::optional<Callback<SnapshotMeta>> snapshot;  // set: take a snapshot
    std::uint64_t bytes = 0;  // counted against max_queued_bytes while queued
  };
  struct Proposal {
    Term term;
    std::uint64_t bytes;
    Clock::time_point deadline;
    Callback<ApplyResult> done;
  };
  struct Wait {
    Clock::time_point deadline;
    Callback<Index> done;
  };

  void run();
  void push(Task task);

  void apply_entries(std::vector<pb::Entry>& entries);
  // After the state machine applied `entries` (consecutive): records configurations,
  // completes their proposals with `responses` and publishes the new applied index.
  void complete_applied(const std::vector<pb::Entry>& entries, std::vector<std::string>& responses);
  void restore(Task& task);
  // Whether an automatic snapshot is due (threshold reached, with backoff after failures).
  bool snapshot_due() const;
  void take_snapshot(std::vector<Callback<SnapshotMeta>> waiters);
  void publish_applied(Index applied, Term term);

  StateMachine& fsm_;
  Logger& logger_;
  SnapshotWorker& snapshots_;
  const std::uint64_t snapshot_threshold_;
  const std::uint64_t max_queued_bytes_;
  std::function<void(Status)> on_fatal_;

  // Apply-thread state.
  pb::Configuration configuration_;
  bool failed_ = false;

  std::atomic<Index> applied_;
  std::atomic<Term> applied_term_;
  std::atomic<std::size_t> queued_entries_{0};
  std::atomic<std::uint64_t> proposed_bytes_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the apply thread waits for tasks
  std::condition_variable space_cv_;  // the core thread waits for room
  std::deque<Task> queue_;            // guarded by queue_mu_
  std::uint64_t queued_bytes_ = 0;    // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_

  std::mutex wait_mu_;
  std::multimap<Index, Proposal> proposals_;  // guarded by wait_mu_; several per index possible
  std::multimap<Index, Wait> waits_;          // guarded by wait_mu_

  std::thread thread_;
};

}  // namespace raft::runtime
