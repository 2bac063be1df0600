// Unstable: log entries the core has appended but the host has not yet made durable.
// Owned by RaftLog; single-threaded like the rest of the core.
#pragma once

#include <optional>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace raft::core {

class Unstable {
 public:
  explicit Unstable(Index offset) : offset_(offset) {}

  // Index of the first unstable entry (= last stable index + 1).
  Index offset() const { return offset_; }
  const std::vector<pb::Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  // A snapshot received from the leader and not yet installed by the host, if any.
  const std::optional<pb::SnapshotMetadata>& snapshot() const { return snapshot_; }

  std::optional<Index> maybe_first_index() const;
  std::optional<Index> maybe_last_index() const;
  std::optional<Term> maybe_term(Index i) const;

  // Replaces everything with a snapshot: the log restarts after metadata.index().
  void restore(const pb::SnapshotMetadata& metadata);
  // The host installed the snapshot at `index`.
  void stable_snapshot_to(Index index);

  // Appends entries that start at some index <= last + 1, replacing any conflicting suffix
  // (which may reach back into stable entries: then the offset moves back).
  // The entries are moved in.
  void truncate_and_append(std::vector<pb::Entry>&& entries);
  // The host made entries up to (index, term) durable. Ignored if the entry at `index` no
  // longer has `term` (it was replaced after the Ready was handed out).
  void stable_to(Index index, Term term);
  // Entries in [lo, hi); lo >= offset, hi <= last + 1.
  void slice(Index lo, Index hi, std::vector<pb::Entry>* out, std::uint64_t* bytes,
             std::uint64_t max_bytes) const;

 private:
  Index offset_;
  std::vector<pb::Entry> entries_;
  std::optional<pb::SnapshotMetadata> snapshot_;
};

}  // namespace raft::core
