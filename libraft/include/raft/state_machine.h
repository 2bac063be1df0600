// StateMachine: the application that the replicated log drives (kvserver's LevelDB store, a
// test's map...), and how its snapshots are written and read back as streams.
//
// The host (the runtime, or the simulator) owns the state machine and calls it from one
// apply thread, in log order: apply() for every committed entry exactly once, never again
// after a restart for an index at or below last_applied(). snapshot() runs on that thread
// too, but only captures a point-in-time view (a LevelDB snapshot, a copy-on-write
// reference...) and returns at once; the returned StateMachineSnapshot then writes that view
// out on any other thread while apply() carries on — no stop-the-world for a large state.
// restore() replaces the whole state with a snapshot's, on the apply thread, when the node
// installs a snapshot from its leader or starts from one.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// Where a snapshot's bytes go, in order (a SnapshotWriter of the snapshot store, a socket, a
// string in a test). Used by one thread at a time.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual Status write(std::string_view chunk) = 0;
};

// Where a snapshot's bytes come from, in order. Used by one thread at a time.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Reads the next bytes, at most max_bytes, into *out; *out is empty at the end.
  virtual Status read(std::size_t max_bytes, std::string* out) = 0;
};

// A point-in-time view of a state machine, taken by StateMachine::snapshot(). Owned by the
// caller; may be used from any one thread; must stay valid while the state machine applies
// more entries.
class StateMachineSnapshot {
 public:
  virtual ~StateMachineSnapshot() = default;
  // Writes the view, streaming (never one big string for a large state).
  virtual Status write_to(SnapshotSink& sink) = 0;
};

// The most entries the runtime hands to one StateMachine::apply_batch() call.
inline constexpr std::size_t kMaxApplyBatch = 1024;

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies the committed entry at entry.index(). ENTRY_NORMAL entries are commands; the
  // others (no-ops, configurations) only advance the applied index. Returns the response
  // that the proposer's future receives (empty for non-commands).
  virtual std::string apply(const pb::Entry& entry) = 0;
  // Applies consecutive committed entries (entries[k].index() == entries[0].index() + k), in
  // order, and returns one response per entry, exactly as apply() would for each. The runtime
  // calls this with everything committed at once (at most kMaxApplyBatch entries); the
  // default calls apply() for each entry. Override it when a batch is cheaper than its
  // entries one by one (kvserver writes one LevelDB batch and one log record for all).
  virtual std::vector<std::string> apply_batch(const std::vector<pb::Entry>& entries) {
    std::vector<std::string> responses;
    responses.reserve(entries.size());
    for (const pb::Entry& entry : entries) responses.push_back(apply(entry));
    return responses;
  }
  // The index of the last entry whose effects the state machine keeps across a restart (0
  // for one that keeps nothing: the host then replays the log from the newest snapshot).
  virtual Index last_applied() const = 0;
  // Captures the state as of the last applied entry (see above).
  virtual Result<std::unique_ptr<StateMachineSnapshot>> snapshot() = 0;
  // Replaces every bit of state with the snapshot's, which covers the log up to
  // metadata.index(); afterwards last_applied() == metadata.index().
  virtual Status restore(const pb::SnapshotMetadata& metadata, SnapshotSource& source) = 0;
};

}  // namespace raft
