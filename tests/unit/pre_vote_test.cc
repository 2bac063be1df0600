// PreVote (dissertation 9.6) and the leader lease of voters (dissertation 4.2.3): a node that
// cannot win does not raise its term, and a healthy leader is not disrupted.
#include "test_util.h"

namespace raft::test {
namespace {

NodeSetup pre_vote_setup(bool check_quorum = false) {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/true, check_quorum);
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2);
  return setup;
}

// Ticks until the node leaves the follower role (at most 2 election timeouts).
Drained tick_until_not_follower(TestNode& n) {
  Drained d;
  for (int t = 0; t < 2 * kElectionTick && n->role() == Role::kFollower; ++t) {
    n.tick();
    d.add(n.drain());
  }
  REQUIRE(n->role() != Role::kFollower);
  return d;
}

TEST_CASE("with PreVote an election timeout starts a pre-vote without raising the term",
          "[prevote]") {
  TestNode n(pre_vote_setup());
  Drained d = tick_until_not_follower(n);
  CHECK(n->role() == Role::kPreCandidate);
  CHECK(n->term() == 2);
  CHECK(n.storage().hard_state().term() == 2);
  CHECK(n.storage().hard_state().vote().empty());
  for (const NodeId peer : {"n2", "n3"}) {
    auto requests = filter(d.sent(), pb::MSG_PRE_VOTE, peer);
    REQUIRE(requests.size() == 1);
    CHECK(requests.front().term() == 3);
    CHECK(requests.front().index() == 2);
    CHECK(requests.front().log_term() == 2);
  }
  CHECK(filter(d.sent(), pb::MSG_VOTE).empty());
}

TEST_CASE("with PreVote campaign() starts with a pre-vote", "[prevote]") {
  TestNode n(pre_vote_setup());
  REQUIRE(n->campaign().ok());
  Drained d = n.drain();
  CHECK(n->role() == Role::kPreCandidate);
  CHECK(n->term() == 2);
  CHECK(filter(d.sent(), pb::MSG_PRE_VOTE).size() == 2);
}

TEST_CASE("a pre-candidate with a majority of pre-votes starts a real election", "[prevote]") {
  TestNode n(pre_vote_setup());
  tick_until_not_follower(n);
  REQUIRE(n->role() == Role::kPreCandidate);
  n.step(vote_response("n2", "n1", 3, false, /*pre_vote=*/true));
  Drained d = n.drain();
  CHECK(n->role() == Role::kCandidate);
  CHECK(n->term() == 3);
  CHECK(n->status().vote == "n1");
  CHECK(n.storage().hard_state().term() == 3);
  auto requests = filter(d.sent(), pb::MSG_VOTE);
  CHECK(requests.size() == 2);
  for (const pb::Message& m : requests) CHECK(m.term() == 3);
}

TEST_CASE("a pre-candidate refused by a majority does not raise its term", "[prevote]") {
  TestNode n(pre_vote_setup());
  tick_until_not_follower(n);
  n.step(vote_response("n2", "n1", 2, /*reject=*/true, /*pre_vote=*/true));
  n.step(vote_response("n3", "n1", 2, /*reject=*/true, /*pre_vote=*/true));
  n.drain();
  CHECK(n->role() != Role::kCandidate);
  CHECK(n->role() != Role::kLeader);
  CHECK(n->term() == 2);
}

TEST_CASE("a partitioned node with PreVote does not raise its term however long it waits",
          "[prevote]") {
  TestNode n(pre_vote_setup());
  for (int t = 0; t < 50 * kElectionTick; ++t) {
    n.tick();
    n.drain();
  }
  CHECK(n->term() == 2);
  CHECK(n.storage().hard_state().term() == 2);
  CHECK(n->role() != Role::kCandidate);
  CHECK(n->role() != Role::kLeader);
}

