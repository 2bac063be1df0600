// Client proposals (Raft paper 5.1, dissertation 6.2): only the leader appends; others answer
// kNotLeader with the leader they know of.
#include "test_util.h"

namespace raft::test {
namespace {

TEST_CASE("a proposal on the leader returns the index of its new entry", "[proposal]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  Result<Index> first = n->propose("set x=1");
  Result<Index> second = n->propose("set y=2");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first == 2);
  CHECK(*second == 3);
  Drained d = n.drain();
  REQUIRE(d.entries.size() == 2);
  CHECK(d.entries[0].data() == "set x=1");
  CHECK(d.entries[0].term() == n->term());
  CHECK(d.entries[0].type() == pb::ENTRY_NORMAL);
  CHECK(d.entries[1].data() == "set y=2");
}

TEST_CASE("a proposal on a follower that knows the leader fails naming the leader", "[proposal]") {
  TestNode n(NodeSetup{});
  n.step(heartbeat("n2", "n1", 1, 0));
  n.drain();
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
  CHECK(r.status().leader_hint() == "n2");
  CHECK(n.drain().entries.empty());
}

TEST_CASE("a proposal on a follower that knows no leader fails with an empty hint", "[proposal]") {
  TestNode n(NodeSetup{});
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
  CHECK(r.status().leader_hint().empty());
}

TEST_CASE("a proposal on a candidate fails with kNotLeader", "[proposal]") {
  TestNode n(NodeSetup{});
  n.step(heartbeat("n2", "n1", 1, 0));
  n.drain();
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kCandidate);
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
  // A candidate knows no leader in its new term.
  CHECK(r.status().leader_hint().empty());
}

TEST_CASE("a proposal on a pre-candidate fails with kNotLeader", "[proposal]") {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/true);
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kPreCandidate);
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
}

TEST_CASE("a leader that stepped down refuses proposals naming the new leader", "[proposal]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  n.step(heartbeat("n3", "n1", n->term() + 1, 0));
  n.drain();
  Result<Index> r = n->propose("set x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
  CHECK(r.status().leader_hint() == "n3");
}

TEST_CASE("Status::not_leader carries the leader hint", "[proposal]") {
  Status st = Status::not_leader("n2");
  CHECK(st.code() == ErrorCode::kNotLeader);
  CHECK(st.leader_hint() == "n2");
  CHECK_FALSE(st.ok());
}

}  // namespace
}  // namespace raft::test
