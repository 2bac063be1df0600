// StableStore: a small durable record — the current term, the vote cast in it and a few
// other small durable facts (the cluster id, ...) — that Raft must not lose across a crash.
//
// The host (the runtime) owns the store and calls it from one thread at a time.
// Implementations: FileStableStore (storage/file_stable_store.h, a file replaced atomically).
#pragma once

#include <map>
#include <string>

#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// The whole record; saved and loaded as one.
struct StableState {
  Term term = 0;
  NodeId vote;                               // voted for in `term`; empty if none
  std::map<std::string, std::string> facts;  // small durable facts, e.g. "cluster_id"

  bool operator==(const StableState&) const = default;
};

class StableStore {
 public:
  virtual ~StableStore() = default;

  // The last record saved; an empty StableState for a store that never saved one.
  virtual Result<StableState> load() = 0;
  // Replaces the record; durable when it returns ok. On error the disk holds the old or the
  // new record (never a mix): the caller must not act on the new one (e.g. send the vote).
  virtual Status save(const StableState& state) = 0;
};

}  // namespace raft
