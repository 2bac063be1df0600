// Determinism under the newer faults: one-way links, bridges, pauses, clock skew and torn
// writes all draw from the run's one SimRandom and are recorded in the trace, so one seed
// still replays one run event for event.
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

RunResult run_with_every_fault(std::uint64_t seed) {
  SimOptions options = sim_options(5, seed, NetworkOptions::unreliable());
  options.keep_trace_lines = true;
  options.disk_delay_min = milliseconds(1);
  options.disk_delay_max = milliseconds(6);
  options.clock_skew = 0.25;
  options.torn_writes = true;
  SimCluster c(options);
  std::uint64_t applied = 0;
  c.set_apply_observer([&](int, const pb::Entry&) { ++applied; });
  c.one("first", 3, true);
  for (int iteration = 0; iteration < 30; ++iteration) {
    const int a = c.random().index(5);
    const int b = (a + 1 + c.random().index(4)) % 5;
    switch (c.random().index(6)) {
      case 0:
        c.restart(a);
        break;
      case 1:
        c.block_link(a, b);
        break;
      case 2:
        c.bridge({a, (a + 1) % 5}, {(a + 3) % 5, (a + 4) % 5}, (a + 2) % 5);
        break;
      case 3:
        c.pause(a);
        break;
      case 4:
        c.resume(a);
        c.resume(b);
        break;
      default:
        c.heal();
        break;
    }
    for (int i = 0; i < 5; ++i) (void)c.propose(i, fmt::format("cmd-{}-{}", iteration, i));
    c.run_for(static_cast<SimTime>(c.random().uniform(0, milliseconds(150))));
  }
  c.heal();
  for (int i = 0; i < 5; ++i) c.resume(i);
  c.one("last", 5, true);
  CHECK(applied > 0);
  return {c.trace_hash(), c.trace_events(), c.trace_lines()};
}

std::string first_difference(const RunResult& a, const RunResult& b) {
  for (std::size_t i = 0; i < a.lines.size() && i < b.lines.size(); ++i) {
    if (a.lines[i] != b.lines[i])
      return fmt::format("event {}:\n  {}\n  {}", i, a.lines[i], b.lines[i]);
  }
  return "one trace is a prefix of the other";
}

TEST_CASE("the same seed replays a run with every new fault event for event",
          "[sim][faults][determinism]") {
  const RunResult first = run_with_every_fault(7601);
  const RunResult second = run_with_every_fault(7601);
  INFO(first_difference(first, second));
  CHECK(first.events > 1000);
  CHECK(first.events == second.events);
  CHECK(first.hash == second.hash);
  CHECK(first.lines == second.lines);
  // The new faults are in the trace.
  auto has = [&](const std::string& what) {
    for (const auto& line : first.lines) {
      if (line.find(what) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has(" clock "));
  CHECK(has(" pause "));
  CHECK(has(" resume "));
  CHECK(has("(block "));
  CHECK(has("(bridge "));
}

TEST_CASE("different seeds give different runs with every new fault",
          "[sim][faults][determinism]") {
  CHECK(run_with_every_fault(7601).hash != run_with_every_fault(7602).hash);
}

}  // namespace
}  // namespace raft::sim
