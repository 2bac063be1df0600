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

}  // namespace raft
