// Pure majority arithmetic over the voters of a configuration. Stateless.
#pragma once

#include <cstddef>
#include <vector>

#include "raft/types.h"

namespace raft::core {

// Number of votes that make a majority of n voters.
inline std::size_t majority(std::size_t n) { return n / 2 + 1; }

// The highest index that a majority of voters has: given each voter's match index, the
// majority-th largest. 0 for no voters.
Index committed_index(std::vector<Index> matches);

enum class VoteResult { kPending, kWon, kLost };

// Outcome of an election with `voters` voters, `granted` yes and `rejected` no votes.
VoteResult vote_result(std::size_t voters, std::size_t granted, std::size_t rejected);

}  // namespace raft::core
