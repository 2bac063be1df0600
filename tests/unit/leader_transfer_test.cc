// Leadership transfer (dissertation 3.10): the leader catches the target up, sends it
// TimeoutNow, and the target campaigns at once; the transfer blocks proposals and gives up
// after an election timeout.
#include "test_util.h"

namespace raft::test {
namespace {

TEST_CASE("transfer to an up-to-date follower sends it TimeoutNow", "[transfer]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->transfer_leadership("n2").ok());
  Drained d = n.drain();
  auto timeouts = filter(d.sent(), pb::MSG_TIMEOUT_NOW);
  REQUIRE(timeouts.size() == 1);
  CHECK(timeouts.front().to() == "n2");
  CHECK(timeouts.front().term() == n->term());
  CHECK(n->status().transfer_target == "n2");
}

TEST_CASE("transfer to a lagging follower waits until it is caught up", "[transfer]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  ack_appends(n, d.sent(), {"n3"});
  n.drain();
  REQUIRE(n->status().progress.at("n2").match < n->status().last_index);
  REQUIRE(n->transfer_leadership("n2").ok());
  Drained before = n.drain();
  CHECK(filter(before.sent(), pb::MSG_TIMEOUT_NOW).empty());
  CHECK(n->status().transfer_target == "n2");
  // n2 now stores everything the leader has.
  n.step(append_response("n2", "n1", n->term(), n->status().last_index));
  Drained after = n.drain();
  auto timeouts = filter(after.sent(), pb::MSG_TIMEOUT_NOW, "n2");
  CHECK(timeouts.size() == 1);
}

TEST_CASE("a node receiving TimeoutNow campaigns at once with a real vote marked transfer",
          "[transfer]") {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/true, /*check_quorum=*/true);
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  n.step(append_request("n2", "n1", 2, 2, 2, {}, 2));
  n.drain();
  REQUIRE(n->leader() == "n2");
  n.step(make_message(pb::MSG_TIMEOUT_NOW, "n2", "n1", 2));
  Drained d = n.drain();
  // No PreVote, no waiting for a timeout.
  CHECK(n->role() == Role::kCandidate);
  CHECK(n->term() == 3);
  CHECK(filter(d.sent(), pb::MSG_PRE_VOTE).empty());
  auto requests = filter(d.sent(), pb::MSG_VOTE);
  REQUIRE(requests.size() == 2);
  for (const pb::Message& m : requests) {
    CHECK(m.term() == 3);
    CHECK(m.transfer());
    CHECK(m.index() == 2);
    CHECK(m.log_term() == 2);
  }
}

TEST_CASE("a follower in its leader's lease grants a vote marked transfer", "[transfer]") {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/true, /*check_quorum=*/true);
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  n.step(heartbeat("n2", "n1", 2, 0));
  n.drain();
  n.step(vote_request("n3", "n1", 3, 2, 2, /*pre_vote=*/false, /*transfer=*/true));
  Drained d = n.drain();
  auto answers = filter(d.sent(), pb::MSG_VOTE_RESP, "n3");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  CHECK(n->term() == 3);
  CHECK(n->status().vote == "n3");
}

TEST_CASE("proposals during a leadership transfer fail with kTransferInProgress", "[transfer]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  ack_appends(n, d.sent(), {"n3"});
  n.drain();
  REQUIRE(n->transfer_leadership("n2").ok());
  n.drain();
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kTransferInProgress);
}

TEST_CASE("a leadership transfer aborts after an election timeout", "[transfer]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  ack_appends(n, d.sent(), {"n3"});
  n.drain();
  REQUIRE(n->transfer_leadership("n2").ok());
  n.drain();
  n.tick();
  n.drain();
  CHECK(n->status().transfer_target == "n2");
  for (int t = 1; t < 2 * kElectionTick && !n->status().transfer_target.empty(); ++t) {
    n.tick();
    n.drain();
  }
  CHECK(n->status().transfer_target.empty());
  CHECK(n->role() == Role::kLeader);
  CHECK(n->propose("set x=1").ok());
}

TEST_CASE("transfer_leadership on a follower fails with kNotLeader", "[transfer]") {
  TestNode n(NodeSetup{});
  n.step(heartbeat("n2", "n1", 1, 0));
  n.drain();
  Status st = n->transfer_leadership("n3");
  CHECK(st.code() == ErrorCode::kNotLeader);
  CHECK(st.leader_hint() == "n2");
}

TEST_CASE("a leadership transfer hands leadership to the target in a cluster", "[transfer]") {
  Cluster c(/*pre_vote=*/true, /*check_quorum=*/true);
  NodeId leader = c.wait_for_leader();
  Term term = c.node(leader).node().term();
  NodeId target = leader == "n2" ? "n3" : "n2";
  REQUIRE(c.node(leader).node().transfer_leadership(target).ok());
  c.stabilize();
  CHECK(c.leader() == target);
  CHECK(c.node(target).node().term() == term + 1);
  CHECK(c.node(leader).node().role() == Role::kFollower);
  CHECK(c.node(leader).node().leader() == target);
}

TEST_CASE("a TimeoutNow from an older term is ignored", "[transfer]") {
  NodeSetup setup;
  setup.hard_state = make_hard_state(3);
  TestNode n(setup);
  n.step(heartbeat("n2", "n1", 3, 0));
  n.drain();
  n.step(make_message(pb::MSG_TIMEOUT_NOW, "n3", "n1", 2));
  Drained d = n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 3);
  CHECK(filter(d.sent(), pb::MSG_VOTE).empty());
}

}  // namespace
}  // namespace raft::test
