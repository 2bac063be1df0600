// Persistence scenarios (after the 6.824 Raft tests 2C): nodes crash (losing everything not
// written to their MemoryStorage) and restart from their durable state.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// The data of the entry at `index` in node i's durable log ("" when absent).
std::string durable_data(const SimCluster& c, int i, Index index) {
  auto entries = c.storage(i).entries(index, index + 1, std::numeric_limits<std::uint64_t>::max());
  if (!entries.ok() || entries.value().empty()) return {};
  return entries.value().front().data();
}

TEST_CASE("a committed entry survives crashing and restarting every node", "[sim][persist]") {
  SimCluster c(sim_options(3, 3001));
  const Index index11 = c.one("11", 3, true);
  for (int i = 0; i < 3; ++i) c.crash(i);
  for (int i = 0; i < 3; ++i) c.restart(i);
  for (int i = 0; i < 3; ++i) CHECK(durable_data(c, i, index11) == "11");
  const Index index12 = c.one("12", 3, true);
  CHECK(index12 > index11);
  for (int i = 0; i < 3; ++i) {
    CHECK(durable_data(c, i, index11) == "11");
    CHECK(c.node(i).command_at(index11) == std::optional<std::string>("11"));
  }
}

TEST_CASE("a crashed and restarted leader rejoins and the cluster keeps agreeing",
          "[sim][persist]") {
  SimCluster c(sim_options(3, 3002));
  c.one("11", 3, true);
  const int leader1 = c.check_one_leader();
  c.crash(leader1);
  c.restart(leader1);
  c.one("12", 3, true);
  const int leader2 = c.check_one_leader();
  c.crash(leader2);
  c.one("13", 2, true);
  c.restart(leader2);
  c.one("14", 3, true);
}

TEST_CASE("a crashed follower catches up after restart", "[sim][persist]") {
  SimCluster c(sim_options(3, 3003));
  c.one("11", 3, true);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.crash(follower);
  const Index missed = c.one("12", 2, true);
  c.restart(follower);
  c.one("13", 3, true);
  CHECK(c.node(follower).command_at(missed) == std::optional<std::string>("12"));
}

TEST_CASE("committed entries survive repeated crashes of majorities", "[sim][persist]") {
  SimCluster c(sim_options(5, 3004));
  int next = 11;
  auto cmd = [&] { return std::to_string(next++); };
  for (int iteration = 0; iteration < 5; ++iteration) {
    c.one(cmd(), 5, true);
    const int leader1 = c.check_one_leader();
    c.crash((leader1 + 1) % 5);
    c.crash((leader1 + 2) % 5);
    c.one(cmd(), 3, true);
    c.crash(leader1);
    c.crash((leader1 + 3) % 5);
    c.crash((leader1 + 4) % 5);
    c.restart((leader1 + 1) % 5);
    c.restart((leader1 + 2) % 5);
    c.run_for(c.election_timeout());
    c.restart((leader1 + 3) % 5);
    c.one(cmd(), 3, true);
    c.restart((leader1 + 4) % 5);
    c.restart(leader1);
  }
  c.one("1000", 5, true);
}

TEST_CASE("a leader and a follower that crash while the third node was cut off lose nothing",
          "[sim][persist]") {
  SimCluster c(sim_options(3, 3005));
  c.one("101", 3, true);
  const int leader = c.check_one_leader();
  c.disconnect((leader + 2) % 3);
  const Index index102 = c.one("102", 2, true);
  c.crash(leader);
  c.crash((leader + 1) % 3);
  c.connect((leader + 2) % 3);
  c.restart(leader);
  c.one("103", 2, true);
  c.restart((leader + 1) % 3);
  const Index last = c.one("104", 3, true);
  REQUIRE(
      c.run_until([&] { return c.node((leader + 2) % 3).applied_index() >= last; }, seconds(1)));
  CHECK(c.node((leader + 2) % 3).command_at(index102) == std::optional<std::string>("102"));
}

void crash_randomly_while_proposing(SimCluster& c) {
  c.one("start", 5, true);
  for (int iteration = 0; iteration < 40; ++iteration) {
    // Crash a random subset of any size (a majority too) ...
    for (int i = 0; i < 5; ++i) {
      if (c.random().chance(0.3)) c.crash(i);
    }
    // ... propose on every live node (only a leader accepts) ...
    for (int i = 0; i < 5; ++i) {
      if (c.alive(i)) (void)c.propose(i, fmt::format("cmd-{}-{}", iteration, i));
    }
    c.run_for(static_cast<SimTime>(c.random().uniform(0, 2 * c.election_timeout())));
    // ... and restart some of the crashed nodes.
    for (int i = 0; i < 5; ++i) {
      if (!c.alive(i) && c.random().chance(0.6)) c.restart(i);
    }
  }
  for (int i = 0; i < 5; ++i) {
    if (!c.alive(i)) c.restart(i);
  }
  c.one("end", 5, true);
}

TEST_CASE("the cluster stays safe and recovers under random crashes while proposing",
          "[sim][persist]") {
  SimCluster c(sim_options(5, 3006));
  crash_randomly_while_proposing(c);
}

TEST_CASE("crashes that lose in-flight disk writes keep the cluster safe", "[sim][persist]") {
  for (std::uint64_t seed = 3100; seed < 3120; ++seed) {
    INFO("seed " << seed);
    SimOptions options = sim_options(5, seed);
    options.disk_delay_min = milliseconds(1);
    options.disk_delay_max = milliseconds(8);
    SimCluster c(options);
    REQUIRE_NOTHROW(crash_randomly_while_proposing(c));
  }
}

}  // namespace
}  // namespace raft::sim
