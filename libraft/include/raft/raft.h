// Raft: the runtime that turns the consensus core into a library a program links — the
// hashicorp/raft-style facade (apply, barrier, linearizable reads, membership, leadership
// transfer, snapshots, stats) over durable storage, a transport and the program's state
// machine.
//
// Ownership: the Raft object owns its DurableStorage and Transport (handed over at open) and
// its threads; it borrows the StateMachine, which must outlive it (or at least its
// shutdown()). The Logger in the options is borrowed too.
//
// Threads: every public method is thread-safe and non-blocking (the std::future overloads
// return at once; wait on the future, not inside a callback). Inside, the runtime runs:
//   - the core thread: the consensus core (RawNode), timers, the write to disk of each Ready
//     (one write + one fdatasync per batch: everything that arrived during an fsync is
//     batched into the next one, so a busy node commits groups), and the sends;
//   - the transport's thread (see transport.h), which hands received messages to the core;
//   - the apply thread: StateMachine::apply() for each committed entry, in order, exactly
//     once (after a restart, from StateMachine::last_applied() + 1), restore() and snapshot();
//   - the snapshot thread: writes a state machine snapshot to the snapshot store while
//     applies go on, then compacts the log.
// They are named raft-core, raft-net (TcpTransport), raft-apply and raft-snapshot (top -H,
// perf and gdb show the names); the log's segment preparer is raft-segprep.
// Callbacks (the overloads taking a Callback, and the observer) run on one of the runtime's
// threads, or on the caller's thread before the call returns (immediate errors). They must
// return quickly and must not wait on a future of this Raft.
//
// Errors are values: kNotLeader names the leader in Status::leader_hint() (its address is in
// leader()); kLeadershipLost, kTimeout and kShutdown on apply say whether the command may
// still be applied (see ApplyResult below).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "raft/durable_storage.h"
#include "raft/logger.h"
#include "raft/raft.pb.h"
#include "raft/snapshot_store.h"
#include "raft/state_machine.h"
#include "raft/status.h"
#include "raft/transport.h"
#include "raft/types.h"

namespace raft {

using Timeout = std::chrono::milliseconds;

// Settings of one Raft node. Plain value, copied at open().
struct RaftOptions {
  NodeId id;  // required: this server's id, as in the cluster's configuration
  // Where the transport listens ("host:port"; port 0 picks a free one: see
  // Raft::local_address()). Required.
  std::string listen_address;

  // Used by the open() overload that builds storage and transport itself: the data
  // directory (created if absent) and the cluster id every peer's handshake must carry.
  std::string data_dir;
  std::string cluster_id = "libraft";
  // Passed to the TCP transport (TcpTransportOptions::on_foreign_cluster): lets a host adopt
  // another cluster that dials this node under its id. Null: such handshakes are refused.
  std::function<bool(const ForeignClusterContact&)> on_foreign_cluster;

  // Timing. The leader sends heartbeats every heartbeat_interval; a follower that hears
  // nothing for a random time in [election_timeout, 2 * election_timeout) starts an
  // election. election_timeout must be a multiple of heartbeat_interval (rounded down) and
  // at least twice it.
  std::chrono::milliseconds heartbeat_interval{100};
  std::chrono::milliseconds election_timeout{1000};
  bool pre_vote = true;
  bool check_quorum = true;
  // Leader lease reads (lease_read(); Config::lease_read): on by default where check_quorum
  // is. Every voter of a cluster must agree on it. The lease assumes the nodes' clocks
  // (steady_clock) run at nearly the same rate: it ends lease_clock_drift (rounded up to
  // whole heartbeat intervals, at least 0) before an election timeout after the send time of
  // the newest heartbeat a quorum acknowledged. The margin also absorbs a late tick timer; a
  // node that stalls catches up on the ticks it missed before it answers a lease read.
  bool lease_read = true;
  std::chrono::milliseconds lease_clock_drift{100};

  // Snapshots: one is taken when the state machine has applied `snapshot_threshold` entries
  // since the last one (0: only when snapshot() is called); the log keeps `trailing_logs`
  // entries behind it so slow followers catch up from the log, not a snapshot.
  std::uint64_t snapshot_threshold = 8192;
  std::uint64_t trailing_logs = 10240;
  // Bytes of snapshot data per InstallSnapshot message; each message travels in one
  // transport frame (64 MiB at most by default), so open() refuses more than
  // kMaxMessagePayloadBytes here and in max_append_bytes.
  std::uint64_t max_snapshot_chunk = 1 << 20;

