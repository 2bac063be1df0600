// Basic vocabulary types shared by every layer of libraft.
// Plain values; any thread may use them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace raft {

// A server's identity in the cluster (hashicorp/raft style: "node1").
using NodeId = std::string;
// A position in the replicated log; 0 means "none", the first entry has index 1.
using Index = std::uint64_t;
// An election term; 0 is the term before any election.
using Term = std::uint64_t;

// The role a node plays in its current term.
enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

std::string_view to_string(Role role);

}  // namespace raft
