// LinearizabilityChecker: decides whether a key-value history is linearizable.
//
// The algorithm is Wing & Gong's search with Lowe's improvements (as in Porcupine): walk the
// history's call/return events in time order, tentatively linearize an operation at its call
// if the sequential model allows its recorded outcome, and backtrack when a return is reached
// for an operation not yet linearized. Visited (linearized set, model state) pairs are cached,
// which makes the search fast on real histories. A key-value store is checked one key at a
// time: linearizability is compositional, so the history is linearizable iff every per-key
// sub-history is. Stateless; any thread.
#pragma once

#include <string>
#include <vector>

#include "lincheck/kv_history.h"

namespace lincheck {

struct CheckResult {
  bool linearizable = true;
  std::string key;          // the first key whose history is not linearizable
  std::string explanation;  // the operations of that key, for a person to read
  bool timed_out = false;   // the search exceeded its step budget (result unknown)
};

// `max_steps_per_key` bounds the search (0: unbounded).
CheckResult check_linearizable(const std::vector<KvOp>& history,
                               std::uint64_t max_steps_per_key = 0);

}  // namespace lincheck
