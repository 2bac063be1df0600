#include "core/configuration_history.h"

#include <stdexcept>

namespace raft::core {

void ConfigurationHistory::reset(Index index, pb::Configuration configuration) {
  entries_.clear();
  entries_.emplace_back(index, std::move(configuration));
}

void ConfigurationHistory::append(Index index, pb::Configuration configuration) {
  if (index <= latest_index()) truncate_from(index);
  entries_.emplace_back(index, std::move(configuration));
}

void ConfigurationHistory::truncate_from(Index index) {
  while (entries_.size() > 1 && entries_.back().first >= index) entries_.pop_back();
  if (entries_.size() == 1 && entries_.front().first >= index && index > 0) {
    // The base is at or below the commit index, and committed entries are never replaced.
    throw std::logic_error("a truncation reached below the base configuration");
  }
}

void ConfigurationHistory::commit_to(Index commit) {
  std::size_t newest_committed = 0;
  for (std::size_t k = 0; k < entries_.size(); ++k) {
    if (entries_[k].first <= commit) newest_committed = k;
  }
  if (newest_committed > 0) {
    entries_.erase(entries_.begin(),
                   entries_.begin() + static_cast<std::ptrdiff_t>(newest_committed));
  }
}

}  // namespace raft::core
