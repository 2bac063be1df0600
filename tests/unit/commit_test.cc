// The leader's commit rule (Raft paper 5.3, 5.4.2 and figure 8): an entry is committed once a
// majority stores it and it is from the leader's term; the leader's own copy counts only once
// it is durable.
#include <algorithm>

#include "test_util.h"

namespace raft::test {
namespace {

bool committed_includes(const Drained& d, Index index) {
  for (const pb::Entry& e : d.committed_entries) {
    if (e.index() == index) return true;
  }
  return false;
}

TEST_CASE("the leader commits an entry once a majority stores it", "[commit]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  Result<Index> index = n->propose("set x=1");
  REQUIRE(index.ok());
  REQUIRE(*index == 2);
  n.drain();
  CHECK(n->status().commit == 1);
  n.step(append_response("n2", "n1", n->term(), 2));
  Drained d = n.drain();
  CHECK(n->status().commit == 2);
  REQUIRE_FALSE(d.hard_states.empty());
  CHECK(d.hard_states.back().commit() == 2);
  REQUIRE(committed_includes(d, 2));
  CHECK(d.committed_entries.back().data() == "set x=1");
}

TEST_CASE("the leader does not commit an entry that only it stores", "[commit]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("set x=1").ok());
  n.drain();
  n.tick(3);
  n.drain();
  CHECK(n->status().commit == 1);
  CHECK(n.storage().last_index() == 2);
}

TEST_CASE("an acknowledgement from a minority of followers commits nothing in five nodes",
          "[commit]") {
  NodeSetup setup;
  setup.voters = {"n1", "n2", "n3", "n4", "n5"};
  TestNode n(setup);
  Drained d = elect(n);
  ack_appends(n, d.sent(), {"n2"});
  n.drain();
  CHECK(n->status().commit == 0);
  ack_appends(n, d.sent(), {"n3"});
  n.drain();
  CHECK(n->status().commit == 1);
}

TEST_CASE("an entry of an earlier term on a majority is not committed by counting replicas",
          "[commit]") {
  // Figure 8: n1 holds entry 2 of term 2, never committed. It becomes leader of term 3
  // and appends its no-op at index 3.
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2, {}, 1);
  TestNode n(setup);
  elect(n);
  REQUIRE(n->term() == 3);
  REQUIRE(n.storage().last_index() == 3);
  REQUIRE(n->status().commit == 1);
  // n2 reports it stores entries up to 2 (term 2): a majority {n1, n2} has entry 2.
  n.step(append_response("n2", "n1", 3, 2));
  Drained d = n.drain();
  CHECK(n->status().commit == 1);
  CHECK_FALSE(committed_includes(d, 2));
  // Once n2 stores the no-op of term 3, entries 2 and 3 are committed together.
  n.step(append_response("n2", "n1", 3, 3));
  d = n.drain();
  CHECK(n->status().commit == 3);
  CHECK(committed_includes(d, 2));
}

TEST_CASE("bug switch: committing by counting replicas commits the figure-8 entry early",
          "[commit][bugs]") {
  // The same setup with the injected figure-8 bug: the test above must be able to fail.
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2, {}, 1);
  setup.config.bugs.commit_old_term_by_counting = true;
  TestNode n(setup);
  elect(n);
  REQUIRE(n->term() == 3);
  n.step(append_response("n2", "n1", 3, 2));
  Drained d = n.drain();
  CHECK(n->status().commit == 2);
  CHECK(committed_includes(d, 2));
}

TEST_CASE("the leader's own entry counts towards a majority only once it is persisted",
          "[commit]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  Result<Index> index = n->propose("set x=1");
  REQUIRE(index.ok());
  // Take the Ready holding the new entry, but do not persist it yet.
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  bool has_entry = false;
  for (const pb::Entry& e : rd.entries) has_entry = has_entry || e.index() == *index;
  REQUIRE(has_entry);
  // n2 stores it: n2 alone is not a majority of three.
  n.step(append_response("n2", "n1", n->term(), *index));
  CHECK(n->status().commit < *index);
  // The leader persists it: now n1 and n2 are a majority.
  n.persist(rd);
  n->advance();
  Drained d = n.drain();
  CHECK(n->status().commit == *index);
  CHECK(committed_includes(d, *index));
}

TEST_CASE("the leader tells followers the new commit index", "[commit]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("set x=1").ok());
  n.drain();
  n.step(append_response("n2", "n1", n->term(), 2));
  Drained d = n.drain();
  REQUIRE(n->status().commit == 2);
  // The commit index reaches n2 with the next append or heartbeat.
  for (int t = 0; t < 2 * kHeartbeatTick; ++t) {
    n.tick();
    d.add(n.drain());
  }
  Index told = 0;
  for (const pb::Message& m : d.sent()) {
    if (m.to() == "n2" && (m.type() == pb::MSG_APPEND || m.type() == pb::MSG_HEARTBEAT)) {
      told = std::max<Index>(told, m.commit());
    }
  }
  CHECK(told == 2);
}

TEST_CASE("an acknowledgement from an older term does not count towards commitment", "[commit]") {
  NodeSetup setup;
  setup.entries = make_log({1, 2});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  elect(n);
  REQUIRE(n->term() == 3);
  Index last = n.storage().last_index();
  // n2 acknowledged everything, but in term 2, to some earlier leader.
  n.step(append_response("n2", "n1", 2, last));
  n.drain();
  CHECK(n->status().commit == 0);
  CHECK(n->status().progress.at("n2").match < last);
}

}  // namespace
}  // namespace raft::test
