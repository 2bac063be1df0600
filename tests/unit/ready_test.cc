// The Ready contract of raft/ready.h: nothing is handed out twice, committed entries come once
// and in order, a commit-only change needs no fsync, and a restart honours Config::applied.
#include "test_util.h"

namespace raft::test {
namespace {

TEST_CASE("a fresh follower has no Ready", "[ready]") {
  TestNode n(NodeSetup{});
  // A freshly built node may announce its initial soft state once; after that it is quiet.
  n.drain();
  CHECK_FALSE(n->has_ready());
}

TEST_CASE("ready() after advance() does not repeat messages or entries", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 1, 0, 0, {make_entry(1, 1, "a")}, 0));
  Drained first = n.drain();
  REQUIRE(first.entries.size() == 1);
  REQUIRE(first.sent().size() == 1);
  CHECK_FALSE(n->has_ready());
  n.step(heartbeat("n2", "n1", 1, 0));
  Drained second = n.drain();
  CHECK(second.entries.empty());
  CHECK(filter(second.sent(), pb::MSG_APPEND_RESP).empty());
}

TEST_CASE("committed entries are handed out once and in order", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 1, 0, 0, make_log({1, 1, 1}), 1));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 2));
  n.drain();
  n.step(append_request("n2", "n1", 1, 3, 1, {make_entry(4, 1, "cmd4")}, 4));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 4));
  n.drain();
  CHECK(ids_of(n.applied()) == ids_of(make_log({1, 1, 1, 1})));
}

TEST_CASE("a Ready that only advances the commit index needs no fsync", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 1, 0, 0, make_log({1, 1}), 0));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 2));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  CHECK(rd.entries.empty());
  REQUIRE(rd.hard_state.has_value());
  CHECK(rd.hard_state->commit() == 2);
  CHECK_FALSE(rd.must_sync);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a Ready with new entries needs an fsync", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 1, 0, 0, make_log({1}), 0));
  Ready rd = n->ready();
  CHECK(rd.must_sync);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a restarted node hands out the committed entries not yet applied", "[ready]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(1, {}, 3);
  TestNode n(setup);
  n.drain();
  CHECK(ids_of(n.applied()) == ids_of(make_log({1, 1, 1})));
}

TEST_CASE("a restarted node does not hand out entries at or below Config::applied", "[ready]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(1, {}, 3);
  setup.config.applied = 2;
  TestNode n(setup);
  n.drain();
  CHECK(ids_of(n.applied()) == ids_of({make_entry(3, 1)}));
  CHECK(n->status().applied == 3);
}

TEST_CASE("max_committed_size_per_ready spreads committed entries over several Readys", "[ready]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(1, {}, 3);
  setup.config.max_committed_size_per_ready = 1;
  TestNode n(setup);
  std::size_t readies = 0;
  for (int i = 0; i < 10 && n->has_ready(); ++i) {
    Ready rd = n.handle_ready();
    CHECK(rd.committed_entries.size() <= 1);
    if (!rd.committed_entries.empty()) ++readies;
  }
  CHECK(readies == 3);
  CHECK(ids_of(n.applied()) == ids_of(make_log({1, 1, 1})));
}

TEST_CASE("a node restarted from its storage keeps its log and hard state", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 4, 0, 0, make_log({1, 4}), 1));
  n.drain();
  n.restart();
  CHECK(n->term() == 4);
  CHECK(n->status().last_index == 2);
  CHECK(n->status().last_term == 4);
  CHECK(n->status().commit == 1);
  // Entry 1 was applied before the restart and is not handed out again.
  n.drain();
  CHECK(ids_of(n.applied()) == ids_of(make_log({1})));
}

TEST_CASE("a crash loses the entries of a Ready that was never persisted", "[ready]") {
  NodeSetup setup;
  setup.voters = {"n1"};
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kLeader);
  Index last = n.storage().last_index();
  REQUIRE(n->propose("lost").ok());
  Ready rd = n->ready();
  REQUIRE(rd.entries.size() == 1);
  // Crash before step 2: the RawNode is dropped, the storage keeps what was durable.
  n.restart();
  CHECK(n->status().last_index == last);
  CHECK(n.storage().last_index() == last);
  CHECK(n->role() == Role::kFollower);
}

TEST_CASE("a Ready carries the soft state when the leader or role changes", "[ready]") {
  TestNode n(NodeSetup{});
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 0));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  REQUIRE(rd.soft_state.has_value());
  CHECK(rd.soft_state->leader == "n2");
  CHECK(rd.soft_state->role == Role::kFollower);
  n.persist(rd);
  n->advance();
  REQUIRE(n->campaign().ok());
  rd = n->ready();
  REQUIRE(rd.soft_state.has_value());
  CHECK(rd.soft_state->leader.empty());
  CHECK(rd.soft_state->role == Role::kCandidate);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a Ready without term, vote or commit change has no hard state and needs no sync",
          "[ready]") {
  TestNode n(NodeSetup{});
  n.step(append_request("n2", "n1", 1, 0, 0, make_log({1}), 1));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 1));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  CHECK_FALSE(rd.hard_state.has_value());
  CHECK_FALSE(rd.soft_state.has_value());
  CHECK(rd.entries.empty());
  CHECK_FALSE(rd.must_sync);
  CHECK(filter(rd.messages, pb::MSG_HEARTBEAT_RESP).size() +
            filter(rd.persisted_messages, pb::MSG_HEARTBEAT_RESP).size() ==
        1);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a leader elected alone sends its first appends only after its new term is persisted",
          "[ready]") {
  NodeSetup setup;
  setup.voters = {"n1"};
  TestNode n(setup);
  pb::Configuration with_learner = make_configuration({"n1"});
  pb::Server* learner = with_learner.add_servers();
  learner->set_id("n2");
  learner->set_suffrage(pb::NONVOTER);
  n.storage().set_configuration(with_learner);
  n.restart();
  n.drain();
  REQUIRE(n->campaign().ok());
  REQUIRE(n->role() == Role::kLeader);  // no vote round: the only voter
  Ready rd = n->ready();
  REQUIRE(rd.hard_state.has_value());
  CHECK(rd.hard_state->term() == 1);
  CHECK(rd.must_sync);
  CHECK(filter(rd.messages, pb::MSG_APPEND).empty());
  const auto appends = filter(rd.persisted_messages, pb::MSG_APPEND);
  REQUIRE(appends.size() == 1);
  CHECK(appends[0].to() == "n2");
  CHECK(appends[0].term() == 1);
  n.persist(rd);
  n->advance();
  // Once the term is durable, a new proposal's appends may leave before their fsync again.
  n.step(append_response("n2", "n1", 1,
                         appends[0].index() + static_cast<Index>(appends[0].entries_size())));
  n.drain();
  REQUIRE(n->propose("x").ok());
  Ready next = n->ready();
  CHECK((!next.hard_state.has_value() || next.hard_state->term() == 1));
  CHECK(filter(next.messages, pb::MSG_APPEND).size() == 1);
  n.persist(next);
  n->advance();
}

TEST_CASE("has_ready() is false between ready() and advance()", "[ready]") {
  TestNode n(NodeSetup{});
  n.step(heartbeat("n2", "n1", 1, 0));
  Ready rd = n->ready();
  n.step(heartbeat("n2", "n1", 1, 0));
  CHECK_FALSE(n->has_ready());
  n.persist(rd);
  n->advance();
  CHECK(n->has_ready());
  n.drain();
}

}  // namespace
}  // namespace raft::test
