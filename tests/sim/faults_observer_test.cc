// The apply and restart observers: a state-machine model can follow every node through them.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("the apply observer sees every applied entry of every node, in order",
          "[sim][faults][observer]") {
  SimOptions options = sim_options(3, 7301);
  options.disk_delay_min = milliseconds(1);
  options.disk_delay_max = milliseconds(4);
  SimCluster c(options);
  std::vector<std::vector<pb::Entry>> seen(3);
  c.set_apply_observer([&](int node, const pb::Entry& e) {
    // Called at the moment of applying: the node's state machine already holds it.
    CHECK(c.node(node).applied_index() == e.index());
    seen[static_cast<std::size_t>(node)].push_back(e);
  });
  for (int k = 0; k < 10; ++k) c.one("cmd" + std::to_string(k), 3, true);
  const int leader = c.check_one_leader();
  c.crash((leader + 1) % 3);
  c.one("while-down", 2, true);
  c.restart((leader + 1) % 3);
  c.one("last", 3, true);
  bool saw_noop = false;
  for (int i = 0; i < 3; ++i) {
    const auto& log = c.node(i).applied_log();
    REQUIRE(seen[static_cast<std::size_t>(i)].size() == log.size());
    for (std::size_t k = 0; k < log.size(); ++k) {
      CHECK(seen[static_cast<std::size_t>(i)][k].SerializeAsString() == log[k].SerializeAsString());
      if (log[k].type() == pb::ENTRY_NOOP) saw_noop = true;
    }
  }
  CHECK(saw_noop);
}

TEST_CASE("the restart observer runs once the node is rebuilt, before it applies anything",
          "[sim][faults][observer]") {
  SimCluster c(sim_options(3, 7302));
  std::vector<std::string> events;
  c.set_apply_observer([&](int node, const pb::Entry& e) {
    events.push_back("apply " + std::to_string(node) + " " + std::to_string(e.index()));
  });
  c.set_restart_observer([&](int node) {
    CHECK(c.alive(node));
    CHECK(c.raw(node) != nullptr);
    events.push_back("restart " + std::to_string(node));
  });
  c.one("a", 3, true);
  events.clear();
  c.restart(1);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front() == "restart 1");
  CHECK(std::count(events.begin(), events.end(), "restart 1") == 1);
  // The initial start of a node is no restart.
  SimCluster fresh(sim_options(3, 7303));
  int restarts = 0;
  fresh.set_restart_observer([&](int) { ++restarts; });
  fresh.one("b", 3, true);
  CHECK(restarts == 0);
}

}  // namespace
}  // namespace raft::sim
