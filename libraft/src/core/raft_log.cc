#include "core/raft_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace raft::core {

RaftLog::RaftLog(const LogReader* storage, Index committed, Index applied)
    : storage_(storage),
      unstable_(storage->last_index() + 1),
      committed_(committed),
      applied_(applied) {}

Index RaftLog::first_index() const {
  if (auto i = unstable_.maybe_first_index()) return *i;
  return storage_->first_index();
}

Index RaftLog::last_index() const {
  if (auto i = unstable_.maybe_last_index()) return *i;
  return storage_->last_index();
}

Index RaftLog::last_persisted_index() const {
  // A received snapshot is not durable until the host installed it.
  if (unstable_.snapshot()) return 0;
  return unstable_.offset() - 1;
}

void RaftLog::restore(const pb::SnapshotMetadata& metadata) {
  unstable_.restore(metadata);
  committed_ = metadata.index();
  // The host restores the state machine from the snapshot before it applies anything else.
  applied_ = metadata.index();
}

Result<Term> RaftLog::term(Index i) const {
  if (auto t = unstable_.maybe_term(i)) return *t;
  if (i >= unstable_.offset()) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("index {} is past the last index {}", i, last_index()));
  }
  if (unstable_.snapshot()) {
    return Status(ErrorCode::kCompacted, fmt::format("index {} is covered by the snapshot at {}", i,
                                                     unstable_.snapshot()->index()));
  }
  return storage_->term(i);
}

Term RaftLog::term_or_zero(Index i) const {
  auto t = term(i);
  return t.ok() ? *t : 0;
}

bool RaftLog::match_term(Index i, Term t) const {
  auto got = term(i);
  return got.ok() && *got == t;
}

Index RaftLog::find_conflict(const std::vector<pb::Entry>& entries) const {
  for (const auto& e : entries) {
    if (!match_term(e.index(), e.term())) return e.index();
  }
  return 0;
}

std::optional<RaftLog::Appended> RaftLog::maybe_append(Index prev, Term prev_term,
                                                       Index leader_commit,
                                                       std::vector<pb::Entry>&& entries) {
  if (!match_term(prev, prev_term)) return std::nullopt;
  const Index last_new = prev + entries.size();
  const Index conflict = find_conflict(entries);
  if (conflict != 0) {
    // A conflict at or below the commit index would mean two different committed entries:
    // the leader is broken. Refuse rather than corrupt the log.
    if (conflict <= committed_) {
      throw std::logic_error(
          fmt::format("entry {} conflicts with committed entry (commit {})", conflict, committed_));
    }
    // Only the entries from the conflict on are new; they are moved into the log.
    entries.erase(entries.begin(),
                  entries.begin() + static_cast<std::ptrdiff_t>(conflict - prev - 1));
    unstable_.truncate_and_append(std::move(entries));
  }
  commit_to(std::min(leader_commit, last_new));
  return Appended{last_new, conflict};
}

Index RaftLog::append(std::vector<pb::Entry>&& entries) {
  if (!entries.empty()) unstable_.truncate_and_append(std::move(entries));
  return last_index();
}

Index RaftLog::find_conflict_by_term(Index index, Term term) const {
  for (;;) {
    auto t = this->term(index);
    if (!t.ok() || *t <= term || index == 0) return index;
    --index;
  }
}

bool RaftLog::is_up_to_date(Index last, Term last_t) const {
  const Term my_term = last_term();
  return last_t > my_term || (last_t == my_term && last >= last_index());
}

bool RaftLog::maybe_commit(Index index, Term t) {
  if (index > committed_ && term_or_zero(index) == t) {
    commit_to(index);
    return true;
  }
  return false;
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;
  if (index > last_index()) {
    throw std::logic_error(
        fmt::format("commit index {} is past the last index {}", index, last_index()));
  }
  committed_ = index;
}

void RaftLog::applied_to(Index index) {
  if (index == 0 || index <= applied_) return;
  assert(index <= committed_);
  applied_ = index;
}

Result<std::vector<pb::Entry>> RaftLog::slice(Index lo, Index hi, std::uint64_t max_bytes) const {
  std::vector<pb::Entry> out;
  if (lo >= hi) return out;
  if (lo < first_index()) {
    return Status(ErrorCode::kCompacted, fmt::format("index {} is compacted", lo));
  }
  if (hi > last_index() + 1) {
    return Status(ErrorCode::kUnavailable, fmt::format("index {} is past the last index", hi - 1));
  }
  std::uint64_t bytes = 0;
  const Index split = unstable_.offset();
  if (lo < split) {
    auto stored = storage_->entries(lo, std::min(hi, split), max_bytes);
    if (!stored.ok()) return stored.status();
    for (auto& e : *stored) bytes += e.ByteSizeLong();
    out = std::move(*stored);
    // Storage stopped early because of the size limit: do not continue into unstable.
    if (out.size() < std::min(hi, split) - lo) return out;
  }
  if (hi > split) unstable_.slice(std::max(lo, split), hi, &out, &bytes, max_bytes);
  return out;
}

std::vector<pb::Entry> RaftLog::next_committed_entries(std::uint64_t max_bytes) const {
  if (committed_ <= applied_) return {};
  auto entries = slice(applied_ + 1, committed_ + 1, max_bytes);
  if (!entries.ok()) {
    throw std::logic_error("cannot read committed entries: " + entries.status().to_string());
  }
  return std::move(*entries);
}

}  // namespace raft::core
