// The invariant checker itself: it must notice each kind of violation it claims to check
// (otherwise every scenario test would pass vacuously). Fed by hand with crafted storage.
#include "sim/invariant_checker.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/raw_node.h"
#include "sim/sim_failure.h"

namespace raft::sim {
namespace {

pb::Entry entry(Index index, Term term, const std::string& data) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

pb::Configuration voters(const std::vector<NodeId>& ids) {
  pb::Configuration configuration;
  for (const NodeId& id : ids) {
    pb::Server* s = configuration.add_servers();
    s->set_id(id);
    s->set_suffrage(pb::VOTER);
  }
  return configuration;
}

// A node with its own storage, configured with `members`.
struct TestNode {
  TestNode(const NodeId& id, const std::vector<NodeId>& members) {
    storage.set_configuration(voters(members));
    Config config;
    config.id = id;
    auto created = RawNode::create(config, &storage);
    REQUIRE(created.ok());
    raw = std::move(created).value();
  }
  // Drains the node's Ready into its storage (no messages: single-node tests only).
  void drain() {
    while (raw->has_ready()) {
      Ready rd = raw->ready();
      REQUIRE(storage.append(rd.entries).ok());
      if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
      raw->advance();
    }
  }
  MemoryStorage storage;
  std::unique_ptr<RawNode> raw;
};

InvariantChecker make_checker() {
  return InvariantChecker({"n1", "n2"}, [] { return std::string(); });
}

TEST_CASE("the invariant checker reports two leaders in one term", "[sim][invariants]") {
  // Two one-node clusters each elect themselves in term 1; seen as one cluster, that is two
  // leaders in term 1.
  TestNode a("n1", {"n1"});
  TestNode b("n2", {"n2"});
  REQUIRE(a.raw->campaign().ok());
  REQUIRE(b.raw->campaign().ok());
  a.drain();
  b.drain();
  REQUIRE(a.raw->role() == Role::kLeader);
  REQUIRE(b.raw->role() == Role::kLeader);
  REQUIRE(a.raw->term() == b.raw->term());
  InvariantChecker checker = make_checker();
  checker.after_event(0, *a.raw, a.storage);
  CHECK_THROWS_WITH(checker.after_event(1, *b.raw, b.storage), Catch::Contains("election safety"));
}

TEST_CASE("the invariant checker reports an overwritten committed entry", "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  const std::vector<pb::Entry> log = {entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")};
  checker.before_append(0, false, a.storage, log);
  REQUIRE(a.storage.append(log).ok());
  pb::HardState hs;
  hs.set_term(1);
  hs.set_commit(2);
  a.storage.set_hard_state(hs);
  checker.after_persist(0, a.storage);
  // Replacing index 3 (uncommitted) is fine; replacing index 2 (committed) is not.
  checker.before_append(0, false, a.storage, {entry(3, 2, "c2")});
  CHECK_THROWS_WITH(checker.before_append(0, false, a.storage, {entry(2, 2, "b2")}),
                    Catch::Contains("committed entry is overwritten"));
}

TEST_CASE("the invariant checker reports two entries with the same index and term",
          "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  TestNode b("n2", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  checker.before_append(0, false, a.storage, {entry(1, 1, "a")});
  CHECK_THROWS_WITH(checker.before_append(1, false, b.storage, {entry(1, 1, "other")}),
                    Catch::Contains("log matching"));
}

TEST_CASE("the invariant checker reports entries applied out of order", "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  REQUIRE(a.storage.append({entry(1, 1, "a"), entry(2, 1, "b")}).ok());
  pb::HardState hs;
  hs.set_term(1);
  hs.set_commit(2);
  a.storage.set_hard_state(hs);
  CHECK_THROWS_WITH(checker.on_apply(0, a.storage, entry(2, 1, "b")),
                    Catch::Contains("exactly once"));
}

TEST_CASE("the invariant checker reports different entries applied at one index",
          "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  TestNode b("n2", {"n1", "n2"});
  pb::HardState hs;
  hs.set_term(1);
  hs.set_commit(1);
  REQUIRE(a.storage.append({entry(1, 1, "a")}).ok());
  a.storage.set_hard_state(hs);
  REQUIRE(b.storage.append({entry(1, 1, "b")}).ok());
  b.storage.set_hard_state(hs);
  InvariantChecker checker = make_checker();
  checker.on_apply(0, a.storage, entry(1, 1, "a"));
  CHECK_THROWS_WITH(checker.on_apply(1, b.storage, entry(1, 1, "b")),
                    Catch::Contains("state machine safety"));
}

TEST_CASE("the invariant checker reports a vote changed within a term", "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  pb::HardState hs;
  hs.set_term(3);
  hs.set_vote("n1");
  a.storage.set_hard_state(hs);
  checker.after_persist(0, a.storage);
  hs.set_vote("n2");
  a.storage.set_hard_state(hs);
  CHECK_THROWS_WITH(checker.after_persist(0, a.storage), Catch::Contains("vote changed"));
}

TEST_CASE("the invariant checker reports a leader that truncates its own log",
          "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  REQUIRE(a.storage.append({entry(1, 1, "a"), entry(2, 1, "b")}).ok());
  CHECK_THROWS_WITH(checker.before_append(0, true, a.storage, {entry(2, 1, "b")}),
                    Catch::Contains("truncates its own log"));
}

TEST_CASE("the invariant checker reports a vote sent before it is durable", "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  pb::Message vote;
  vote.set_type(pb::MSG_VOTE_RESP);
  vote.set_from("n1");
  vote.set_to("n2");
  vote.set_term(2);
  CHECK_THROWS_WITH(checker.before_send(0, a.storage, vote), Catch::Contains("before that vote"));
  pb::HardState hs;
  hs.set_term(2);
  hs.set_vote("n2");
  a.storage.set_hard_state(hs);
  checker.before_send(0, a.storage, vote);
}

TEST_CASE("the invariant checker reports an append acknowledged before it is durable",
          "[sim][invariants]") {
  TestNode a("n1", {"n1", "n2"});
  InvariantChecker checker = make_checker();
  pb::Message ack;
  ack.set_type(pb::MSG_APPEND_RESP);
  ack.set_from("n1");
  ack.set_to("n2");
  ack.set_term(1);
  ack.set_index(1);
  CHECK_THROWS_WITH(checker.before_send(0, a.storage, ack), Catch::Contains("before they are"));
  REQUIRE(a.storage.append({entry(1, 1, "a")}).ok());
  checker.before_send(0, a.storage, ack);
}

}  // namespace
}  // namespace raft::sim
