// SimNode: one simulated server. It owns what survives a crash — its MemoryStorage (the raft
// log, hard state and snapshot, all of which counts as durable) and its state machine,
// modelled as the list of applied entries (durable too, like kvserver's LevelDB FSM that
// stores the applied index with the data) — and, while it is up, its RawNode (lost on a
// crash, with every unstable entry and all volatile state) and the partial snapshot it is
// receiving (lost too: the core forgets the transfer on restart). A restart builds a new
// RawNode from the same storage with Config::applied = applied_index(), so nothing is
// applied twice.
//
// Snapshots: the data of a snapshot at index i is every entry applied up to i (encoded as the
// entries of a pb::Message, a ready-made container), so a node restored from one has its
// whole applied_log() again and the harness checks (n_committed, one(), state-machine safety)
// keep their meaning whether a node applied entries one by one or got them in a snapshot.
// The node tracks the configuration applied so far (the initial one, then each committed
// ENTRY_CONF_CHANGE), which a snapshot records. Owned by SimCluster.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace raft::sim {

class SimNode {
 public:
  // `configuration`: the initial configuration (empty for a server that waits to be added:
  // its storage then holds no configuration at all).
  SimNode(NodeId id, const pb::Configuration& configuration);

  const NodeId& id() const { return id_; }
  bool alive() const { return raw_ != nullptr; }
  // Increases on every start, so stale timer events of an earlier life can be told apart.
  std::uint64_t incarnation() const { return incarnation_; }

  // Builds the RawNode from storage; `config.applied` is overridden with applied_index().
  Status start(Config config);
  // Drops the RawNode and the partial snapshot being received; storage and the applied
  // entries survive.
  void crash();

  RawNode& raw() { return *raw_; }
  const RawNode& raw() const { return *raw_; }
  MemoryStorage& storage() { return *storage_; }
  const MemoryStorage& storage() const { return *storage_; }

  // Records an applied committed entry (ENTRY_NOOP and ENTRY_CONF_CHANGE too: they advance
  // the applied index; a configuration entry also becomes applied_configuration()).
  void apply(const pb::Entry& entry);
  Index applied_index() const { return static_cast<Index>(applied_.size()); }
  // The applied entry at `index`, if applied.
  const pb::Entry* applied_at(Index index) const;
  // The command (ENTRY_NORMAL data) applied at `index`, if any.
  std::optional<std::string> command_at(Index index) const;
  // applied_log()[i - 1] is the entry applied at index i.
  const std::vector<pb::Entry>& applied_log() const { return applied_; }
  // The configuration of the last configuration entry applied (or restored from a
  // snapshot), or the initial one.
  const pb::Configuration& applied_configuration() const { return applied_configuration_; }

  // Snapshots the state machine at applied_index() into storage and compacts the log up to
  // applied_index() - trailing (when that is above the current compaction point).
  Status take_snapshot(Index trailing);
  // Writes one chunk of a snapshot received from the leader (Ready::snapshot_chunks): offset
  // 0 starts a new partial snapshot, any other must continue the current one.
  Status write_snapshot_chunk(const SnapshotChunk& chunk);
  // Installs the completed partial snapshot described by `metadata` (Ready::snapshot): the
  // storage resets to it and the state machine is replaced by its entries.
  Status install_snapshot(const pb::SnapshotMetadata& metadata);
  // Bytes of the snapshot being received (0 when none).
  std::size_t partial_snapshot_size() const { return partial_data_.size(); }

  // The snapshot data format: the entries applied at 1..n, in order.
  static std::string encode_entries(const std::vector<pb::Entry>& entries);
  static Result<std::vector<pb::Entry>> decode_entries(const std::string& data);

 private:
  NodeId id_;
  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<RawNode> raw_;
  std::vector<pb::Entry> applied_;
  pb::Configuration applied_configuration_;
  std::uint64_t incarnation_ = 0;
  // The snapshot being received (volatile: lost on a crash).
  std::optional<pb::SnapshotMetadata> partial_metadata_;
  std::string partial_data_;
};

}  // namespace raft::sim
