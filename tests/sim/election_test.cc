// Leader election scenarios (after the 6.824 Raft tests 2A), on the deterministic simulator.
#include <catch2/catch.hpp>
#include <set>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("initial election elects exactly one leader", "[sim][election]") {
  SimCluster c(sim_options(3, 1001));
  c.check_one_leader();
  c.run_for(milliseconds(50));
  CHECK(c.leaders().size() == 1);
  CHECK(c.check_terms() >= 1);
}

TEST_CASE("the term and the leader stay stable while nothing fails", "[sim][election]") {
  SimCluster c(sim_options(3, 1002));
  const int leader = c.check_one_leader();
  c.run_for(milliseconds(50));
  const Term term = c.check_terms();
  // Ten base election timeouts without failures: no node may start an election.
  c.run_for(10 * c.election_timeout());
  CHECK(c.check_terms() == term);
  CHECK(c.check_one_leader() == leader);
  CHECK(c.leaders().size() == 1);
}

TEST_CASE("a new leader is elected when the leader is cut off", "[sim][election]") {
  SimCluster c(sim_options(3, 1003));
  const int leader1 = c.check_one_leader();
  c.disconnect(leader1);
  const int leader2 = c.check_one_leader();
  CHECK(leader2 != leader1);
}

TEST_CASE("an old leader that rejoins does not disturb the new leader", "[sim][election]") {
  SimCluster c(sim_options(3, 1004));
  const int leader1 = c.check_one_leader();
  c.disconnect(leader1);
  const int leader2 = c.check_one_leader();
  c.run_for(milliseconds(50));
  const Term term2 = c.raw(leader2)->term();
  c.connect(leader1);
  c.run_for(4 * c.election_timeout());
  // PreVote and CheckQuorum: the returning node learns the new term and follows.
  CHECK(c.check_one_leader() == leader2);
  CHECK(c.leaders().size() == 1);
  CHECK(c.check_terms() == term2);
}

TEST_CASE("no leader is elected without a majority", "[sim][election]") {
  SimCluster c(sim_options(3, 1005));
  const int leader1 = c.check_one_leader();
  c.disconnect(leader1);
  c.disconnect((leader1 + 1) % 3);
  c.run_for(4 * c.election_timeout());
  c.check_no_leader();
}

TEST_CASE("a node without a majority does not raise its term (PreVote)", "[sim][election]") {
  SimCluster c(sim_options(3, 1006));
  const int leader1 = c.check_one_leader();
  c.run_for(milliseconds(50));
  const int lone = (leader1 + 2) % 3;
  const Term term = c.raw(lone)->term();
  c.disconnect(leader1);
  c.disconnect((leader1 + 1) % 3);
  c.run_for(10 * c.election_timeout());
  CHECK(c.raw(lone)->term() == term);
  CHECK(c.raw(lone)->role() != Role::kLeader);
}

TEST_CASE("a leader is elected again when a majority returns", "[sim][election]") {
  SimCluster c(sim_options(3, 1007));
  const int leader1 = c.check_one_leader();
  c.disconnect(leader1);
  c.disconnect((leader1 + 1) % 3);
  c.run_for(4 * c.election_timeout());
  c.check_no_leader();
  c.connect((leader1 + 1) % 3);
  c.check_one_leader();
  c.connect(leader1);
  c.check_one_leader();
  c.run_for(4 * c.election_timeout());
  CHECK(c.leaders().size() == 1);
}

TEST_CASE("a follower that was cut off rejoins without disturbing the leader (PreVote)",
          "[sim][election]") {
  SimCluster c(sim_options(5, 1009));
  const int leader = c.check_one_leader();
  c.one("x", 5, false);
  const Term term = c.raw(leader)->term();
  const int follower = (leader + 1) % 5;
  c.disconnect(follower);
  // Many election timeouts alone: without PreVote it would come back with a much higher term.
  c.run_for(20 * c.election_timeout());
  c.connect(follower);
  c.one("y", 5, false);
  c.run_for(4 * c.election_timeout());
  CHECK(c.check_one_leader() == leader);
  CHECK(c.check_terms() == term);
}

TEST_CASE("a leader cut off from the majority steps down (CheckQuorum)", "[sim][election]") {
  SimCluster c(sim_options(3, 1010));
  const int leader = c.check_one_leader();
  c.run_for(milliseconds(50));
  c.partition({{leader}, {(leader + 1) % 3, (leader + 2) % 3}});
  const SimTime start = c.now();
  REQUIRE(c.run_until([&] { return c.raw(leader)->role() != Role::kLeader; },
                      4 * c.election_timeout()));
  // It notices within two election timeouts (one full check interval after the last contact).
  CHECK(c.now() - start <= 2 * c.election_timeout() + milliseconds(10));
}

TEST_CASE("elections succeed under many random partitions of 7 nodes", "[sim][election]") {
  SimCluster c(sim_options(7, 1008));
  c.check_one_leader();
  for (int iteration = 0; iteration < 10; ++iteration) {
    // Cut off 3 random nodes; the other 4 are a majority and must (re)elect a leader.
    std::set<int> cut;
    while (cut.size() < 3) cut.insert(c.random().index(7));
    for (int i : cut) c.disconnect(i);
    const int leader = c.check_one_leader();
    CHECK(cut.count(leader) == 0);
    for (int i : cut) c.connect(i);
  }
  c.check_one_leader();
}

}  // namespace
}  // namespace raft::sim
