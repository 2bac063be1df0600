// SimCluster: a deterministic simulation of a Raft cluster of RawNodes ("n1".."nN") on
// simulated time, with a seeded network, crashes, restarts, partitions, one-way link faults,
// paused processes, clock skew and torn disk writes, and the helpers of the MIT 6.824 Raft
// test harness (check_one_leader, one, n_committed, ...).
//
// Everything is driven by one event loop: node ticks (every tick_interval(i), each node with
// its own random phase) and message deliveries, ordered by (time, sequence). After every event
// the affected node's Ready batches are drained exactly as ready.h demands — send `messages`,
// persist `entries` and `hard_state` to its MemoryStorage, send `persisted_messages`, apply
// `committed_entries`, advance() — and InvariantChecker checks the Raft safety properties.
// Every event is folded into a trace hash: one seed, one run. One SimRandom drives every
// random choice, including the nodes' Config::random_seed. A fault that is not used draws no
// random number and records nothing, so a seed keeps its meaning when new faults are added.
//
// Crash model: a crash destroys the RawNode (unstable state is lost) and the partial snapshot
// the node was receiving, and keeps the node's MemoryStorage (durable, snapshot included) and
// its applied entries (a durable state machine); a restart passes Config::applied = the
// applied index (never below the snapshot index), so nothing is applied twice.
//
// Storage (SimOptions::storage, see SimNode): memory (the default) keeps each node's raft
// state in a MemoryStorage; disk keeps it in a raft::DurableStorage over the node's own
// FaultInjectingFileSystem, seeded from the run, so crashes exercise the real recovery
// code. Disk mode: step 2 of a Ready is DurableStorage::persist() (a Ready that installs a
// snapshot is persisted in two writes: the snapshot first, then its entries and hard state);
// an I/O error from it fails the run. The founding voters' storages are bootstrapped (entry
// 1 is the configuration); extra nodes start empty. The state machine is volatile: a crash
// is a power loss of the node's file system (kDropUnsynced; with torn_writes kTearTail or
// kZeroTail, and a write in flight runs with the crash scheduled at a random one of its file
// operations — a real torn write), the DurableStorage object is dropped and reopened at
// once (the machine reboots: recovery runs, the checker checks what survived, and the state
// machine is restored from the newest snapshot, which the restore observer is told about);
// restart() then builds the RawNode, which re-applies the log after the snapshot. The
// memory model below ("Crash model", "Torn writes") is the memory mode's.
//
// Snapshots (snapshot_threshold > 0, or snapshot(i)): a node's state machine is the list of
// entries it applied, so a snapshot's data is all of them up to its index (SimNode), with
// the configuration of the last configuration entry applied. After applying, a node that
// applied snapshot_threshold entries since its last snapshot takes one and compacts its log
// (keeping snapshot_trailing entries). The state machine's snapshot() is taken then; its
// write_to() runs at once, or, in disk mode with disk_delay_max > 0, after a random disk delay
// while the node keeps applying (a crash first loses it). A follower writes the chunks of a
// leader's snapshot into a volatile partial buffer and, when the Ready says it is complete,
// installs it in step 2 (before the Ready's entries): storage reset, applied entries replaced, the
// restore observer called and the checker shown the restored entries. With disk delays the install
// waits, like the rest of step 2, for the write to complete.
//
// Reads (read_index): a node's ReadStates go to the read observer as soon as ready() hands them
// out (step 1: they need no persistence); the observer serves a read once the node applied
// its index.
//
// Membership: nodes n<num_nodes+1>.. (extra_nodes) start with an empty storage and wait to be
// added; propose_conf_change / change_membership drive single-server changes. A removed node
// keeps running until the test crashes it.
//
// Disk model: by default a Ready is persisted at once, within the event that produced it.
// With disk_delay_max > 0 the write takes a random time: `messages` leave at once, the node
// keeps ticking and stepping (as ready.h allows between ready() and advance()), and only when
// the write completes are the entries and hard state stored, `persisted_messages` sent,
// committed entries applied and advance() called. A crash in between loses the write — or,
// with torn_writes, tears it:
//
// Torn writes: a real log (DESIGN.md, "On-disk formats") appends a Ready's entries as one write
// of consecutive records, each length + CRC32C + payload, then fsyncs. A crash before the
// fsync returns leaves any prefix of those bytes on disk (the file system persists pages in
// no particular order, but the tail beyond the first missing page fails its CRC); at start-up
// the storage layer cuts the log after the last whole, valid record. What remains is exactly
// the old log followed by a prefix of the write's entries, in order — a conflicting suffix the
// write truncated is gone only if some new entry replaced it. So the sim keeps a random
// strict prefix (possibly empty: the write never reached the disk) of the in-flight entries;
// all of them would be a write that completed, not a torn one. A write that installs a
// snapshot keeps nothing of the snapshot nor of its entries (a host renames the snapshot into
// place only once it is whole, and it comes first in the write). The hard state lives in a separate
// small file replaced atomically (write temp, fsync, rename), so it is either wholly old or wholly
// new, independently of the log: kept or lost with probability 1/2. Its commit index is clamped to
// the surviving log (never below the old durable commit): a host must never let a durable commit
// point past its durable log (it writes the log before the commit, or clamps commit to the last
// index at start-up), and RawNode::create rightly refuses such a state. Nothing of a torn write was
// acknowledged — persisted_messages (votes, append acks) wait for the write — so every such state
// is one a correct Raft must survive, and the invariant checker checks that it does.
//
// Pause (SIGSTOP): a paused node is alive but does nothing. Its ticks are lost (a stopped
// process does not catch up on time it missed), its disk write in flight does not complete,
// and messages that reach it wait in its socket buffer, in arrival order. On resume the
// finished disk write completes first, then the buffered messages are delivered in order, all
// at resume time, to a node whose view is as stale as the pause was long. Crashing a paused
// node drops its buffer and un-pauses it. A paused node refuses requests (kTimeout) and is
// not counted by the harness as a live leader (is_leader, leaders, leader, check_terms).
//
// Clock skew: with clock_skew > 0 each node's tick interval is drawn once, at construction,
// uniform in [tick_interval * (1 - clock_skew), tick_interval * (1 + clock_skew)], so its
// election and heartbeat timeouts fire at other real moments than its peers'.
//
// Lease reads (lease_read): a leader lease assumes bounded clock drift (Config::lease_read).
// Skew is bounded here: a node's tick lasts at most (1 + clock_skew) / (1 - clock_skew) ticks
// of another, so every node's lease_drift_ticks is raised to at least
// ceil((election_tick - 1) * 2 * clock_skew / (1 + clock_skew)) (3 ticks for the skew fault's
// 0.2 with election_tick 10), which keeps a leader's lease inside its followers' protection.
// A pause would be an unbounded clock jump for the paused node; with lease_read on a resumed
// node first catches up on the ticks it missed (as the runtime does: raft::Raft ticks once
// per heartbeat interval that passed), then reads its socket buffer.
//
// Harness checks throw SimFailure (with the seed and recent events) instead of returning
// errors, like the Fatalf calls of the 6.824 harness. The cluster owns everything in it.
// Observers run inside the event loop: they must not call the cluster's mutating methods.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.h"
#include "raft/configuration.h"
#include "raft/logger.h"
#include "raft/raw_node.h"
#include "sim/event_queue.h"
#include "sim/invariant_checker.h"
#include "sim/sim_failure.h"
#include "sim/sim_network.h"
#include "sim/sim_node.h"
#include "sim/sim_random.h"
#include "sim/sim_time.h"
#include "sim/trace.h"

