// Leadership transfer (dissertation 3.10): the leader brings the target up to date, sends it
// TimeoutNow, and the target wins an election in the next term; a transfer that cannot
// complete aborts after an election timeout. Proposals are refused while a transfer runs.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <optional>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("leadership moves to an up-to-date follower within an election timeout",
          "[sim][transfer]") {
  SimCluster c(sim_options(3, 4001));
  const int leader = c.check_one_leader();
  c.one("x", 3, false);
  c.run_for(milliseconds(30));
  const int target = (leader + 1) % 3;
  const Term term = c.raw(leader)->term();
  const SimTime start = c.now();
  REQUIRE(c.transfer_leadership(leader, target).ok());
  REQUIRE(c.run_until([&] { return c.is_leader(target); }, c.election_timeout()));
  CHECK(c.raw(target)->term() == term + 1);
  CHECK(c.now() - start <= c.election_timeout());
  c.run_for(milliseconds(30));
  CHECK(c.leaders().size() == 1);
  CHECK(c.check_one_leader() == target);
  c.one("y", 3, false);
}

TEST_CASE("a transfer to a lagging follower waits for it to catch up, then completes",
          "[sim][transfer]") {
  SimCluster c(sim_options(3, 4002));
  const int leader = c.check_one_leader();
  c.one("x", 3, false);
  const int target = (leader + 1) % 3;
  c.disconnect(target);
  Index last = 0;
  for (int k = 0; k < 50; ++k) {
    Result<Index> r = c.propose(leader, fmt::format("cmd-{}", k));
    REQUIRE(r.ok());
    last = r.value();
  }
  REQUIRE(c.run_until([&] { return c.n_committed(last).count == 2; }, seconds(1)));
  c.connect(target);

  // Record how far the target's durable log reached when TimeoutNow arrived.
  std::optional<Index> target_last_at_timeout_now;
  c.set_delivery_observer([&](const pb::Message& m) {
    if (m.type() == pb::MSG_TIMEOUT_NOW && !target_last_at_timeout_now) {
      target_last_at_timeout_now = c.storage(target).last_index();
    }
  });
  const Term term = c.raw(leader)->term();
  REQUIRE(c.raw(leader)->status().progress.at(c.id(target)).match < last);
  REQUIRE(c.transfer_leadership(leader, target).ok());
  Result<Index> during = c.propose(leader, "during");
  REQUIRE_FALSE(during.ok());
  CHECK(during.status().code() == ErrorCode::kTransferInProgress);

  REQUIRE(c.run_until([&] { return c.is_leader(target); }, 2 * c.election_timeout()));
  CHECK(c.raw(target)->term() == term + 1);
  REQUIRE(target_last_at_timeout_now.has_value());
  CHECK(*target_last_at_timeout_now >= last);
  const Index after = c.one("after", 3, false);
  CHECK(after > last);
}

TEST_CASE("a transfer to a crashed follower aborts after an election timeout", "[sim][transfer]") {
  SimCluster c(sim_options(3, 4003));
  const int leader = c.check_one_leader();
  c.one("x", 3, false);
  const int target = (leader + 1) % 3;
  c.crash(target);
  const Term term = c.raw(leader)->term();
  const SimTime start = c.now();
  REQUIRE(c.transfer_leadership(leader, target).ok());
  CHECK(c.raw(leader)->status().transfer_target == c.id(target));
  Result<Index> during = c.propose(leader, "during");
  REQUIRE_FALSE(during.ok());
  CHECK(during.status().code() == ErrorCode::kTransferInProgress);

  REQUIRE(c.run_until([&] { return c.raw(leader)->status().transfer_target.empty(); },
                      3 * c.election_timeout()));
  const SimTime took = c.now() - start;
  INFO("transfer aborted after " << took << " us");
  // Aborted after election_tick ticks (give or take the tick in progress).
  CHECK(took >= c.election_timeout() - milliseconds(10));
  CHECK(took <= c.election_timeout() + milliseconds(10));
  CHECK(c.is_leader(leader));
  CHECK(c.raw(leader)->term() == term);
  REQUIRE(c.propose(leader, "after-abort").ok());
  c.one("after-abort-2", 2, false);
}

}  // namespace
}  // namespace raft::sim
