#include "core/quorum.h"

#include <algorithm>
#include <functional>

namespace raft::core {

Index committed_index(std::vector<Index> matches) {
  if (matches.empty()) return 0;
  const std::size_t k = majority(matches.size()) - 1;
  std::nth_element(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(k), matches.end(),
                   std::greater<Index>());
  return matches[k];
}

VoteResult vote_result(std::size_t voters, std::size_t granted, std::size_t rejected) {
  const std::size_t need = majority(voters);
  if (granted >= need) return VoteResult::kWon;
  if (voters - rejected < need) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace raft::core