namespace raft::sim {

struct SimOptions {
  int num_nodes = 3;
  std::uint64_t seed = 1;
  NetworkOptions network = NetworkOptions::reliable();
  SimTime tick_interval = milliseconds(10);
  int election_tick = 10;
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // How long one Ready's disk write takes, uniform in [min, max]; max 0: no delay.
  SimTime disk_delay_min = 0;
  SimTime disk_delay_max = 0;
  // Spread of the nodes' tick intervals, as a fraction in [0, 1) (e.g. 0.2: each node ticks
  // every tick_interval * [0.8, 1.2], drawn once per node); 0: every node ticks at
  // tick_interval and nothing is drawn.
  double clock_skew = 0.0;
  // A crash with a disk write in flight keeps a random strict prefix of its entries and,
  // independently, its hard state or not (see "Torn writes" above); false: the write is lost.
  bool torn_writes = false;
  // Config::lease_read on every node (when check_quorum is on), with this clock-drift margin
  // at least (raised to cover clock_skew: see "Lease reads" above).
  bool lease_read = false;
  int lease_drift_ticks = 1;
  // Test-only protocol bugs handed to every node's Config (see raft/config.h); all off.
  InjectedBugs bugs;
  // Config::max_size_per_msg of every node; 1 sends one entry per AppendEntries (deep
  // pipelines, and entries of two terms travelling in separate messages).
  std::uint64_t max_size_per_msg = 1 << 20;
  // Nodes beyond num_nodes (ids n<num_nodes+1>...) that start with no configuration at all:
  // they wait to be added (membership changes). The initial configuration holds the first
  // num_nodes nodes as voters.
  int extra_nodes = 0;
  // Each node snapshots its state machine once it has applied this many entries since its
  // last snapshot, then compacts its log keeping the last snapshot_trailing entries before
  // the snapshot index; 0: never.
  Index snapshot_threshold = 0;
  Index snapshot_trailing = 0;
  // Config::max_snapshot_chunk of every node (small values: many chunks per install).
  std::uint64_t max_snapshot_chunk = 1 << 20;
  // Keep every trace event as a text line (Trace::lines()); costs time, for debugging.
  bool keep_trace_lines = false;
  // Where the nodes keep their raft state (see "Storage" above).
  StorageKind storage = StorageKind::kMemory;
  // Disk mode: the log's segment size (small: segments roll over often, and the in-memory
  // file system copies a file at each sync) and whether segments are preallocated.
  std::uint64_t disk_segment_size = 32 << 10;
  bool disk_preallocate = true;
  // Where the nodes log (not owned); nullptr: nowhere.
  Logger* logger = nullptr;
};

// How many nodes applied an index, and what (6.824's nCommitted).
struct Committed {
  int count = 0;
  // The command applied there (ENTRY_NORMAL data); nullopt for a no-op or when count == 0.
  std::optional<std::string> command;
};

class SimCluster {
 public:
  explicit SimCluster(const SimOptions& options);
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // --- Identity and time.
  int size() const { return static_cast<int>(nodes_.size()); }
  const NodeId& id(int i) const { return nodes_[static_cast<std::size_t>(i)]->id(); }
  // -1 when `id` names no node.
  int index_of(const NodeId& id) const;
  std::uint64_t seed() const { return options_.seed; }
  SimTime now() const { return now_; }
  // The base election timeout (election_tick ticks); nodes time out in [1x, 2x) of it.
  SimTime election_timeout() const { return options_.tick_interval * options_.election_tick; }
  SimRandom& random() { return random_; }
  // Node i's tick interval (tick_interval unless clock_skew > 0).
  SimTime tick_interval(int i) const { return tick_intervals_[static_cast<std::size_t>(i)]; }