  // Memory bounds. Commands proposed on this leader and not yet applied, with those apply()
  // took that still wait for the core thread, may hold at most max_uncommitted_bytes (beyond it
  // apply() fails at once with kUnavailable: "too much uncommitted data"); each follower has at
  // most max_inflight_appends AppendEntries of at most max_append_bytes in flight.
  std::uint64_t max_uncommitted_bytes = 64ull << 20;
  std::uint64_t max_append_bytes = 1 << 20;
  std::size_t max_inflight_appends = 64;

  // 0: a random seed (election timeouts). Tests set it to make runs repeatable.
  std::uint64_t random_seed = 0;
  Logger* logger = nullptr;  // null: null_logger()
};

// What apply() gives back once the command is applied.
//   kNotLeader: refused at once (nothing was appended): retry on leader_hint().
//   kUnavailable: refused at once (too much uncommitted data, or a transfer is running).
//   kLeadershipLost: appended, then overwritten by a new leader: it will never be applied.
//   kTimeout / kShutdown after it was appended, or kIoError (this node stopped on a disk
//   error): outcome unknown — it may still be applied.
struct ApplyResult {
  Index index = 0;
  Term term = 0;
  std::string response;  // StateMachine::apply()'s return value
};

enum class RaftState { kFollower, kCandidate, kLeader, kShutdown };
std::string_view to_string(RaftState state);

struct LeaderInfo {
  NodeId id;             // empty when no leader is known
  std::string address;   // its raft address, from the configuration
  std::string metadata;  // its Server.metadata (kvserver: the HTTP address)
};

// A configuration and the index of the log entry that carried it.
struct ConfigurationInfo {
  pb::Configuration configuration;
  Index index = 0;
};

// What the observer hears about.
struct RaftEvent {
  enum class Kind {
    kStateChanged,          // follower / candidate / leader (state)
    kLeaderChanged,         // a new leader is known, or none (leader)
    kConfigurationChanged,  // a new configuration is in force (configuration)
    kStopped,               // the node stopped: shutdown(), or a fatal error (error)
  };
  Kind kind;
  RaftState state = RaftState::kFollower;
  LeaderInfo leader;
  ConfigurationInfo configuration;
  Status error;  // kStopped: why (ok after shutdown())
};

// The most RaftOptions::max_snapshot_chunk and max_append_bytes may be: half the default
// transport frame limit, leaving room for the rest of the message (the configuration, the
// entries' framing).
inline constexpr std::uint64_t kMaxMessagePayloadBytes = std::uint64_t{32} << 20;

template <typename T>
using Callback = std::function<void(Result<T>)>;
using DoneCallback = std::function<void(Status)>;

class Raft {
 public:
  // Starts a node over `storage` (its state machine is restored from the newest snapshot if
  // it has applied less than that, and the log is replayed from last_applied() + 1) and
  // starts `transport` on options.listen_address. A node with no configuration (new, not
  // bootstrapped) waits to be added by a cluster, or for bootstrap_cluster().
  // Errors: kInvalidArgument (options), kCorruption (state machine ahead of the log), and
  // whatever storage or transport report.
  static Result<std::unique_ptr<Raft>> open(const RaftOptions& options, StateMachine& fsm,
                                            std::unique_ptr<DurableStorage> storage,
                                            std::unique_ptr<Transport> transport);
  // The same, with DurableStorage on options.data_dir (real files) and the TCP transport
  // (options.id, options.cluster_id).
  static Result<std::unique_ptr<Raft>> open(const RaftOptions& options, StateMachine& fsm);

  ~Raft();  // shutdown()
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // Makes this fresh node a founding member of `configuration` (every founding server is
  // given the same one; a single-server configuration elects itself at once).
  // kAlreadyExists if the node has any state (a term, an entry or a snapshot).
  Status bootstrap_cluster(const pb::Configuration& configuration);

  // Replicates `command` and applies it on every node; the future completes when this node
  // applied it, with the state machine's response (errors: see ApplyResult). `timeout`
  // bounds the whole wait.
  std::future<Result<ApplyResult>> apply(std::string command, Timeout timeout);
  void apply(std::string command, Timeout timeout, Callback<ApplyResult> done);

