#include "raft/log_storage.h"

#include <fmt/format.h>

namespace raft {

Status LogReader::check_entries_range(Index lo, Index hi) const {
  if (lo < first_index()) {
    return Status(ErrorCode::kCompacted,
                  fmt::format("index {} is compacted (first index {})", lo, first_index()));
  }
  if (hi > last_index() + 1) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("index {} is past the last index {}", hi - 1, last_index()));
  }
  return {};
}

Result<std::size_t> LogReader::check_append(const std::vector<pb::Entry>& entries) const {
  std::size_t skip = 0;
  while (skip < entries.size() && entries[skip].index() < first_index()) ++skip;
  if (skip == entries.size()) return skip;
  const Index start = entries[skip].index();
  if (start > last_index() + 1) {
    return Status(
        ErrorCode::kInvalidArgument,
        fmt::format("append at {} leaves a gap after the last index {}", start, last_index()));
  }
  for (std::size_t k = skip; k < entries.size(); ++k) {
    if (entries[k].index() > kMaxIndex) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("append: entry {} is past the highest index {}", entries[k].index(),
                                kMaxIndex));
    }
    if (k > skip && entries[k].index() != entries[k - 1].index() + 1) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("append: entries are not contiguous ({} follows {})",
                                entries[k].index(), entries[k - 1].index()));
    }
  }
  return skip;
}

Result<pb::SnapshotMetadata> LogReader::snapshot_metadata() const {
  return Status(ErrorCode::kUnavailable, "this log store keeps no snapshots");
}

Result<std::string> LogReader::read_snapshot(const pb::SnapshotMetadata& /*metadata*/,
                                             std::uint64_t /*offset*/,
                                             std::uint64_t /*max_bytes*/) const {
  return Status(ErrorCode::kUnavailable, "this log store keeps no snapshots");
}

}  // namespace raft
