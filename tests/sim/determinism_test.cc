// Determinism: a run is a function of its seed. A nontrivial scenario (unreliable network,
// partitions, crashes, slow disks, proposals) is run twice with one seed and must produce the same
// trace hash; another seed must produce a different one.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

struct RunResult {
  std::uint64_t hash = 0;
  std::uint64_t events = 0;
  std::vector<std::string> lines;
};

RunResult run_scenario(std::uint64_t seed) {
  SimOptions options = sim_options(5, seed, NetworkOptions::unreliable());
  options.keep_trace_lines = true;
  options.disk_delay_min = milliseconds(1);
  options.disk_delay_max = milliseconds(5);
  SimCluster c(options);
  c.one("first", 3, true);
  for (int iteration = 0; iteration < 30; ++iteration) {
    switch (c.random().index(4)) {
      case 0:
        c.crash(c.random().index(5));
        break;
      case 1:
        c.restart(c.random().index(5));
        break;
      case 2: {
        const int a = c.random().index(5);
        c.partition({{a, (a + 1) % 5}, {(a + 2) % 5, (a + 3) % 5, (a + 4) % 5}});
        break;
      }
      default:
        c.heal();
        break;
    }
    for (int i = 0; i < 5; ++i) (void)c.propose(i, fmt::format("cmd-{}-{}", iteration, i));
    c.run_for(static_cast<SimTime>(c.random().uniform(0, milliseconds(150))));
  }
  c.heal();
  for (int i = 0; i < 5; ++i) {
    if (!c.alive(i)) c.restart(i);
  }
  c.one("last", 5, true);
  return {c.trace_hash(), c.trace_events(), c.trace_lines()};
}

// The first line where two traces differ, for the failure message.
std::string first_difference(const RunResult& a, const RunResult& b) {
  for (std::size_t i = 0; i < a.lines.size() && i < b.lines.size(); ++i) {
    if (a.lines[i] != b.lines[i])
      return fmt::format("event {}:\n  {}\n  {}", i, a.lines[i], b.lines[i]);
  }
  return "one trace is a prefix of the other";
}

TEST_CASE("the same seed replays the same run event for event", "[sim][determinism]") {
  const RunResult first = run_scenario(77);
  const RunResult second = run_scenario(77);
  INFO(first_difference(first, second));
  CHECK(first.events > 1000);
  CHECK(first.events == second.events);
  CHECK(first.hash == second.hash);
}

TEST_CASE("different seeds give different runs", "[sim][determinism]") {
  const RunResult a = run_scenario(77);
  const RunResult b = run_scenario(78);
  CHECK(a.hash != b.hash);
}

}  // namespace
}  // namespace raft::sim
