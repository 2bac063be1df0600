// Malformed or impossible input to step() gets a clear error and changes nothing: a broken
// or malicious peer must not crash a node or corrupt its log.
#include <catch2/catch.hpp>

#include "unit/test_util.h"

using namespace raft;
using namespace raft::test;

namespace {

// A follower of n2 in term 2 holding entries 1..3, all committed.
NodeSetup committed_follower() {
  NodeSetup setup;
  setup.entries = make_log({1, 2, 2});
  setup.hard_state = make_hard_state(2, "n2", 3);
  return setup;
}

}  // namespace

TEST_CASE("a message addressed to another node is refused and changes nothing", "[step]") {
  TestNode n(committed_follower());
  n.drain();
  Status s = n->step(heartbeat("n2", "n3", 9, 3));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(n->term() == 2);
  CHECK_FALSE(n->has_ready());
}

TEST_CASE("a message of unknown type is refused and changes nothing", "[step]") {
  TestNode n(committed_follower());
  n.drain();
  pb::Message m = make_message(pb::MSG_UNKNOWN, "n2", "n1", 9);
  CHECK(n->step(m).code() == ErrorCode::kInvalidArgument);
  m.set_type(static_cast<pb::MessageType>(42));
  CHECK(n->step(m).code() == ErrorCode::kInvalidArgument);
  CHECK(n->term() == 2);
  CHECK_FALSE(n->has_ready());
}

TEST_CASE("a message claiming to come from the node itself is refused", "[step]") {
  TestNode n(committed_follower());
  n.drain();
  CHECK(n->step(vote_request("n1", "n1", 9, 3, 2)).code() == ErrorCode::kInvalidArgument);
  CHECK(n->step(heartbeat("", "n1", 9, 3)).code() == ErrorCode::kInvalidArgument);
  CHECK(n->term() == 2);
  CHECK_FALSE(n->has_ready());
}

TEST_CASE("an append that contradicts committed entries is answered with the commit index only",
          "[step]") {
  TestNode n(committed_follower());
  n.drain();
  // A (broken) leader of term 2 claims entries 2 and 3 have term 1, contradicting committed
  // entries: the follower keeps its log and answers with its commit index.
  REQUIRE(
      n->step(append_request("n2", "n1", 2, 1, 1, {make_entry(2, 1), make_entry(3, 1)}, 3)).ok());
  Drained d = n.drain();
  CHECK(n.storage().last_index() == 3);
  CHECK(n.storage().term(3).value() == 2);
  CHECK(n->status().commit == 3);
  auto answers = filter(d.sent(), pb::MSG_APPEND_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK_FALSE(answers.front().reject());
  CHECK(answers.front().index() == 3);
}

TEST_CASE("a heartbeat with a commit index past the log does not move commit past the last entry",
          "[step]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1});
  setup.hard_state = make_hard_state(1, "n2", 1);
  TestNode n(setup);
  REQUIRE(n->step(heartbeat("n2", "n1", 1, 1000)).ok());
  n.drain();
  CHECK(n->status().commit == 2);
}

TEST_CASE("a message carrying an index past kMaxIndex is refused and changes nothing", "[step]") {
  TestNode n(committed_follower());
  n.drain();
  pb::Message snapshot = make_message(pb::MSG_SNAPSHOT, "n2", "n1", 2);
  snapshot.mutable_snapshot()->set_index(kMaxIndex + 1);
  snapshot.mutable_snapshot()->set_term(2);
  snapshot.set_data("x");
  pb::Message append = make_message(pb::MSG_APPEND, "n2", "n1", 2);
  append.set_index(3);
  append.set_log_term(2);
  pb::Entry* e = append.add_entries();
  e->set_index(~Index{0});
  e->set_term(2);
  pb::Message commit = heartbeat("n2", "n1", 2, 3);
  commit.set_commit(kMaxIndex + 1);
  for (const pb::Message& m : {snapshot, append, commit}) {
    INFO(pb::MessageType_Name(m.type()));
    Status s = n->step(m);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message().find("past the highest index") != std::string::npos);
  }
  CHECK(n->term() == 2);
  CHECK_FALSE(n->has_ready());
  append.mutable_entries(0)->set_index(4);  // the same append in range is taken
  CHECK(n->step(append).ok());
  CHECK(n->has_ready());
}

TEST_CASE("a message carrying a term past kMaxTerm is refused and changes nothing", "[step]") {
  TestNode n(committed_follower());
  n.drain();
  pb::Message high = heartbeat("n3", "n1", ~Term{0}, 0);
  pb::Message vote = make_message(pb::MSG_VOTE, "n3", "n1", kMaxTerm + 1);
  vote.set_index(3);
  vote.set_log_term(2);
  pb::Message append = make_message(pb::MSG_APPEND, "n2", "n1", 2);
  append.set_index(3);
  append.set_log_term(2);
  pb::Entry* e = append.add_entries();
  e->set_index(4);
  e->set_term(kMaxTerm + 1);
  for (const pb::Message& m : {high, vote, append}) {
    INFO(pb::MessageType_Name(m.type()));
    Status s = n->step(m);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message().find("past the highest term") != std::string::npos);
  }
  CHECK(n->term() == 2);
  CHECK_FALSE(n->has_ready());
  // A campaign after it does not wrap the term around.
  n.tick(3 * kElectionTick);
  n.drain();
  CHECK(n->term() > 2);
  CHECK(n->term() <= kMaxTerm);
}
