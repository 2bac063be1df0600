// Agreement under churn and loss (after the 6.824 tests TestUnreliableAgree2C and
// TestReliableChurn2C / TestUnreliableChurn2C): nodes crash, restart, disconnect and
// reconnect at random while commands are proposed; a command once applied anywhere (what a
// client would have been told succeeded) must end up applied at the same index everywhere.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("commands reach agreement on an unreliable network", "[sim][churn]") {
  SimCluster c(sim_options(5, 5001, NetworkOptions::unreliable()));
  for (int k = 0; k < 30; ++k) c.one(fmt::format("cmd-{}", k), 1, true);
  const Index last = c.one("final", 5, true);
  for (int i = 0; i < 5; ++i)
    CHECK(c.node(i).command_at(last) == std::optional<std::string>("final"));
}

void run_churn(std::uint64_t seed, const NetworkOptions& network) {
  SimCluster c(sim_options(5, seed, network));
  std::map<Index, std::string> acknowledged;
  for (int iteration = 0; iteration < 60; ++iteration) {
    // As in 6.824: 20% cut off a node, 20% crash one, 50% bring one back.
    const int victim = c.random().index(5);
    const int roll = c.random().index(10);
    if (roll < 2) {
      c.disconnect(victim);
    } else if (roll < 4) {
      c.crash(victim);
    } else if (roll < 9) {
      if (!c.alive(victim)) c.restart(victim);
      c.connect(victim);
    }
    // Clients keep proposing on every live node (only a leader accepts) for up to three
    // election timeouts.
    const auto steps = c.random().uniform(1, 15);
    for (std::uint64_t step = 0; step < steps; ++step) {
      for (int i = 0; i < 5; ++i) {
        if (c.alive(i)) (void)c.propose(i, fmt::format("cmd-{}-{}-{}", iteration, step, i));
      }
      c.run_for(milliseconds(20));
    }
    // Whatever some node applied counts as acknowledged to a client.
    for (int i = 0; i < 5; ++i) {
      for (const pb::Entry& e : c.node(i).applied_log()) {
        if (e.type() == pb::ENTRY_NORMAL) acknowledged.emplace(e.index(), e.data());
      }
    }
  }
  c.heal();
  for (int i = 0; i < 5; ++i) {
    if (!c.alive(i)) c.restart(i);
  }
  const Index last = c.one("final", 5, true);
  REQUIRE(c.run_until(
      [&] {
        for (int i = 0; i < 5; ++i) {
          if (c.node(i).applied_index() < last) return false;
        }
        return true;
      },
      seconds(2)));
  CHECK(acknowledged.size() > 10);
  for (const auto& [index, command] : acknowledged) {
    const Committed committed = c.n_committed(index);
    CHECK(committed.count == 5);
    CHECK(committed.command == command);
  }
}

TEST_CASE("acknowledged commands survive churn on a reliable network", "[sim][churn]") {
  for (std::uint64_t seed = 5100; seed < 5120; ++seed) {
    INFO("seed " << seed);
    REQUIRE_NOTHROW(run_churn(seed, NetworkOptions::reliable()));
  }
}

TEST_CASE("acknowledged commands survive churn on an unreliable network", "[sim][churn]") {
  for (std::uint64_t seed = 5200; seed < 5220; ++seed) {
    INFO("seed " << seed);
    REQUIRE_NOTHROW(run_churn(seed, NetworkOptions::unreliable()));
  }
}

}  // namespace
}  // namespace raft::sim