  // --- Running.
  void run_for(SimTime duration);
  // Runs until `done()` holds (checked after every event) or `timeout` passes; returns done().
  bool run_until(const std::function<bool()>& done, SimTime timeout);

  // --- Faults.
  void crash(int i);
  // Starts node i again from its durable state (crashing it first if it is up).
  void restart(int i);
  bool alive(int i) const { return node(i).alive(); }
  void disconnect(int i);
  void connect(int i);
  bool connected(int i) const { return network_.connected(i); }
  void partition(const std::vector<std::vector<int>>& groups);
  // One group again, every node connected and every link unblocked.
  void heal();
  void set_network(const NetworkOptions& options);
  // One-way link faults: messages from `from` to `to` are dropped (when sent and when they
  // would be delivered); messages from `to` to `from` are not affected.
  void block_link(int from, int to);
  void unblock_link(int from, int to);
  bool link_blocked(int from, int to) const { return network_.link_blocked(from, to); }
  // A bridge topology: blocks every link between a node of `a` and a node of `b`, both ways,
  // so the two groups cannot talk directly while `bridge_node` talks to both. Links of
  // `bridge_node` are left alone; nothing else changes (heal() undoes it).
  void bridge(const std::vector<int>& a, const std::vector<int>& b, int bridge_node);
  // Stops node i like SIGSTOP (see "Pause" above); no-op if it is down or already paused.
  void pause(int i);
  // Continues a paused node: completes its finished disk write, then delivers its buffered
  // messages in arrival order. No-op if it is not paused.
  void resume(int i);
  bool paused(int i) const { return pause_[static_cast<std::size_t>(i)].paused; }
  // The messages waiting for paused node i, in arrival order.
  std::vector<pb::Message> buffered_messages(int i) const;
  // Node i's Ready whose disk write is in flight, or nullptr (disk_delay_max > 0 only).
  const Ready* write_in_flight(int i) const;

