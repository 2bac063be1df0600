// SimFailure: what the simulator throws when a safety invariant breaks or a harness check
// (check_one_leader, one, ...) fails. The message carries the seed and the recent events, so
// a Catch2 test that lets it escape reports everything needed to replay the run.
#pragma once

#include <stdexcept>
#include <string>

namespace raft::sim {

class SimFailure : public std::runtime_error {
 public:
  explicit SimFailure(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace raft::sim
