// RaftLog: the core's view of the log — durable entries read through the host's LogReader
// plus the Unstable entries not yet persisted — with the commit and applied indexes.
// Owned by Consensus; single-threaded.
#pragma once

#include <optional>
#include <vector>

#include "core/unstable.h"
#include "raft/log_storage.h"
#include "raft/status.h"

namespace raft::core {

class RaftLog {
 public:
  RaftLog(const LogReader* storage, Index committed, Index applied);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const { return term_or_zero(last_index()); }
  // Term of entry i, or an error (kCompacted / kUnavailable).
  Result<Term> term(Index i) const;
  // Term of entry i, or 0 when it is not in the log.
  Term term_or_zero(Index i) const;
  bool match_term(Index i, Term t) const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  const Unstable& unstable() const { return unstable_; }

  struct Appended {
    Index last_new = 0;  // index of the last entry of the message
    Index conflict = 0;  // first index written (the log was replaced from there); 0: none
  };
  // Follower side of AppendEntries: if the entry at `prev` has `prev_term`, appends
  // `entries` (skipping those already present, truncating at the first conflict), advances
  // commit to min(leader_commit, last new index) and says what changed.
  std::optional<Appended> maybe_append(Index prev, Term prev_term, Index leader_commit,
                                       std::vector<pb::Entry>&& entries);
  // Leader side: appends entries at the end; returns the new last index.
  Index append(std::vector<pb::Entry>&& entries);

  // Largest index <= index whose term is <= term (the conflict hint search).
  Index find_conflict_by_term(Index index, Term term) const;
  // Whether a candidate with this last entry is at least as up to date as this log.
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Commits up to `index` if it is above the commit index and has term `term`.
  bool maybe_commit(Index index, Term term);
  void commit_to(Index index);
  void applied_to(Index index);
  void stable_to(Index index, Term term) { unstable_.stable_to(index, term); }
  // Replaces the log with a snapshot received from the leader: everything up to its index is
  // committed and (once the host installs it) applied.
  void restore(const pb::SnapshotMetadata& metadata);
  void stable_snapshot_to(Index index) { unstable_.stable_snapshot_to(index); }
  const LogReader* storage() const { return storage_; }
  // Index of the last entry known to be durable on this node.
  Index last_persisted_index() const;

  // Entries in [lo, hi) up to max_bytes (at least one).
  Result<std::vector<pb::Entry>> slice(Index lo, Index hi, std::uint64_t max_bytes) const;
  // Committed entries not yet handed to the state machine, up to max_bytes.
  std::vector<pb::Entry> next_committed_entries(std::uint64_t max_bytes) const;
  bool has_next_committed_entries() const { return committed_ > applied_; }

 private:
  // Index of the first entry in `entries` that is not already in the log with the same
  // term, or 0 if all of them are.
  Index find_conflict(const std::vector<pb::Entry>& entries) const;

  const LogReader* storage_;
  Unstable unstable_;
  Index committed_;
  Index applied_;
};

}  // namespace raft::core
