// RequestVote receiver rules (Raft paper figure 2, dissertation 3.4 and 3.6.1): a vote goes to
// a candidate whose log is at least as up-to-date, at most one vote per term, and the vote is
// durable before the answer leaves.
#include "test_util.h"

namespace raft::test {
namespace {

// n1: a follower in term 2 whose log is [1:1, 2:2] (index:term), no vote yet.
TestNode make_voter() {
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2);
  return TestNode(setup);
}

// Steps a RequestVote into `n` and returns its single answer to `from`.
pb::Message vote_on(TestNode& n, const pb::Message& request) {
  n.step(request);
  Drained d = n.drain();
  auto answers = filter(d.sent(), pb::MSG_VOTE_RESP, request.from());
  REQUIRE(answers.size() == 1);
  return answers.front();
}

TEST_CASE("a vote is granted to a candidate whose last log term is higher", "[vote]") {
  TestNode n = make_voter();
  // Shorter log, but its last entry has a higher term: more up-to-date.
  pb::Message answer = vote_on(n, vote_request("n2", "n1", 3, 1, 3));
  CHECK_FALSE(answer.reject());
  CHECK(answer.term() == 3);
  CHECK(n->status().vote == "n2");
  CHECK(n->term() == 3);
}

TEST_CASE("a vote is granted to a candidate with the same last term and a log as long", "[vote]") {
  TestNode n = make_voter();
  CHECK_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
}

TEST_CASE("a vote is granted to a candidate with the same last term and a longer log", "[vote]") {
  TestNode n = make_voter();
  CHECK_FALSE(vote_on(n, vote_request("n2", "n1", 3, 7, 2)).reject());
}

TEST_CASE("a vote is refused to a candidate whose last log term is lower", "[vote]") {
  TestNode n = make_voter();
  // Much longer log, but an older last term.
  pb::Message answer = vote_on(n, vote_request("n2", "n1", 3, 10, 1));
  CHECK(answer.reject());
  CHECK(n->status().vote.empty());
  // The higher term is still adopted.
  CHECK(n->term() == 3);
}

TEST_CASE("a vote is refused to a candidate with the same last term and a shorter log", "[vote]") {
  TestNode n = make_voter();
  CHECK(vote_on(n, vote_request("n2", "n1", 3, 1, 2)).reject());
  CHECK(n->status().vote.empty());
}

TEST_CASE("a second candidate in the same term is refused a vote", "[vote]") {
  TestNode n = make_voter();
  REQUIRE_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
  CHECK(vote_on(n, vote_request("n3", "n1", 3, 5, 2)).reject());
  CHECK(n->status().vote == "n2");
  CHECK(n.storage().hard_state().vote() == "n2");
}

TEST_CASE("the same candidate asking again in the same term is granted the vote again", "[vote]") {
  TestNode n = make_voter();
  REQUIRE_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
  CHECK_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
  CHECK(n->status().vote == "n2");
}

TEST_CASE("a vote is in the Ready's hard state and its answer only in persisted_messages",
          "[vote]") {
  TestNode n = make_voter();
  n.step(vote_request("n2", "n1", 3, 2, 2));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  REQUIRE(rd.hard_state.has_value());
  CHECK(rd.hard_state->term() == 3);
  CHECK(rd.hard_state->vote() == "n2");
  CHECK(rd.must_sync);
  CHECK(filter(rd.messages, pb::MSG_VOTE_RESP).empty());
  auto answers = filter(rd.persisted_messages, pb::MSG_VOTE_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  n.persist(rd);
  n->advance();
  CHECK(n.storage().hard_state().vote() == "n2");
}

TEST_CASE("a refused vote answer is also sent only after persisting the new term", "[vote]") {
  TestNode n = make_voter();
  n.step(vote_request("n2", "n1", 3, 1, 2));
  Ready rd = n->ready();
  REQUIRE(rd.hard_state.has_value());
  CHECK(rd.hard_state->term() == 3);
  CHECK(rd.hard_state->vote().empty());
  CHECK(filter(rd.messages, pb::MSG_VOTE_RESP).empty());
  CHECK(filter(rd.persisted_messages, pb::MSG_VOTE_RESP, "n2").size() == 1);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a vote survives a restart: the node still refuses a second candidate", "[vote]") {
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(3, "n2");
  TestNode n(setup);
  CHECK(vote_on(n, vote_request("n3", "n1", 3, 2, 2)).reject());
  CHECK_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
}

TEST_CASE("a vote request from an older term is not granted", "[vote]") {
  TestNode n = make_voter();
  n.step(vote_request("n2", "n1", 1, 9, 2));
  Drained d = n.drain();
  for (const pb::Message& m : filter(d.sent(), pb::MSG_VOTE_RESP)) CHECK(m.reject());
  CHECK(n->term() == 2);
  CHECK(n->status().vote.empty());
}

TEST_CASE("a pre-vote is granted without changing the voter's term or vote", "[vote]") {
  TestNode n = make_voter();
  n.step(vote_request("n2", "n1", 3, 2, 2, /*pre_vote=*/true));
  Drained d = n.drain();
  auto answers = filter(d.sent(), pb::MSG_PRE_VOTE_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  CHECK(answers.front().term() == 3);
  CHECK(n->term() == 2);
  CHECK(n->status().vote.empty());
  CHECK(n.storage().hard_state().term() == 2);
  CHECK(n.storage().hard_state().vote().empty());
}

TEST_CASE("a pre-vote is refused to a candidate whose log is behind", "[vote]") {
  TestNode n = make_voter();
  n.step(vote_request("n2", "n1", 3, 1, 2, /*pre_vote=*/true));
  Drained d = n.drain();
  auto answers = filter(d.sent(), pb::MSG_PRE_VOTE_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK(answers.front().reject());
  CHECK(n->term() == 2);
}

TEST_CASE("a vote request from a server outside the configuration is answered on its merits",
          "[vote]") {
  // Configurations differ between nodes while a change travels: a node that does not yet know
  // the candidate as a voter must still vote, or the cluster could be left with no electable
  // leader (dissertation 4.1).
  TestNode n = make_voter();
  n.step(vote_request("n9", "n1", 5, 9, 2));
  Drained d = n.drain();
  auto answers = filter(d.persisted_messages, pb::MSG_VOTE_RESP, "n9");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  CHECK(n->term() == 5);
  CHECK(n->status().vote == "n9");
}

TEST_CASE("a candidate refuses its vote to another candidate of the same term", "[vote]") {
  TestNode n = make_voter();
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kCandidate);
  REQUIRE(n->term() == 3);
  CHECK(vote_on(n, vote_request("n2", "n1", 3, 9, 2)).reject());
  CHECK(n->status().vote == "n1");
}

TEST_CASE("a follower that grants a vote restarts its election timer", "[vote]") {
  TestNode n = make_voter();
  n.tick(kElectionTick - 1);
  n.drain();
  REQUIRE(n->role() == Role::kFollower);
  REQUIRE_FALSE(vote_on(n, vote_request("n2", "n1", 3, 2, 2)).reject());
  n.tick(kElectionTick - 1);
  n.drain();
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 3);
}

}  // namespace
}  // namespace raft::test
