// CheckQuorum (dissertation 6.2): a leader that cannot hear a majority within an election
// timeout steps down; one that can stays.
#include "test_util.h"

namespace raft::test {
namespace {

TestNode* make_leader(TestNode& n) {
  elect_and_replicate(n);
  REQUIRE(n->role() == Role::kLeader);
  return &n;
}

NodeSetup quorum_setup(bool check_quorum) {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/false, check_quorum);
  return setup;
}

TEST_CASE("a leader that hears from no majority within an election timeout steps down",
          "[checkquorum]") {
  TestNode n(quorum_setup(true));
  make_leader(n);
  Term term = n->term();
  int ticks = 0;
  for (; ticks < 3 * kElectionTick && n->role() == Role::kLeader; ++ticks) {
    n.tick();
    n.drain();
  }
  CHECK(n->role() == Role::kFollower);
  CHECK(ticks <= 2 * kElectionTick);
  CHECK(ticks >= kElectionTick);
  // Stepping down is not an election: the term stays.
  CHECK(n->term() == term);
  CHECK(n->leader().empty());
}

TEST_CASE("a leader that hears from one follower of two stays leader", "[checkquorum]") {
  TestNode n(quorum_setup(true));
  make_leader(n);
  for (int t = 0; t < 10 * kElectionTick; ++t) {
    n.tick();
    Drained d = n.drain();
    for (const pb::Message& m : filter(d.sent(), pb::MSG_HEARTBEAT, "n2")) {
      n.step(heartbeat_response("n2", "n1", m.term()));
    }
    ack_appends(n, d.sent(), {"n2"});
    n.drain();
  }
  CHECK(n->role() == Role::kLeader);
}

TEST_CASE("without CheckQuorum a leader that hears nothing stays leader", "[checkquorum]") {
  TestNode n(quorum_setup(false));
  make_leader(n);
  n.tick(10 * kElectionTick);
  n.drain();
  CHECK(n->role() == Role::kLeader);
}

TEST_CASE("a leader cut off from the majority steps down and the majority elects another",
          "[checkquorum]") {
  Cluster c(/*pre_vote=*/true, /*check_quorum=*/true);
  NodeId old_leader = c.wait_for_leader();
  Term old_term = c.node(old_leader).node().term();
  c.isolate(old_leader);
  c.tick(4 * kElectionTick);
  CHECK(c.node(old_leader).node().role() != Role::kLeader);
  NodeId new_leader = c.leader();
  REQUIRE_FALSE(new_leader.empty());
  CHECK(new_leader != old_leader);
  CHECK(c.node(new_leader).node().term() > old_term);
  // After the partition heals, the old leader follows the new one.
  c.heal();
  c.tick(2 * kElectionTick);
  CHECK(c.leader() == new_leader);
  CHECK(c.node(old_leader).node().leader() == new_leader);
  CHECK(c.node(old_leader).node().term() == c.node(new_leader).node().term());
}

}  // namespace
}  // namespace raft::test
