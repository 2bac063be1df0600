// Raft::Impl: the runtime behind raft.h. The core thread runs an asio::io_context: every
// request, received message and tick is a handler posted to it, so the RawNode and the
// DurableStorage's log are only ever touched by that thread. After a burst of handlers one
// "ready pass" turns the core's Ready into I/O in the order of the persistence contract
// (ready.h): send `messages` (the leader's appends leave before its own write), persist
// (one write + one fdatasync), send `persisted_messages`, hand committed entries and
// received snapshots to the apply thread, answer reads, advance.
//
// Threads: see raft.h. Members marked "core" are touched by the core thread only; the
// `view_` is written there and read by any thread under view_mu_.
#pragma once

#include <fmt/format.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "raft/raft.h"
#include "raft/raw_node.h"
#include "runtime/apply_worker.h"
#include "runtime/snapshot_worker.h"

namespace raft {

class Raft::Impl {
 public:
  Impl(const RaftOptions& options, StateMachine& fsm, std::unique_ptr<DurableStorage> storage,
       std::unique_ptr<Transport> transport);
  ~Impl();

  Status open();
  void shutdown();
  // Whether the calling thread is one of this node's (core, apply, snapshot): a callback's.
  bool on_runtime_thread() const;
  // Sets stopping_ (no new requests); true if this call set it.
  bool refuse_requests();
  // Has the core thread fail what is pending and leave its loop (posted, returns at once).
  void post_core_stop();

  Status bootstrap_cluster(const pb::Configuration& configuration);
  void apply(std::string command, Timeout timeout, Callback<ApplyResult> done);
  // A read point (RawNode::read_index in `mode`); verify_only and kLease: leader only;
  // wait_apply: completes once this node applied the index.
  void read(bool verify_only, bool wait_apply, Timeout timeout, Callback<Index> done,
            ReadMode mode = ReadMode::kReadIndex);
  void change(ConfChange change, Timeout timeout, Callback<Index> done);
  void transfer(NodeId target, Timeout timeout, DoneCallback done);
  void snapshot(Callback<SnapshotMeta> done);

  RaftState state() const;
  LeaderInfo leader() const;
  ConfigurationInfo configuration() const;
  Index applied_index() const { return apply_ ? apply_->applied() : 0; }
  std::string local_address() const { return local_address_; }
  Status error() const;
  std::map<std::string, std::string> stats() const;
  void set_observer(std::function<void(const RaftEvent&)> observer);

 private:
  using Clock = runtime::Clock;

  // What other threads may read of the core's state (guarded by view_mu_).
  struct View {
    RaftState state = RaftState::kFollower;
    Term term = 0;
    NodeId leader;
    Index commit = 0;
    Index last_index = 0;
    Term last_term = 0;
    ConfigurationInfo configuration;
    std::optional<Clock::time_point> last_contact;
    Index snapshot_index = 0;
    Term snapshot_term = 0;
    Status error;
  };
  struct PendingRead {
    bool verify_only;
    bool wait_apply;
    Clock::time_point deadline;
    Callback<Index> done;
  };
  struct PendingChange {
    ConfChange change;
    Clock::time_point deadline;
    Callback<Index> done;
  };
  // add_voter: waits until the server is a VOTER in a committed configuration (promoted from
  // STAGING once caught up), then until this node applied that configuration.
  struct PendingPromotion {
    NodeId id;
    Clock::time_point deadline;
    Callback<Index> done;
  };
  struct PendingTransfer {
    NodeId target;
    Clock::time_point deadline;
    DoneCallback done;
  };

