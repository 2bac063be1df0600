// Term rules (Raft paper figure 2, "Rules for Servers: All Servers"): a higher term makes any
// node a follower of that term with no vote; a message from an older term changes nothing.
#include "test_util.h"

namespace raft::test {
namespace {

TEST_CASE("a follower that sees a higher term adopts it and clears its vote", "[term]") {
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2, "n2");
  TestNode n(setup);
  n.step(heartbeat("n3", "n1", 4, 0));
  Drained d = n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 4);
  CHECK(n->status().vote.empty());
  CHECK(n->leader() == "n3");
  REQUIRE_FALSE(d.hard_states.empty());
  CHECK(d.hard_states.back().term() == 4);
  CHECK(d.hard_states.back().vote().empty());
  CHECK(n.storage().hard_state().term() == 4);
  CHECK(n.storage().hard_state().vote().empty());
}

TEST_CASE("a candidate that sees a higher term steps down to follower", "[term]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kCandidate);
  REQUIRE(n->term() == 1);
  n.step(append_request("n3", "n1", 5, 0, 0, {}, 0));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 5);
  CHECK(n->status().vote.empty());
  CHECK(n->leader() == "n3");
}

TEST_CASE("a candidate that sees a higher term in a vote answer steps down", "[term]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kCandidate);
  n.step(vote_response("n2", "n1", 7, /*reject=*/true));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 7);
  CHECK(n->status().vote.empty());
}

TEST_CASE("a candidate that hears from a leader of its own term becomes its follower", "[term]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kCandidate);
  Term term = n->term();
  n.step(append_request("n2", "n1", term, 0, 0, {}, 0));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == term);
  CHECK(n->leader() == "n2");
  // Its own vote in this term stays: it must not vote again in this term.
  CHECK(n->status().vote == "n1");
}

TEST_CASE("a leader that sees a higher term steps down to follower", "[term]") {
  TestNode n(NodeSetup{});
  elect(n);
  Term term = n->term();
  n.step(heartbeat("n2", "n1", term + 1, 0));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == term + 1);
  CHECK(n->leader() == "n2");
  CHECK(n->status().vote.empty());
}

TEST_CASE("a leader that sees a higher term in an append answer steps down", "[term]") {
  TestNode n(NodeSetup{});
  elect(n);
  Term term = n->term();
  n.step(append_response("n2", "n1", term + 3, 0, /*reject=*/true));
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == term + 3);
}

TEST_CASE("an append from an older term does not change a follower", "[term]") {
  NodeSetup setup;
  setup.entries = make_log({1, 3});
  setup.hard_state = make_hard_state(3);
  TestNode n(setup);
  n.step(heartbeat("n2", "n1", 3, 0));
  n.drain();
  REQUIRE(n->leader() == "n2");

  n.step(append_request("n3", "n1", 2, 1, 1, {make_entry(2, 2, "stale")}, 2));
  Drained d = n.drain();
  CHECK(d.entries.empty());
  CHECK(n->term() == 3);
  CHECK(n->leader() == "n2");
  CHECK(n->role() == Role::kFollower);
  CHECK(n.storage().last_index() == 2);
  CHECK(n.storage().term(2).value() == 3);
  CHECK(n->status().commit == 0);
  for (const pb::Message& m : filter(d.sent(), pb::MSG_APPEND_RESP)) {
    // An answer, if any, only tells the stale leader about the newer term.
    CHECK(m.term() == 3);
  }
}

TEST_CASE("a message from an older term does not change a leader", "[term]") {
  NodeSetup setup;
  setup.entries = make_log({1});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  elect(n);
  REQUIRE(n->term() == 3);
  n.step(heartbeat("n2", "n1", 2, 0));
  n.step(append_request("n2", "n1", 2, 1, 1, {make_entry(2, 2)}, 2));
  n.step(vote_request("n3", "n1", 2, 9, 2));
  Drained d = n.drain();
  CHECK(n->role() == Role::kLeader);
  CHECK(n->term() == 3);
  CHECK(n->leader() == "n1");
  for (const pb::Message& m : filter(d.sent(), pb::MSG_VOTE_RESP)) CHECK(m.reject());
}

}  // namespace
}  // namespace raft::test