TEST_CASE("a follower that heard from its leader recently refuses a pre-vote", "[prevote]") {
  TestNode n(pre_vote_setup(/*check_quorum=*/true));
  n.step(heartbeat("n2", "n1", 2, 0));
  n.drain();
  n.tick(2);
  n.drain();
  // n3 has an up-to-date log: only the lease can refuse it.
  n.step(vote_request("n3", "n1", 3, 2, 2, /*pre_vote=*/true));
  Drained d = n.drain();
  for (const pb::Message& m : filter(d.sent(), pb::MSG_PRE_VOTE_RESP)) CHECK(m.reject());
  CHECK(n->term() == 2);
  CHECK(n->leader() == "n2");
  CHECK(n->role() == Role::kFollower);
}

TEST_CASE("a follower that heard from its leader recently ignores a vote request", "[prevote]") {
  TestNode n(pre_vote_setup(/*check_quorum=*/true));
  n.step(heartbeat("n2", "n1", 2, 0));
  n.drain();
  n.tick(2);
  n.drain();
  n.step(vote_request("n3", "n1", 3, 2, 2));
  Drained d = n.drain();
  for (const pb::Message& m : filter(d.sent(), pb::MSG_VOTE_RESP)) CHECK(m.reject());
  CHECK(n->term() == 2);
  CHECK(n->leader() == "n2");
  CHECK(n->status().vote.empty());
}

TEST_CASE("a follower whose leader went silent for an election timeout grants a vote",
          "[prevote]") {
  NodeSetup setup = pre_vote_setup(/*check_quorum=*/true);
  setup.config.pre_vote = false;
  TestNode n(setup);
  n.step(heartbeat("n2", "n1", 2, 0));
  n.drain();
  n.tick(kElectionTick);
  n.drain();
  // A term high enough to be above any election n1 may have started itself.
  n.step(vote_request("n3", "n1", 10, 2, 2));
  Drained d = n.drain();
  auto answers = filter(d.sent(), pb::MSG_VOTE_RESP, "n3");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  CHECK(n->term() == 10);
  CHECK(n->status().vote == "n3");
}

TEST_CASE("a node rejoining after a partition does not disrupt a healthy leader with PreVote",
          "[prevote]") {
  Cluster c(/*pre_vote=*/true, /*check_quorum=*/true);
  NodeId leader = c.wait_for_leader();
  Term term = c.node(leader).node().term();
  NodeId outcast = leader == "n3" ? "n2" : "n3";
  c.isolate(outcast);
  c.tick(10 * kElectionTick);
  CHECK(c.node(outcast).node().term() == term);
  c.heal();
  c.tick(5 * kElectionTick);
  CHECK(c.leader() == leader);
  CHECK(c.node(leader).node().term() == term);
  CHECK(c.node(outcast).node().term() == term);
  CHECK(c.node(outcast).node().leader() == leader);
}

TEST_CASE("a pre-candidate that hears from a leader of its term returns to follower", "[prevote]") {
  TestNode n(pre_vote_setup());
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kPreCandidate);
  n.step(heartbeat("n2", "n1", 2, 0));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->leader() == "n2");
  CHECK(n->term() == 2);
}

TEST_CASE("a pre-vote from a term not above the voter's is refused", "[prevote]") {
  NodeSetup setup = pre_vote_setup();
  setup.hard_state = make_hard_state(5);
  TestNode n(setup);
  // n2 is a pre-candidate in term 3 (asking for term 4) with an up-to-date log.
  n.step(vote_request("n2", "n1", 4, 2, 2, /*pre_vote=*/true));
  Drained d = n.drain();
  for (const pb::Message& m : filter(d.sent(), pb::MSG_PRE_VOTE_RESP, "n2")) {
    CHECK(m.reject());
    CHECK(m.term() == 5);
  }
  CHECK(n->term() == 5);
}

TEST_CASE("a pre-candidate refused by a voter of a higher term adopts that term", "[prevote]") {
  TestNode n(pre_vote_setup());
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kPreCandidate);
  n.step(vote_response("n2", "n1", 7, /*reject=*/true, /*pre_vote=*/true));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 7);
}

}  // namespace
}  // namespace raft::test
