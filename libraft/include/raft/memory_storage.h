// MemoryStorage: a LogReader kept in memory, with the writes a host performs on a Ready.
//
// Used by tests, the simulator and hosts that keep their log elsewhere. Everything written
// here counts as durable: a simulated crash drops the RawNode (and its unstable entries) and
// keeps the MemoryStorage. Not thread-safe: one thread at a time.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/log_storage.h"

namespace raft {

class MemoryStorage final : public LogReader {
 public:
  MemoryStorage();

  Result<InitialState> initial_state() const override;
  Result<std::vector<pb::Entry>> entries(Index lo, Index hi,
                                         std::uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<pb::SnapshotMetadata> snapshot_metadata() const override;
  Result<std::string> read_snapshot(const pb::SnapshotMetadata& metadata, std::uint64_t offset,
                                    std::uint64_t max_bytes) const override;

  // Appends entries; entries must be contiguous and may start at any index in
  // [first_index(), last_index() + 1]: an overlapping suffix is replaced (truncate on
  // conflict). Entries wholly below first_index() are ignored.
  Status append(const std::vector<pb::Entry>& entries);
  // The same, taking the entries' payloads instead of copying them.
  Status append(std::vector<pb::Entry>&& entries);
  void set_hard_state(const pb::HardState& hard_state);
  const pb::HardState& hard_state() const { return hard_state_; }
  // The base configuration: in force before any configuration entry of the log (a node that
  // keeps its configuration outside the log, or a test). See bootstrap() for the usual way.
  void set_configuration(const pb::Configuration& configuration);
  const pb::Configuration& configuration() const { return configuration_; }
  // Bootstraps a founding server: hard state term 1 and the configuration as entry 1
  // (configuration.h). kAlreadyExists if this storage holds any state.
  Status bootstrap(const pb::Configuration& configuration);

  // Records a snapshot of the state machine at `index` (first_index() - 1 <= index <=
  // last_index()) whose configuration is `configuration`; replaces the previous snapshot.
  // Does not compact: call compact() (at or below `index`) after it.
  Status create_snapshot(Index index, const pb::Configuration& configuration, std::string data);
  // Installs a snapshot received from a leader (Ready::snapshot): every entry is dropped and
  // the log restarts after metadata.index().
  void apply_snapshot(const pb::SnapshotMetadata& metadata, std::string data);
  // The newest snapshot (index 0 when none) and its data.
  const pb::SnapshotMetadata& snapshot() const { return snapshot_; }
  const std::string& snapshot_data() const { return snapshot_data_; }
  // Drops entries up to and including `index` (which must be <= last_index()); term(index)
  // stays answerable.
  Status compact(Index index);

 private:
  pb::HardState hard_state_;
  pb::Configuration configuration_;
  pb::SnapshotMetadata snapshot_;
  std::string snapshot_data_;
  // The snapshot a transfer to a follower last read. A transfer in progress keeps reading it
  // after a newer snapshot replaced it (as a file a reader holds open survives its removal),
  // so a leader that snapshots often does not restart every transfer from zero.
  struct Sending {
    pb::SnapshotMetadata metadata;
    std::shared_ptr<const std::string> data;
  };
  mutable std::optional<Sending> sending_;
  // entries_[0] is a dummy holding the index and term of the entry before the first one.
  std::deque<pb::Entry> entries_;
};

}  // namespace raft
