// TestStateMachine: the in-memory key-value state machine of the integration tests. It checks
// the runtime's apply contract as it runs (every committed entry exactly once, in log order,
// with no gap; a restore never goes back), and AppliedHistory checks across all nodes and
// incarnations that no two nodes applied different entries at one index.
//
// Commands are "key=value" (sets key); the response is the entry's index in decimal. It keeps
// nothing across a restart (last_applied() is 0): the runtime restores the newest snapshot and
// replays the log, into a fresh object per incarnation.
//
// Threads: apply(), snapshot() and restore() come from the runtime's apply thread; the views
// (data(), applied_index(), violations()...) may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/state_machine.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft::integration {

using KvMap = std::map<std::string, std::string>;

// "key=value".
std::string set_command(const std::string& key, const std::string& value);
// The i-th key and value that tests write ("k000042", "v42").
std::string test_key(int i);
std::string test_value(int i);

// What every node applied at each index (term and data), shared by a cluster's state
// machines: two different entries at one index break state machine safety.
class AppliedHistory {
 public:
  void record(const NodeId& node, const pb::Entry& entry);
  std::vector<std::string> violations() const;

 private:
  mutable std::mutex mutex_;
  std::map<Index, std::pair<Term, std::string>> entries_;
  std::vector<std::string> violations_;
};

class TestStateMachine final : public StateMachine {
 public:
  // `history` (may be null) is borrowed and must outlive this object.
  TestStateMachine(NodeId node, AppliedHistory* history);

  // --- StateMachine (apply thread)
  std::string apply(const pb::Entry& entry) override;
  Index last_applied() const override { return 0; }
  Result<std::unique_ptr<StateMachineSnapshot>> snapshot() override;
  Status restore(const pb::SnapshotMetadata& metadata, SnapshotSource& source) override;

  // --- Views (any thread)
  // The index of the last entry applied (or restored), 0 for none.
  Index applied_index() const { return applied_index_.load(); }
  KvMap data() const;
  std::optional<std::string> get(const std::string& key) const;
  std::size_t size() const;
  // How many times restore() ran (at start from a snapshot, or installing the leader's).
  int restores() const { return restores_.load(); }
  // Commands (ENTRY_NORMAL entries) applied by this object.
  std::uint64_t commands_applied() const { return commands_applied_.load(); }
  // Makes the snapshots taken from now on fail when written (kIoError from write_to, as a
  // full disk would), or succeed again.
  void set_snapshot_writes_fail(bool fail) { snapshot_writes_fail_ = fail; }
  // The gate of hold_snapshot_writes(), shared with the snapshot views.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool held = false;
  };
  // While held, snapshot writes (write_to, on the snapshot thread) wait until released.
  void hold_snapshot_writes(bool hold);
  // How many times snapshot() ran.
  int snapshots_taken() const { return snapshots_taken_.load(); }
  // Broken apply rules seen so far ("index 7 applied after 9"...), empty when all is well.
  std::vector<std::string> violations() const;

 private:
  void violation(std::string what);

  const NodeId node_;
  AppliedHistory* const history_;
  mutable std::mutex mutex_;  // guards data_ and violations_
  KvMap data_;
  std::vector<std::string> violations_;
  std::atomic<Index> applied_index_{0};
  std::atomic<int> restores_{0};
  std::atomic<int> snapshots_taken_{0};
  std::atomic<bool> snapshot_writes_fail_{false};
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::atomic<std::uint64_t> commands_applied_{0};
};

}  // namespace raft::integration