  // Completes once every command committed before the call has been applied on this node
  // (hashicorp's Barrier). Works on any node with a leader.
  std::future<Status> barrier(Timeout timeout);
  // Linearizable read point (ReadIndex, dissertation 6.4), on any node: completes with an
  // index once a quorum confirmed the leader and this node applied up to it — a read of
  // the local state machine then sees every write acknowledged before the call. Many
  // concurrent calls share one round of heartbeats.
  std::future<Result<Index>> read_index(Timeout timeout);
  void read_index(Timeout timeout, Callback<Index> done);
  // Leader lease read (dissertation 6.4.1), leader only: completes with an index once this
  // node applied up to it — a read of the local state machine then sees every write
  // acknowledged before the call. While the leader's lease holds (RaftOptions::lease_read)
  // no message is sent; otherwise (lease expired, no commit in this term yet, a leadership
  // transfer running, lease reads off) it waits for a ReadIndex round like read_index().
  // On a non-leader: kNotLeader at once, with leader_hint() naming the leader when known.
  // kTimeout if not done within `timeout`; kNotLeader if leadership is lost meanwhile.
  std::future<Result<Index>> lease_read(Timeout timeout);
  void lease_read(Timeout timeout, Callback<Index> done);
  // Leader only: completes once a quorum confirmed this node is still the leader.
  std::future<Status> verify_leader(Timeout timeout);

  // Membership, one change at a time (leader only; kConfChangeInProgress is retried inside
  // until `timeout`). Each completes when the new configuration is committed and applied
  // here. A new voter first catches up as STAGING (no vote) and is promoted by the leader.
  // prev_index (0: no guard): refuse with kStaleConfiguration unless the newest
  // configuration is still the one at that index. A change that changes nothing (demoting a
  // non-voter, adding a non-voter again as it is) completes at once with the index of the
  // configuration in force.
  std::future<Result<Index>> add_voter(const NodeId& id, const std::string& address,
                                       Timeout timeout, std::string metadata = {},
                                       Index prev_index = 0);
  std::future<Result<Index>> add_nonvoter(const NodeId& id, const std::string& address,
                                          Timeout timeout, std::string metadata = {},
                                          Index prev_index = 0);
  std::future<Result<Index>> demote_voter(const NodeId& id, Timeout timeout, Index prev_index = 0);
  std::future<Result<Index>> remove_server(const NodeId& id, Timeout timeout, Index prev_index = 0);

  // Leader only: hands leadership to `target` (empty: the most up-to-date voter). Completes
  // when another node is leader; kTimeout if the transfer was abandoned.
  std::future<Status> leadership_transfer(const NodeId& target = {},
                                          Timeout timeout = Timeout(5000));

  // Takes a snapshot now (state machine view on the apply thread, written on the snapshot
  // thread); completes with the snapshot's metadata once it is durable (and in stats()); the
  // log is compacted right after, on the core thread. kAlreadyExists: nothing was applied
  // since the newest snapshot; kUnavailable: another snapshot is being written.
  std::future<Result<SnapshotMeta>> snapshot();

  // Cheap views, updated after each batch the core hands out.
  RaftState state() const;
  LeaderInfo leader() const;
  ConfigurationInfo configuration() const;
  Index applied_index() const;
  // The address the transport listens on (the actual port when options asked for port 0).
  std::string local_address() const;
  // The fatal error that stopped this node (an I/O error while persisting: the node stops
  // rather than acknowledge what it could not make durable), or ok.
  Status error() const;
  // A flat map with hashicorp/raft's keys: state, term, last_log_index, last_log_term,
  // commit_index, applied_index, fsm_pending, last_snapshot_index, last_snapshot_term,
  // latest_configuration, latest_configuration_index, num_peers, last_contact,
  // protocol_version, plus id, leader, leader_addr.
  std::map<std::string, std::string> stats() const;

  // Called on the core thread on every event (see RaftEvent). Replaces any earlier observer.
  void set_observer(std::function<void(const RaftEvent&)> observer);

  // Stops the node: every pending future and callback completes (kShutdown, or the result
  // if its entry was already committed: committed entries are applied before the apply
  // thread stops), every thread is joined, the transport closed. Never hangs; idempotent.
  // Called from a callback or the observer (on a thread of this Raft, which cannot join
  // itself), it returns at once having stopped the core: new requests get kShutdown and
  // pending ones complete with it; the threads are joined and the files closed by the next
  // shutdown() from another thread, at the latest the destructor's.
  void shutdown();

 private:
  class Impl;
  explicit Raft(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace raft