  // --- Requests (the node's Ready is drained right after).
  Result<Index> propose(int i, std::string data);
  // Proposes all of `data` on node i before draining its Ready once.
  std::vector<Result<Index>> propose_batch(int i, const std::vector<std::string>& data);
  Status transfer_leadership(int leader, int target);
  Status campaign(int i);
  // Asks node i for a linearizable read point (RawNode::read_index); the answer comes to the
  // read observer.
  Status read_index(int i, std::string context, ReadMode mode = ReadMode::kReadIndex);
  // The clock-drift margin of every node's lease (see "Lease reads").
  int lease_drift_ticks() const;
  // Proposes a membership change on node i (see RawNode::propose_conf_change).
  Result<Index> propose_conf_change(int i, const ConfChange& change);
  // Proposes `change` on whichever live node accepts it (retrying refusals such as
  // kConfChangeInProgress and kNotLeader, and proposing again when a leader lost the entry)
  // until some node has applied the entry (so it is committed), or `timeout` passes (then
  // kTimeout). Returns the index of the configuration entry. Other refusals (kNotFound,
  // kStaleConfiguration, kInvalidArgument) are returned at once. A change that changes
  // nothing returns the committed configuration entry's index.
  Result<Index> change_membership(const ConfChange& change, SimTime timeout);
  // The newest configuration node i knows (from its RawNode, or its storage when down).
  pb::Configuration configuration(int i) const;
  // Takes a snapshot of node i's state machine at its applied index now and compacts its log
  // (keeping snapshot_trailing entries); up or down (the state machine is durable).
  // kInvalidArgument if it applied nothing.
  Status snapshot(int i);

  // --- Inspection.
  const SimNode& node(int i) const { return *nodes_[static_cast<std::size_t>(i)]; }
  // Node i's RawNode, or nullptr when it is down.
  RawNode* raw(int i);
  // Memory storage only (SimFailure in disk mode).
  const MemoryStorage& storage(int i) const { return node(i).storage(); }
  // Node i's durable log and hard state, whichever the storage.
  const LogReader& log(int i) const { return node(i).log(); }
  const pb::HardState& hard_state(int i) const { return node(i).hard_state(); }
  // Disk storage only: node i's storage and file system.
  DurableStorage& disk(int i) { return mutable_node(i).disk(); }
  FaultInjectingFileSystem& fs(int i) { return mutable_node(i).fs(); }
  // Whether node i is up, not paused, connected and leader.
  bool is_leader(int i) const;
  // The live (up, not paused), connected leaders.
  std::vector<int> leaders() const;
  // The live, connected leader of the newest term, if any.
  std::optional<int> leader() const;
  const InvariantChecker& invariants() const { return checker_; }

  // --- 6.824 harness checks (throw SimFailure when they fail).
  // Waits (up to 5 s) for a leader among the live connected nodes; returns the one of the
  // newest term.
  int check_one_leader();
  // No live connected node is leader.
  void check_no_leader();
  // All live (up, not paused) connected nodes are in the same term; returns it.
  Term check_terms();
  // How many nodes applied `index`; fails if two applied different entries there.
  Committed n_committed(Index index) const;
  // Proposes `command` on whichever node accepts it until it is applied at one index on at
  // least `expected_servers` nodes; returns that index. Gives up after 10 s (simulated); with
  // retry false, after the first leader that accepted it failed to commit within 2 s.
  Index one(const std::string& command, int expected_servers, bool retry);

