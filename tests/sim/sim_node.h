// SimNode: one simulated server: its durable storage, its state machine (SimStateMachine)
// and, while it is up, its RawNode (lost on a crash, with every unstable entry and all
// volatile state).
//
// Two storages (SimOptions::storage):
//  - memory: a MemoryStorage (the raft log, hard state and snapshot, all of which counts as
//    durable) and a durable state machine (like kvserver's LevelDB FSM that stores the
//    applied index with the data): a crash keeps both, and a restart builds a new RawNode
//    with Config::applied = the applied index, so nothing is applied twice. The partial
//    snapshot being received is volatile (the core forgets the transfer on restart).
//  - disk: a raft::DurableStorage in directory "/node" of the node's own
//    FaultInjectingFileSystem, so crashes exercise the real recovery code. The state machine
//    is volatile: a crash loses it, the file system loses power (crash_storage()), and the
//    node reboots at once (reopen_storage(): recovery, then the state machine restored from
//    the newest snapshot, or empty); a restart then builds the RawNode from what recovered
//    and replays the log after the snapshot. The durable hard state is tracked as persist()
//    was given it (DurableStorage saves the commit index only with term/vote changes: after
//    a reboot it is what recovery reports).
//
// Snapshots go through the StateMachine interface (snapshot(), write_to(), restore()). In disk
// mode a snapshot the node takes may be written at a later event than snapshot()
// (begin_snapshot() / finish_snapshot()), while the node keeps applying.
//
// Owned by SimCluster; called from the simulator's one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.h"
#include "raft/durable_storage.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"
#include "sim/invariant_checker.h"
#include "sim/sim_state_machine.h"
#include "storage/fault_injecting_file_system.h"

namespace raft::sim {

enum class StorageKind { kMemory, kDisk };

class SimNode {
 public:
  // `configuration`: the initial configuration (empty for a server that waits to be added:
  // its storage then holds no configuration at all). Memory storage: the configuration is
  // the storage's base configuration. Disk storage: the storage is bootstrapped with it
  // (entry 1); `fs_seed` seeds the file system's torn tails.
  SimNode(NodeId id, const pb::Configuration& configuration, StorageKind kind,
          std::uint64_t fs_seed, DurableStorage::Options disk_options = {});
  ~SimNode();

  const NodeId& id() const { return id_; }
  StorageKind storage_kind() const { return kind_; }
  bool alive() const { return raw_ != nullptr; }
  // Increases on every start, so stale timer events of an earlier life can be told apart.
  std::uint64_t incarnation() const { return incarnation_; }

  // Builds the RawNode from storage; `config.applied` is overridden with applied_index().
  Status start(Config config);
  // Drops the RawNode, the partial snapshot being received and a snapshot being written;
  // memory storage and the state machine survive (disk: see crash_storage()).
  void crash();

  RawNode& raw() { return *raw_; }
  const RawNode& raw() const { return *raw_; }
  // The durable log, whichever the storage.
  const LogReader& log() const;
  // The durable hard state (disk: as last handed to persist(), or as recovered).
  const pb::HardState& hard_state() const;
  DurableView durable() const { return DurableView(log(), hard_state()); }
  // Index of the newest snapshot (0 when none).
  Index snapshot_index() const;
  // Memory storage only (throws SimFailure in disk mode).
  MemoryStorage& storage();
  const MemoryStorage& storage() const;
  // Disk storage only.
  DurableStorage& disk() { return *disk_; }
  FaultInjectingFileSystem& fs() { return *fs_; }

  // --- Disk storage: step 2 of a Ready through DurableStorage::persist (tracks the hard state).
  Status persist(const Ready& rd);
  // Power loss: the file system crashes (`mode`), the DurableStorage object is dropped
  // without running anything, the state machine is lost. If `write` is set, it is in flight:
  // it runs with a crash scheduled at its `crash_at`th file operation (a real torn write).
  void crash_storage(FaultInjectingFileSystem::CrashMode mode, const Ready* write,
                     std::uint64_t crash_at);
  // The reboot after crash_storage(): reopens the storage (recovery) and restores the state
  // machine from the newest snapshot.
  Status reopen_storage();

  // --- The state machine.
  SimStateMachine& state_machine() { return state_machine_; }
  const SimStateMachine& state_machine() const { return state_machine_; }
  // Applies a committed entry (ENTRY_NOOP and ENTRY_CONF_CHANGE too: they advance the
  // applied index; a configuration entry also becomes applied_configuration()).
  void apply(const pb::Entry& entry) { state_machine_.apply(entry); }
  Index applied_index() const { return state_machine_.last_applied(); }
  const pb::Entry* applied_at(Index index) const { return state_machine_.applied_at(index); }
  // The command (ENTRY_NORMAL data) applied at `index`, if any.
  std::optional<std::string> command_at(Index index) const;
  const std::vector<pb::Entry>& applied_log() const { return state_machine_.applied_log(); }
  const pb::Configuration& applied_configuration() const {
    return state_machine_.applied_configuration();
  }

  // --- Snapshots.
  // Captures the state machine at applied_index() (snapshot()) to be written by
  // finish_snapshot(); false (nothing to do) if a snapshot is being written already or the
  // newest one is at applied_index().
  bool begin_snapshot();
  // Whether a snapshot captured by begin_snapshot() waits to be written, and its index.
  bool snapshot_in_flight() const { return pending_snapshot_ != nullptr; }
  Index snapshot_in_flight_index() const;
  // Writes the captured snapshot (write_to()) into storage and compacts the log up to its
  // index - trailing (when that is above the current compaction point).
  Status finish_snapshot(Index trailing);
  // Memory storage: writes one chunk of a snapshot received from the leader
  // (Ready::snapshot_chunks): offset 0 starts a new partial snapshot, any other must
  // continue the current one.
  Status write_snapshot_chunk(const SnapshotChunk& chunk);
  // Installs the received snapshot described by `metadata` (Ready::snapshot) and restores the
  // state machine from it. Memory: the storage resets to the partial snapshot. Disk:
  // persist() installed it already; the state machine is read from the newest snapshot.
  Status install_snapshot(const pb::SnapshotMetadata& metadata);
  // Bytes of the snapshot being received (0 when none; memory storage).
  std::size_t partial_snapshot_size() const { return partial_data_.size(); }

 private:
  struct PendingSnapshot;
  Status restore_from_newest_snapshot();

  NodeId id_;
  StorageKind kind_;
  pb::Configuration initial_configuration_;
  // Memory storage.
  std::unique_ptr<MemoryStorage> storage_;
  // Disk storage (the file system outlives the storage).
  std::unique_ptr<FaultInjectingFileSystem> fs_;
  std::unique_ptr<DurableStorage> disk_;
  DurableStorage::Options disk_options_;
  pb::HardState disk_hard_state_;
  Index disk_snapshot_index_ = 0;
  std::unique_ptr<RawNode> raw_;
  SimStateMachine state_machine_;
  std::uint64_t incarnation_ = 0;
  // The snapshot being received (volatile: lost on a crash; memory storage).
  std::optional<pb::SnapshotMetadata> partial_metadata_;
  std::string partial_data_;
  std::unique_ptr<PendingSnapshot> pending_snapshot_;
};

}  // namespace raft::sim
