#include "raft/memory_storage.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "raft/configuration.h"

namespace raft {

MemoryStorage::MemoryStorage() { entries_.emplace_back(); }  // dummy: index 0, term 0

Result<InitialState> MemoryStorage::initial_state() const {
  // The snapshot's configuration is in force at its index; configuration entries of the log
  // after the compaction point (which the core reads at start) override it.
  if (snapshot_.index() > 0) return InitialState{hard_state_, snapshot_.configuration()};
  return InitialState{hard_state_, configuration_};
}

Index MemoryStorage::first_index() const { return entries_.front().index() + 1; }

Index MemoryStorage::last_index() const { return entries_.front().index() + entries_.size() - 1; }

Result<Term> MemoryStorage::term(Index i) const {
  const Index offset = entries_.front().index();
  if (i < offset) {
    return Status(ErrorCode::kCompacted,
                  fmt::format("index {} is compacted (first index {})", i, offset + 1));
  }
  if (i - offset >= entries_.size()) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("index {} is past the last index {}", i, last_index()));
  }
  return entries_[i - offset].term();
}

Result<std::vector<pb::Entry>> MemoryStorage::entries(Index lo, Index hi,
                                                      std::uint64_t max_bytes) const {
  if (Status s = check_entries_range(lo, hi); !s.ok()) return s;
  std::vector<pb::Entry> out;
  out.reserve(static_cast<std::size_t>(std::min<Index>(hi - lo, 4096)));
  const Index offset = entries_.front().index();
  std::uint64_t size = 0;
  for (Index i = lo; i < hi; ++i) {
    const pb::Entry& e = entries_[i - offset];
    size += e.ByteSizeLong();
    if (!out.empty() && size > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Status MemoryStorage::append(std::vector<pb::Entry>&& entries) {
  if (entries.empty()) return {};
  const Index offset = entries_.front().index();
  auto checked = check_append(entries);
  if (!checked.ok()) return checked.status();
  const std::size_t skip = *checked;
  if (skip == entries.size()) return {};
  entries_.resize(entries[skip].index() - offset);  // drop the conflicting suffix, if any
  entries_.insert(entries_.end(),
                  std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(skip)),
                  std::make_move_iterator(entries.end()));
  return {};
}

Status MemoryStorage::append(const std::vector<pb::Entry>& entries) {
  return append(std::vector<pb::Entry>(entries));
}

void MemoryStorage::set_hard_state(const pb::HardState& hard_state) { hard_state_ = hard_state; }

Status MemoryStorage::bootstrap(const pb::Configuration& configuration) {
  if (hard_state_.term() != 0 || last_index() != 0 || snapshot_.index() != 0 ||
      configuration_.servers_size() != 0) {
    return Status(ErrorCode::kAlreadyExists, "cannot bootstrap: the storage already has state");
  }
  auto entry = make_bootstrap_entry(configuration);
  if (!entry.ok()) return entry.status();
  if (Status s = append({*entry}); !s.ok()) return s;
  hard_state_.set_term(1);
  return {};
}

Status MemoryStorage::create_snapshot(Index index, const pb::Configuration& configuration,
                                      std::string data) {
  if (index + 1 < first_index() || index > last_index()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("snapshot index {} is outside [{}, {}]",
                                                           index, first_index() - 1, last_index()));
  }
  if (index < snapshot_.index()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("snapshot index {} is older than the snapshot at {}", index,
                              snapshot_.index()));
  }
  snapshot_.set_index(index);
  snapshot_.set_term(term(index).value());
  *snapshot_.mutable_configuration() = configuration;
  snapshot_.set_size(data.size());
  snapshot_data_ = std::move(data);
  return {};
}

void MemoryStorage::apply_snapshot(const pb::SnapshotMetadata& metadata, std::string data) {
  snapshot_ = metadata;
  snapshot_.set_size(data.size());
  snapshot_data_ = std::move(data);
  entries_.clear();
  pb::Entry dummy;
  dummy.set_index(metadata.index());
  dummy.set_term(metadata.term());
  entries_.push_back(std::move(dummy));
  if (hard_state_.commit() < metadata.index()) hard_state_.set_commit(metadata.index());
}

Result<pb::SnapshotMetadata> MemoryStorage::snapshot_metadata() const {
  if (snapshot_.index() == 0) return Status(ErrorCode::kUnavailable, "no snapshot yet");
  return snapshot_;
}

Result<std::string> MemoryStorage::read_snapshot(const pb::SnapshotMetadata& metadata,
                                                 std::uint64_t offset,
                                                 std::uint64_t max_bytes) const {
  const bool current = snapshot_.index() != 0 && metadata.index() == snapshot_.index() &&
                       metadata.term() == snapshot_.term();
  const bool in_transfer = sending_ && metadata.index() == sending_->metadata.index() &&
                           metadata.term() == sending_->metadata.term();
  if (!current && !in_transfer) {
    return Status(ErrorCode::kNotFound,
                  fmt::format("snapshot {}@{} is gone", metadata.index(), metadata.term()));
  }
  if (!in_transfer) {
    sending_ = Sending{snapshot_, std::make_shared<const std::string>(snapshot_data_)};
  }
  const std::string& data = *sending_->data;
  if (offset > data.size()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("offset {} is past the snapshot's {} bytes", offset, data.size()));
  }
  return data.substr(offset, max_bytes);
}

void MemoryStorage::set_configuration(const pb::Configuration& configuration) {
  configuration_ = configuration;
}

Status MemoryStorage::compact(Index index) {
  const Index offset = entries_.front().index();
  if (index <= offset)
    return Status(ErrorCode::kCompacted, fmt::format("index {} is already compacted", index));
  if (index > last_index()) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("compact {} is past the last index {}", index, last_index()));
  }
  // Drop the entries before `index` in place (a deque frees them without moving what stays)
  // and turn the entry at `index` into the new dummy: only its index and term are kept.
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - offset));
  pb::Entry& dummy = entries_.front();
  const Term term = dummy.term();
  dummy.Clear();
  dummy.set_index(index);
  dummy.set_term(term);
  return {};
}

}  // namespace raft
