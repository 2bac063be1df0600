#include "core/unstable.h"

#include <cassert>

namespace raft::core {

std::optional<Index> Unstable::maybe_first_index() const {
  if (snapshot_) return snapshot_->index() + 1;
  return std::nullopt;
}

std::optional<Index> Unstable::maybe_last_index() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->index();
  return std::nullopt;
}

std::optional<Term> Unstable::maybe_term(Index i) const {
  if (snapshot_ && i == snapshot_->index()) return snapshot_->term();
  if (i < offset_ || i - offset_ >= entries_.size()) return std::nullopt;
  return entries_[i - offset_].term();
}

void Unstable::restore(const pb::SnapshotMetadata& metadata) {
  offset_ = metadata.index() + 1;
  entries_.clear();
  snapshot_ = metadata;
}

void Unstable::stable_snapshot_to(Index index) {
  if (snapshot_ && snapshot_->index() == index) snapshot_.reset();
}

void Unstable::truncate_and_append(std::vector<pb::Entry>&& entries) {
  if (entries.empty()) return;
  const Index from = entries.front().index();
  if (from == offset_ + entries_.size()) {
    // Directly after the last unstable entry.
  } else if (from <= offset_) {
    // Replaces all unstable entries and possibly some stable ones: the host's next append
    // starts at `from` and overwrites its suffix.
    offset_ = from;
    entries_.clear();
  } else {
    entries_.resize(from - offset_);
  }
  entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()),
                  std::make_move_iterator(entries.end()));
}

void Unstable::stable_to(Index index, Term term) {
  auto t = maybe_term(index);
  if (!t || *t != term) return;
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(index + 1 - offset_));
  offset_ = index + 1;
}

void Unstable::slice(Index lo, Index hi, std::vector<pb::Entry>* out, std::uint64_t* bytes,
                     std::uint64_t max_bytes) const {
  assert(lo >= offset_ && hi <= offset_ + entries_.size());
  for (Index i = lo; i < hi; ++i) {
    const pb::Entry& e = entries_[i - offset_];
    const std::uint64_t size = e.ByteSizeLong();
    if (!out->empty() && *bytes + size > max_bytes) return;
    *bytes += size;
    out->push_back(e);
  }
}

}  // namespace raft::core
