// SimStateMachine: the simulator's state machine, a raft::StateMachine that records every
// committed entry it applies (ENTRY_NORMAL, ENTRY_NOOP and ENTRY_CONF_CHANGE), so that the
// harness checks (n_committed, one(), state-machine safety) can compare what each node
// applied at each index. It also tracks the configuration of the last configuration entry
// applied, which a snapshot records.
//
// Snapshots: the data of a snapshot at index i is every entry applied up to i, encoded as the
// `entries` of a pb::Message (a ready-made container). snapshot() captures a point-in-time
// view cheaply — a shared, immutable copy of the applied entries — and returns at once; the
// view's write_to() may run later (the simulator completes it after a simulated disk delay)
// while apply() goes on: entries applied after snapshot() are not in the view. write_to()
// streams the view in chunks of whole entries (each chunk is itself a serialized container
// of its entries, and concatenated containers parse as one, so the bytes are exactly
// encode_entries() of the view). restore() reads a snapshot back from a SnapshotSource.
//
// Owned by SimNode; called from the simulator's one thread. A view returned by snapshot()
// owns its data and outlives the state machine if need be.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/state_machine.h"

namespace raft::sim {

class SimStateMachine final : public StateMachine {
 public:
  // `configuration`: the configuration in force before any configuration entry is applied.
  explicit SimStateMachine(pb::Configuration configuration = {});

  // --- raft::StateMachine
  std::string apply(const pb::Entry& entry) override;
  Index last_applied() const override { return static_cast<Index>(applied_->size()); }
  Result<std::unique_ptr<StateMachineSnapshot>> snapshot() override;
  Status restore(const pb::SnapshotMetadata& metadata, SnapshotSource& source) override;

  // Forgets everything applied (a volatile state machine after a crash): back to nothing
  // applied and `configuration`.
  void reset(pb::Configuration configuration);

  // The applied entry at `index`, if applied.
  const pb::Entry* applied_at(Index index) const;
  // applied_log()[i - 1] is the entry applied at index i.
  const std::vector<pb::Entry>& applied_log() const { return *applied_; }
  // The configuration of the last configuration entry applied (or restored from a
  // snapshot), or the initial one.
  const pb::Configuration& applied_configuration() const { return configuration_; }

  // The snapshot data format: the entries applied at 1..n, in order.
  static std::string encode_entries(const std::vector<pb::Entry>& entries);
  static Result<std::vector<pb::Entry>> decode_entries(const std::string& data);
  // The most bytes write_to() hands a sink at once (a chunk may exceed it by one entry).
  static constexpr std::size_t kWriteChunkBytes = 4096;

 private:
  // Shared with the views snapshot() hands out: replaced (never modified) once a view holds
  // it, so a view never sees later applies.
  std::shared_ptr<std::vector<pb::Entry>> applied_;
  pb::Configuration configuration_;
};

}  // namespace raft::sim
