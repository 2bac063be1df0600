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

Result<pb::SnapshotMetadata> LogReader::snapshot_metadata() const {
  return Status(ErrorCode::kUnavailable, "this log store keeps no snapshots");
}

Result<std::string> LogReader::read_snapshot(const pb::SnapshotMetadata& /*metadata*/,
                                             std::uint64_t /*offset*/,
                                             std::uint64_t /*max_bytes*/) const {
  return Status(ErrorCode::kUnavailable, "this log store keeps no snapshots");
}

}  // namespace raft
