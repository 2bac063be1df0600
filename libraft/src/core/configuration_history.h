// ConfigurationHistory: the configurations in a node's log, newest last, so the core knows the
// one in force (the newest appended, dissertation 4.1) and can fall back to an older one when
// a conflicting suffix is truncated. Holds a base (the configuration at the snapshot index,
// or the initial one) and every configuration entry after it that is not yet superseded by a
// newer committed one. Owned by Consensus; single-threaded.
#pragma once

#include <utility>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace raft::core {

class ConfigurationHistory {
 public:
  ConfigurationHistory() { entries_.emplace_back(0, pb::Configuration()); }

  // Forgets everything: `configuration` is in force at `index` (a snapshot, or the start).
  void reset(Index index, pb::Configuration configuration);
  // A configuration entry at `index` (above every one recorded) was appended to the log.
  void append(Index index, pb::Configuration configuration);
  // The log lost every entry at or after `index` (a conflicting suffix was replaced).
  void truncate_from(Index index);
  // Entries up to `commit` are committed: forgets configurations older than the newest
  // committed one (they can never be in force again).
  void commit_to(Index commit);

  const pb::Configuration& latest() const { return entries_.back().second; }
  Index latest_index() const { return entries_.back().first; }

 private:
  // Ascending by index; entries_[0] is the base and is never truncated.
  std::vector<std::pair<Index, pb::Configuration>> entries_;
};

}  // namespace raft::core
