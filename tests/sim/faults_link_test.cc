// One-way link faults and the bridge topology: a blocked link drops every message in one
// direction only; a bridge leaves two groups unable to talk except through one node.
#include <catch2/catch.hpp>
#include <utility>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// Counts delivered messages per (sender, receiver).
struct DeliveryCounter {
  explicit DeliveryCounter(SimCluster& c)
      : cluster(c), counts(c.size(), std::vector<int>(c.size())) {
    c.set_delivery_observer([this](const pb::Message& m) {
      ++counts[static_cast<std::size_t>(cluster.index_of(m.from()))]
              [static_cast<std::size_t>(cluster.index_of(m.to()))];
    });
  }
  int between(int from, int to) const {
    return counts[static_cast<std::size_t>(from)][static_cast<std::size_t>(to)];
  }
  void reset() {
    for (auto& row : counts) std::fill(row.begin(), row.end(), 0);
  }
  SimCluster& cluster;
  std::vector<std::vector<int>> counts;
};

TEST_CASE("a message over a blocked link is never delivered; the other direction still is",
          "[sim][faults][link]") {
  SimCluster c(sim_options(3, 7001));
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  DeliveryCounter counter(c);
  c.block_link(leader, follower);
  CHECK(c.link_blocked(leader, follower));
  CHECK_FALSE(c.link_blocked(follower, leader));
  c.run_for(seconds(2));
  CHECK(counter.between(leader, follower) == 0);
  // The follower, deaf to the leader, campaigns: its messages still reach the leader.
  CHECK(counter.between(follower, leader) > 0);
  // The third node hears the leader as usual.
  CHECK(counter.between(leader, (leader + 2) % 3) > 0);

  c.unblock_link(leader, follower);
  CHECK_FALSE(c.link_blocked(leader, follower));
  counter.reset();
  c.run_for(seconds(1));
  const int leader2 = c.check_one_leader();
  CHECK(counter.between(leader2, (leader2 + 1) % 3) > 0);
  c.one("after-unblock", 3, true);
}

TEST_CASE("a message in flight when its link is blocked is dropped at delivery",
          "[sim][faults][link]") {
  SimCluster c(sim_options(3, 7002));
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  DeliveryCounter counter(c);
  // The proposal's AppendEntries leave at once and are blocked before they land.
  REQUIRE(c.propose(leader, "x").ok());
  c.block_link(leader, follower);
  c.run_for(milliseconds(500));
  CHECK(counter.between(leader, follower) == 0);
}

TEST_CASE("the cluster keeps committing with a follower that cannot hear the leader",
          "[sim][faults][link]") {
  SimCluster c(sim_options(5, 7003));
  const int leader = c.check_one_leader();
  c.block_link(leader, (leader + 1) % 5);
  for (int k = 0; k < 10; ++k) c.one("cmd" + std::to_string(k), 4, true);
  c.heal();
  CHECK_FALSE(c.link_blocked(leader, (leader + 1) % 5));
  c.one("healed", 5, true);
}

TEST_CASE("bridge blocks exactly the links between the two groups", "[sim][faults][link]") {
  SimCluster c(sim_options(5, 7004));
  const std::vector<int> a = {0, 1};
  const std::vector<int> b = {3, 4};
  c.bridge(a, b, 2);
  for (int from = 0; from < 5; ++from) {
    for (int to = 0; to < 5; ++to) {
      const bool a_b = (from < 2 && to > 2) || (from > 2 && to < 2);
      INFO("link " << from << " -> " << to);
      CHECK(c.link_blocked(from, to) == a_b);
    }
  }
  // Nothing else changed.
  for (int i = 0; i < 5; ++i) CHECK(c.connected(i));
  c.heal();
  for (int from = 0; from < 5; ++from) {
    for (int to = 0; to < 5; ++to) CHECK_FALSE(c.link_blocked(from, to));
  }
}

TEST_CASE("a bridged cluster commits, and nothing crosses between the groups directly",
          "[sim][faults][link]") {
  for (std::uint64_t seed = 7010; seed < 7015; ++seed) {
    INFO("seed " << seed);
    SimCluster c(sim_options(5, seed));
    const std::vector<int> a = {0, 1};
    const std::vector<int> b = {3, 4};
    c.bridge(a, b, 2);
    DeliveryCounter counter(c);
    // Whoever leads reaches a majority: its own group plus the bridge.
    for (int k = 0; k < 5; ++k) c.one("cmd" + std::to_string(k), 3, true);
    c.run_for(seconds(2));
    for (int x : a) {
      for (int y : b) {
        CHECK(counter.between(x, y) == 0);
        CHECK(counter.between(y, x) == 0);
      }
    }
    int via_bridge = 0;
    for (int x : {0, 1, 3, 4}) via_bridge += counter.between(2, x) + counter.between(x, 2);
    CHECK(via_bridge > 0);
    c.heal();
    c.one("healed", 5, true);
  }
}

}  // namespace
}  // namespace raft::sim
