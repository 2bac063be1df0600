// SimNode: one simulated server. It owns what survives a crash — its MemoryStorage (the raft
// log and hard state, all of which counts as durable) and its state machine, modelled as the
// list of applied entries (durable too, like kvserver's LevelDB FSM that stores the applied
// index with the data) — and, while it is up, its RawNode (lost on a crash, with every
// unstable entry and all volatile state). A restart builds a new RawNode from the same storage
// with Config::applied = applied_index(), so nothing is applied twice. Owned by SimCluster.
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
  SimNode(NodeId id, const pb::Configuration& configuration);

  const NodeId& id() const { return id_; }
  bool alive() const { return raw_ != nullptr; }
  // Increases on every start, so stale timer events of an earlier life can be told apart.
  std::uint64_t incarnation() const { return incarnation_; }

  // Builds the RawNode from storage; `config.applied` is overridden with applied_index().
  Status start(Config config);
  // Drops the RawNode; storage and the applied entries survive.
  void crash();

  RawNode& raw() { return *raw_; }
  const RawNode& raw() const { return *raw_; }
  MemoryStorage& storage() { return *storage_; }
  const MemoryStorage& storage() const { return *storage_; }

  // Records an applied committed entry (ENTRY_NOOP too: it advances the applied index but is
  // not a command).
  void apply(const pb::Entry& entry) { applied_.push_back(entry); }
  Index applied_index() const { return static_cast<Index>(applied_.size()); }
  // The applied entry at `index`, if applied.
  const pb::Entry* applied_at(Index index) const;
  // The command (ENTRY_NORMAL data) applied at `index`, if any.
  std::optional<std::string> command_at(Index index) const;
  // applied_log()[i - 1] is the entry applied at index i.
  const std::vector<pb::Entry>& applied_log() const { return applied_; }

 private:
  NodeId id_;
  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<RawNode> raw_;
  std::vector<pb::Entry> applied_;
  std::uint64_t incarnation_ = 0;
};

}  // namespace raft::sim
