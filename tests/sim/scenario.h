// run_scenario(): one seeded, randomized run of a whole cluster under faults, with clients,
// and every check: the simulator's invariants after every event, liveness once the faults
// heal (a leader within a bound, every pending operation answered), and linearizability of
// the client history. The engine behind raft-sim and the sweep tests. The same options
// (seed included) give the same run, event for event.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "raft/config.h"

namespace raft::sim {

struct ScenarioOptions {
  std::uint64_t seed = 1;
  int nodes = 5;
  std::set<std::string> faults;  // see all_fault_names()
  int ops = 200;                 // client operations issued in the run
  int clients = 4;
  int keys = 4;
  // A protocol bug to inject (see bug_names()), or empty.
  std::string bug;
  // Keep the full event trace (ScenarioResult::trace).
  bool trace = false;
  // CheckQuorum on every node. Off, a leader cut off from its peers keeps believing it
  // leads; on, it steps down within two election timeouts, which hides a leader's local
  // reads most of the time (that is what lease reads rely on, with a clock-drift bound).
  bool check_quorum = true;
  // Where the nodes keep their raft state: "memory" (MemoryStorage) or "disk"
  // (DurableStorage over a fault-injecting file system; see SimOptions::storage).
  std::string storage = "memory";
  // The share of gets served by ReadIndex (RawNode::read_index on the node that received the
  // get, then a local read once it applied the read point); the rest go through the log.
  double read_index_fraction = 0.5;
  // The share of those ReadIndex gets that are leader lease reads (Config::lease_read is on
  // in every node when it is > 0 and CheckQuorum is on; lease gets then go to the leader).
  double lease_read_fraction = 0.5;
};

struct ScenarioResult {
  bool ok = true;
  // Which check failed: "invariant", "liveness" or "linearizability".
  std::string check;
  std::string failure;       // what happened, for a person
  int completed = 0;         // operations answered
  int read_index_reads = 0;  // of which gets answered through ReadIndex
  int lease_reads = 0;       // of which through a leader lease read
  int unknown = 0;           // operations abandoned with an unknown outcome
  std::int64_t simulated_ms = 0;
  std::uint64_t trace_hash = 0;
  std::vector<std::string> trace;  // with ScenarioOptions::trace
};

// The bug switches: the core's InjectedBugs plus the simulated clients' leader_local_read.
const std::vector<std::string>& bug_names();
bool valid_bug(const std::string& name);
// Whether `name` is a storage raft-sim accepts ("memory" or "disk").
bool valid_storage(const std::string& name);

ScenarioResult run_scenario(const ScenarioOptions& options);

// The raft-sim command line that replays `options` with a trace.
std::string replay_command(const ScenarioOptions& options);

}  // namespace raft::sim
