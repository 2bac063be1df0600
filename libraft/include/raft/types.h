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
// The highest log index libraft takes: 2^62, past any real log (at 10 million entries a
// second, 14,000 years) and far enough below 2^64 that index arithmetic cannot wrap. The core
// refuses messages past it, and the log store refuses entries, restores and files past it.
inline constexpr Index kMaxIndex = Index{1} << 62;
// An election term; 0 is the term before any election.
using Term = std::uint64_t;
// The highest term the core takes from a message: 2^62, for the reason of kMaxIndex. A
// broken peer's term near 2^64 would otherwise make the next campaign's term + 1 wrap to 0,
// and a node whose term moves backwards can vote twice in one term.
inline constexpr Term kMaxTerm = Term{1} << 62;

// The role a node plays in its current term.
enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

std::string_view to_string(Role role);

}  // namespace raft
