// Assertions shared by the integration tests (they REQUIRE, so only test sources include
// this, after catch.hpp).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "integration/cluster.h"

namespace raft::integration {

// Pipelined writes to `leader` (32 in flight), all of which must succeed; returns the last
// index.
inline Index write_pipelined(Cluster& cluster, int leader, int first, int count) {
  std::vector<Result<ApplyResult>> results =
      apply_pipelined(cluster.raft(leader), first, count, 32, milliseconds(5000));
  Index last = 0;
  for (const Result<ApplyResult>& r : results) {
    REQUIRE_OK(r.status());
    last = std::max(last, r->index);
  }
  return last;
}

// No state machine of any incarnation broke an apply rule, and no two nodes disagree.
inline void require_no_violations(const Cluster& cluster) {
  const std::vector<std::string> violations = cluster.violations();
  INFO(violations.size() << " violations, first: " << (violations.empty() ? "" : violations[0]));
  REQUIRE(violations.empty());
}

}  // namespace raft::integration
