// Clock skew: each node's tick interval is drawn once within tick_interval * (1 +- skew),
// so its timeouts fire at other moments than its peers'; no skew draws nothing.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

int ticks_of(const SimCluster& c, int i) {
  const std::string needle = "tick     " + c.id(i) + " ";
  int n = 0;
  for (const std::string& line : c.trace_lines()) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST_CASE("without clock skew every node ticks at tick_interval", "[sim][faults][clock]") {
  SimCluster c(sim_options(5, 7201));
  for (int i = 0; i < 5; ++i) CHECK(c.tick_interval(i) == milliseconds(10));
}

TEST_CASE("clock skew draws each node's tick interval within the bounds", "[sim][faults][clock]") {
  SimOptions options = sim_options(7, 7202);
  options.clock_skew = 0.3;
  SimCluster c(options);
  std::set<SimTime> distinct;
  for (int i = 0; i < 7; ++i) {
    CHECK(c.tick_interval(i) >= milliseconds(7));
    CHECK(c.tick_interval(i) <= milliseconds(13));
    distinct.insert(c.tick_interval(i));
  }
  CHECK(distinct.size() > 1);
  // Drawn once, at construction: a restart keeps the node's clock.
  const SimTime before = c.tick_interval(3);
  c.restart(3);
  CHECK(c.tick_interval(3) == before);
}

TEST_CASE("a skewed clock changes how many ticks a node gets in a fixed time",
          "[sim][faults][clock]") {
  SimOptions options = sim_options(5, 7203);
  options.clock_skew = 0.5;
  options.keep_trace_lines = true;
  SimCluster c(options);
  c.run_for(seconds(2));
  int fastest = 0;
  int slowest = 0;
  for (int i = 0; i < 5; ++i) {
    const auto expected = static_cast<int>(seconds(2) / c.tick_interval(i));
    INFO("node " << i << " interval " << c.tick_interval(i));
    CHECK(ticks_of(c, i) >= expected - 1);
    CHECK(ticks_of(c, i) <= expected + 1);
    if (c.tick_interval(i) < c.tick_interval(fastest)) fastest = i;
    if (c.tick_interval(i) > c.tick_interval(slowest)) slowest = i;
  }
  REQUIRE(c.tick_interval(fastest) < c.tick_interval(slowest));
  CHECK(ticks_of(c, fastest) > ticks_of(c, slowest));
}

TEST_CASE("a cluster with skewed clocks elects, commits and survives crashes",
          "[sim][faults][clock]") {
  for (std::uint64_t seed = 7210; seed < 7215; ++seed) {
    INFO("seed " << seed);
    SimOptions options = sim_options(5, seed, NetworkOptions::unreliable());
    options.clock_skew = 0.5;
    SimCluster c(options);
    c.one("first", 5, true);
    const int leader = c.check_one_leader();
    c.crash(leader);
    c.one("second", 4, true);
    c.restart(leader);
    c.one("third", 5, true);
  }
}

}  // namespace
}  // namespace raft::sim