  // --- Observation.
  const MessageStats& stats() const { return network_.stats(); }
  void reset_stats() { network_.reset_stats(); }
  std::uint64_t trace_hash() const { return trace_.hash(); }
  std::uint64_t trace_events() const { return trace_.events(); }
  const std::vector<std::string>& trace_lines() const { return trace_.lines(); }
  // Called with every message just before it is handed to its receiver.
  void set_delivery_observer(std::function<void(const pb::Message&)> observer);
  // Called with every committed entry a node applies (ENTRY_NORMAL, ENTRY_NOOP and
  // ENTRY_CONF_CHANGE), in order, at the moment it is applied (after it was appended to
  // node.applied_log()). Entries restored from a snapshot are not applied one by one: the
  // restore observer is called instead.
  void set_apply_observer(std::function<void(int node, const pb::Entry& entry)> observer);
  // Called when node i restarts, once its new RawNode is built and before it handles
  // anything (so before it applies the committed entries it re-reads from storage).
  void set_restart_observer(std::function<void(int node)> observer);
  // Called when node i's state machine was replaced by a snapshot (an InstallSnapshot from
  // the leader, or, in disk mode, the newest snapshot at a reboot after a crash);
  // node(i).applied_log() then holds everything the snapshot covers.
  void set_restore_observer(std::function<void(int node, Index index)> observer);
  // Called with every ReadState node i hands out, when its Ready is taken (before the Ready
  // is persisted or applied).
  void set_read_observer(std::function<void(int node, const ReadState& read)> observer);
  // Throws SimFailure with `what`, the seed, the time and the recent events.
  [[noreturn]] void fail(const std::string& what) const;
  std::string context() const;

 private:
  SimNode& mutable_node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }
  // Builds node i's RawNode; `restarted` calls the restart observer before the first drain.
  void start_node(int i, bool restarted);
  void draw_tick_intervals();
  void schedule_tick(int i, SimTime at);
  void process(Event event);
  // Hands node i a message from `from` (tracing `note`) and drains its Ready.
  void deliver(int to, int from, const pb::Message& message, std::string note = {});
  void drain(int i);
  // The disk write in flight of node i completes: persist, reply, apply, advance, drain.
  void finish_write(int i);
  // Steps 2-4 of the Ready contract: persist, send persisted_messages, apply.
  void complete_write(int i, const Ready& rd, bool from_established_leader);
  // Installs the snapshot node i received (step 2), tells the checker and the observer.
  void install_snapshot(int i, const pb::SnapshotMetadata& metadata);
  // Snapshots node i at its applied index and compacts its log (disk mode with disk delays:
  // the snapshot is written by a later event).
  void take_snapshot(int i);
  // Writes node i's captured snapshot and compacts its log.
  void finish_snapshot(int i);
  // Disk mode: node i loses power (its write in flight, if any, torn or lost) and reboots.
  void crash_disk(int i, const Ready* write);
  struct PendingWrite;
  // Keeps part of node i's lost in-flight write (torn_writes).
  void tear_write(int i, const PendingWrite& write);
  void send(int from, const pb::Message& message);
  void trace_network(const std::string& what);
  std::string group_names(const std::vector<int>& group) const;

  SimOptions options_;
  SimRandom random_;
  SimNetwork network_;
  Trace trace_;
  InvariantChecker checker_;
  EventQueue queue_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  SimTime now_ = 0;
  std::vector<SimTime> tick_intervals_;
  std::function<void(const pb::Message&)> delivery_observer_;
  std::function<void(int, const pb::Entry&)> apply_observer_;
  std::function<void(int)> restart_observer_;
  std::function<void(int, Index)> restore_observer_;
  std::function<void(int, const ReadState&)> read_observer_;
  // A node's Ready whose disk write is in flight (disk_delay_max > 0).
  struct PendingWrite {
    Ready ready;
    bool from_established_leader = false;
    // The write finished while the node was paused; it completes at resume.
    bool due = false;
  };
  std::vector<std::optional<PendingWrite>> pending_writes_;
  // A message that reached a paused node.
  struct Buffered {
    int from = -1;
    pb::Message message;
  };
  // Whether a node is paused, and its socket buffer.
  struct PauseState {
    bool paused = false;
    std::vector<Buffered> buffer;
    int missed_ticks = 0;  // with lease_read: caught up on at resume
  };
  std::vector<PauseState> pause_;
};

}  // namespace raft::sim
