// LogReader: the read-only view of durable raft state that the consensus core consults.
//
// The core never writes storage: it hands the host what to write in a Ready, the host makes it
// durable and then calls RawNode::advance(). An implementation is owned by the host; the core
// keeps a pointer to it and calls it only from the thread that drives the RawNode, so an
// implementation needs no locking of its own for the core (the host may need some for its own
// writers).
#pragma once

#include <cstdint>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// What a node starts from: the durable hard state and the configuration in force at
// first_index() - 1 (the latest snapshot's, or a base configuration of a node that keeps its
// configuration outside the log). Configuration entries in the log after it override it:
// the core reads them at start.
struct InitialState {
  pb::HardState hard_state;
  pb::Configuration configuration;
};

class LogReader {
 public:
  virtual ~LogReader() = default;

  virtual Result<InitialState> initial_state() const = 0;
  // Entries with indexes in [lo, hi), in order. Returns at least one entry when lo < hi, and
  // stops before the total of Entry::ByteSizeLong() would exceed max_bytes.
  // kCompacted if lo < first_index(); kUnavailable if hi > last_index() + 1.
  virtual Result<std::vector<pb::Entry>> entries(Index lo, Index hi,
                                                 std::uint64_t max_bytes) const = 0;
  // Term of the entry at i, for first_index() - 1 <= i <= last_index() (first_index() - 1 is
  // the last entry covered by the latest snapshot, or 0 with term 0 for an empty log).
  // kCompacted below that range, kUnavailable above it.
  virtual Result<Term> term(Index i) const = 0;
  // Index of the first entry still present (snapshot index + 1; 1 for a fresh log).
  virtual Index first_index() const = 0;
  // Index of the last entry (the snapshot index when the log holds no entry after it).
  virtual Index last_index() const = 0;

  // Snapshots, read by a leader that must send one to a follower whose next entry was
  // compacted. The default implementations hold none (kUnavailable): such a leader can only
  // replicate what its log still has.
  //
  // The newest complete snapshot's metadata (its index is at least first_index() - 1 once the
  // log was compacted after it).
  virtual Result<pb::SnapshotMetadata> snapshot_metadata() const;
  // Up to max_bytes (at least 1 unless at the end) of the data of the snapshot at
  // `metadata.index()`/`metadata.term()`, from byte `offset`. kNotFound if that snapshot is
  // gone (a newer one replaced it: the leader then starts over with the newest); an
  // implementation may keep serving a transfer in progress from a snapshot it replaced.
  virtual Result<std::string> read_snapshot(const pb::SnapshotMetadata& metadata,
                                            std::uint64_t offset, std::uint64_t max_bytes) const;

 protected:
  // The errors entries() must return for a range outside [first_index(), last_index() + 1),
  // or ok: one definition of the contract for every implementation.
  Status check_entries_range(Index lo, Index hi) const;
  // Checks a batch a host appends (Ready::entries): contiguous, starting at most one past
  // last_index(). Returns how many leading entries lie below first_index() (already
  // compacted: the store ignores them), or kInvalidArgument for a gap, a hole or an index
  // past kMaxIndex.
  Result<std::size_t> check_append(const std::vector<pb::Entry>& entries) const;
};

}  // namespace raft
