// Message count bounds (after the 6.824 test TestCount2B): elections and agreement must not
// cost more messages than the protocol needs.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("electing a leader of 3 nodes takes fewer than 30 messages", "[sim][count]") {
  SimCluster c(sim_options(3, 2201));
  c.check_one_leader();
  // One PreVote round and one vote round (2 requests + 2 answers each) and the new leader's
  // first AppendEntries: about 10; 30 leaves room for one split vote.
  INFO("messages: " << c.stats().total);
  CHECK(c.stats().total < 30);
  CHECK(c.stats().total > 0);
}

TEST_CASE("agreeing on 10 proposals takes a bounded number of messages", "[sim][count]") {
  SimCluster c(sim_options(3, 2202));
  const int leader = c.check_one_leader();
  c.one("warmup", 3, false);
  c.reset_stats();
  const SimTime start = c.now();
  constexpr int kProposals = 10;
  Index last = 0;
  for (int k = 0; k < kProposals; ++k) {
    Result<Index> r = c.propose(leader, fmt::format("cmd-{}", k));
    REQUIRE(r.ok());
    last = r.value();
  }
  REQUIRE(c.run_until(
      [&] {
        for (int i = 0; i < c.size(); ++i) {
          if (c.node(i).applied_index() < last) return false;
        }
        return true;
      },
      seconds(1)));
  const SimTime elapsed = c.now() - start;
  const auto heartbeat_rounds = static_cast<std::uint64_t>(elapsed / milliseconds(10)) + 1;
  INFO("messages: " << c.stats().total << " in " << elapsed << " us");
  // Per proposal and follower: one AppendEntries and its answer (10 * 2 * 2 = 40), plus
  // commit-index updates (at most one more round per proposal: 40 more), plus heartbeats and
  // their answers during the run (2 * 2 per tick).
  CHECK(c.stats().total <= kProposals * 2 * 2 * 2 + heartbeat_rounds * 4);
}

TEST_CASE("an idle leader sends only heartbeats", "[sim][count]") {
  SimCluster c(sim_options(3, 2203));
  c.check_one_leader();
  c.one("warmup", 3, false);
  c.run_for(milliseconds(100));
  c.reset_stats();
  c.run_for(seconds(1));
  // 100 ticks, a heartbeat to each of 2 followers per tick, each answered: 400, plus a few
  // for a tick at either edge of the interval.
  INFO("messages: " << c.stats().total);
  CHECK(c.stats().total <= 400 + 8);
  CHECK(c.stats().count(pb::MSG_APPEND) + c.stats().count(pb::MSG_APPEND_RESP) <= 8);
}

}  // namespace
}  // namespace raft::sim