  // Runs `fn` on the core thread, or fails with kShutdown when the node is stopping.
  bool post(std::function<void()> fn);
  void schedule_ready();
  void process_ready();
  void on_message(pb::Message message);
  void on_tick();
  void arm_ticker();
  // Ticks the core once for every heartbeat interval that passed since the last tick (a
  // late timer or a stalled thread loses no time: the leader lease counts on it).
  void catch_up_ticks();
  void send(std::vector<pb::Message>& messages);
  void learn_addresses(const pb::Entry& conf_change_entry);
  void update_view();
  void forget_removed_peers(const pb::Configuration& configuration);
  void emit(const RaftEvent& event);
  void fail_node(const Status& status);
  void fail_pending(const Status& status);
  void try_change(PendingChange pending);
  // After a leader change: asks the new leader to confirm every read still waiting.
  void reissue_reads(const NodeStatus& st);
  // Follower: sends the reads in forward_waiting_ to the leader as one request.
  void forward_reads();
  // The forwarded request of `members` was answered (or failed): completes them.
  void finish_forwarded(std::vector<PendingRead>& members, const Result<Index>& index);
  void retry_changes();
  // Both read the core's state from `st` (node_->status() copies the configuration and every
  // peer's progress: taken once per ready pass or tick, not once per check).
  void check_promotions(const NodeStatus& st, bool tick);
  void check_transfer(const NodeStatus& st);
  void note_snapshot(const SnapshotMeta& meta);  // any thread
  void compact(const SnapshotMeta& meta);
  Config core_config(Index applied) const;
  Status recover();  // open(): the state machine and its position

  RaftOptions options_;
  Logger* logger_;
  StateMachine& fsm_;
  std::unique_ptr<DurableStorage> storage_;
  std::unique_ptr<Transport> transport_;
  std::string local_address_;

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::steady_timer ticker_{io_};
  Clock::time_point next_tick_;  // core: when the core's next tick is due
  std::thread core_thread_;
  bool core_running_ = false;          // set by open() before the core thread starts; then constant
  std::atomic<bool> stopping_{false};  // no new requests; set under post_mu_
  // Bytes of commands apply() has posted whose task has not run yet: they count toward
  // max_uncommitted_bytes with the proposals, so that callers faster than the core thread
  // cannot queue without bound.
  std::atomic<std::uint64_t> queued_bytes_{0};
  std::mutex post_mu_;  // post(): the stopping_ check and the post as one step
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_

  std::unique_ptr<runtime::SnapshotWorker> snapshots_;
  std::unique_ptr<runtime::ApplyWorker> apply_;
  runtime::ApplyWorker::Position start_;

  // core
  std::unique_ptr<RawNode> node_;
  bool ready_scheduled_ = false;
  bool stopped_ = false;  // fatal error or shutdown: the core does nothing more
  // Core thread: whether a request task should be refused (kShutdown) instead of carried out:
  // the core stopped, or shutdown() began. Requests still queued when shutdown() starts are
  // not proposed, so that it need not wait for a backlog of them to be written.
  bool refusing_requests() const { return stopped_ || stopping_.load(); }
  // Read contexts are "<incarnation>-<n>": the incarnation is random per Impl, so that an
  // answer to a read of an earlier run of this node (still queued at the leader, delivered
  // after a restart) can never be taken for the answer to a new read, whose point must be
  // chosen after it began.
  static std::uint64_t random_incarnation() {
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device();
  }
  std::string next_read_context() { return fmt::format("{:016x}-{}", incarnation_, ++next_read_); }
  const std::uint64_t incarnation_ = random_incarnation();
  std::uint64_t next_read_ = 0;
  std::map<std::string, PendingRead> reads_;
  // ReadIndex reads taken on a follower share forwarded requests: one request is in flight at
  // a time (an entry of reads_ standing for all its reads), and the reads taken meanwhile
  // wait here for the next, which leaves when it is answered. Each read's point is still
  // asked for after the read began, so it stays linearizable.
  std::vector<PendingRead> forward_waiting_;
  bool forward_in_flight_ = false;
  std::vector<PendingChange> changes_;  // waiting out kConfChangeInProgress
  std::vector<PendingPromotion> promotions_;
  std::optional<PendingTransfer> transfer_;
  std::map<NodeId, std::string> addresses_;
  SoftState soft_;
  Index config_index_seen_ = 0;

  mutable std::mutex view_mu_;
  View view_;

  std::mutex observer_mu_;
  std::function<void(const RaftEvent&)> observer_;
};

}  // namespace raft
