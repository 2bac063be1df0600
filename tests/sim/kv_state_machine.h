// KvStateMachine: one node's replica of the simulated key-value store. It applies committed
// KvCommands in log order and remembers, per client, the last sequence number applied and
// its result, so a duplicate (a retried command that was already applied) changes nothing
// and answers the first result. Durable like SimNode's applied log (it survives a crash).
// Owned by the scenario runner, one per node.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "sim/kv_command.h"

namespace raft::sim {

class KvStateMachine {
 public:
  // Applies a command; returns its result (the cached one for a duplicate).
  KvResult apply(const KvCommand& command);
  // The current value of a key, read locally (a stale read on a follower or a deposed leader).
  std::optional<std::string> local_get(const std::string& key) const;

 private:
  struct Session {
    std::uint64_t seq = 0;
    KvResult result;
  };
  std::map<std::string, std::string> data_;
  std::map<std::uint64_t, Session> sessions_;
};

}  // namespace raft::sim
