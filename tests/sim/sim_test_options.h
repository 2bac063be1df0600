// sim_options(): the SimOptions the scenario tests start from (3-node default, a 10 ms tick,
// election_tick 10, heartbeat_tick 1, PreVote and CheckQuorum on, a reliable network).
#pragma once

#include <cstdint>

#include "sim/sim_cluster.h"

namespace raft::sim {

inline SimOptions sim_options(int num_nodes, std::uint64_t seed,
                              const NetworkOptions& network = NetworkOptions::reliable()) {
  SimOptions options;
  options.num_nodes = num_nodes;
  options.seed = seed;
  options.network = network;
  return options;
}

}  // namespace raft::sim
