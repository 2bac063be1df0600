// SimRandom: the one seeded pseudo-random generator of a simulation run (xoshiro256**, seeded
// through splitmix64). Every random choice of a run — message delays and drops, the nodes'
// Config::random_seed, a test's choice of which node to crash — comes from it, so one seed
// replays one run. The range mapping is our own (not std::uniform_int_distribution, whose
// output differs between standard libraries). Owned by SimCluster; tests borrow it.
#pragma once

#include <array>
#include <cstdint>

namespace raft::sim {

class SimRandom {
 public:
  explicit SimRandom(std::uint64_t seed);

  // The next 64 random bits.
  std::uint64_t next();
  // Uniform in [lo, hi], both inclusive, without modulo bias. Requires lo <= hi.
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi);
  // Uniform in [lo, hi] for signed values (times). Requires lo <= hi.
  std::int64_t uniform_signed(std::int64_t lo, std::int64_t hi);
  // Uniform in [0, n). Requires n > 0.
  int index(int n);
  // True with probability p (p <= 0: never, p >= 1: always).
  bool chance(double p);

 private:
  std::array<std::uint64_t, 4> state_;
};

}  // namespace raft::sim
