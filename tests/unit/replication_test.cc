// AppendEntries (Raft paper figure 2 and 5.3, dissertation 3.5): the consistency check, its
// rejection hint, conflict resolution, acknowledgement after persistence, and the follower's
// commit index.
#include "test_util.h"

namespace raft::test {
namespace {

// n1: a follower in term `term` with the log given by `terms`, leader n2 known.
NodeSetup follower_setup(const std::vector<Term>& terms, Term term) {
  NodeSetup setup;
  setup.entries = make_log(terms);
  setup.hard_state = make_hard_state(term);
  return setup;
}

pb::Message single_answer(const Drained& d, pb::MessageType type, const NodeId& to) {
  auto answers = filter(d.sent(), type, to);
  REQUIRE(answers.size() == 1);
  return answers.front();
}

TEST_CASE("a follower accepts an append whose previous entry matches", "[replication]") {
  TestNode n(follower_setup({1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 2, 1, {make_entry(3, 1, "x"), make_entry(4, 1, "y")}, 0));
  Drained d = n.drain();
  CHECK(ids_of(d.entries) == ids_of({make_entry(3, 1), make_entry(4, 1)}));
  CHECK(n.storage().last_index() == 4);
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == 4);
  CHECK(answer.term() == 1);
}

TEST_CASE("a follower acknowledges an append only after persisting it", "[replication]") {
  TestNode n(follower_setup({1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 2, 1, {make_entry(3, 1, "x")}, 0));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  CHECK(ids_of(rd.entries) == ids_of({make_entry(3, 1)}));
  CHECK(rd.must_sync);
  CHECK(filter(rd.messages, pb::MSG_APPEND_RESP).empty());
  auto answers = filter(rd.persisted_messages, pb::MSG_APPEND_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK(answers.front().index() == 3);
  CHECK_FALSE(answers.front().reject());
  n.persist(rd);
  n->advance();
  CHECK(n.storage().last_index() == 3);
}

TEST_CASE("a follower rejects an append whose previous entry it lacks, hinting its last index",
          "[replication]") {
  TestNode n(follower_setup({1, 1}, 1));
  n.step(append_request("n2", "n1", 2, 5, 2, {make_entry(6, 2)}, 0));
  Drained d = n.drain();
  CHECK(d.entries.empty());
  CHECK(n.storage().last_index() == 2);
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK(answer.reject());
  CHECK(answer.index() == 5);
  CHECK(answer.reject_hint() == 2);
  CHECK(answer.log_term() == 1);
}

TEST_CASE("a follower rejects an append whose previous entry has another term", "[replication]") {
  TestNode n(follower_setup({1, 1, 2}, 2));
  n.step(append_request("n2", "n1", 3, 3, 3, {make_entry(4, 3)}, 0));
  Drained d = n.drain();
  CHECK(d.entries.empty());
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK(answer.reject());
  CHECK(answer.index() == 3);
  CHECK(answer.reject_hint() <= 3);
  // log_term is the follower's term at the hinted index.
  CHECK(answer.log_term() == n.storage().term(answer.reject_hint()).value());
}

TEST_CASE("a rejection hint skips follower entries whose term is newer than the leader's",
          "[replication]") {
  // Entries 3..5 of term 3 cannot match a leader whose entry 5 has term 2 (log terms only grow).
  TestNode n(follower_setup({1, 1, 3, 3, 3}, 3));
  n.step(append_request("n2", "n1", 4, 5, 2, {make_entry(6, 4)}, 0));
  Drained d = n.drain();
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK(answer.reject());
  CHECK(answer.index() == 5);
  CHECK(answer.reject_hint() <= 2);
  CHECK(answer.log_term() == n.storage().term(answer.reject_hint()).value());
}

TEST_CASE("a follower replaces a conflicting suffix with the leader's entries", "[replication]") {
  TestNode n(follower_setup({1, 1, 2, 2}, 2));
  n.step(append_request("n2", "n1", 3, 2, 1, {make_entry(3, 3, "new")}, 0));
  Drained d = n.drain();
  CHECK(ids_of(d.entries) == ids_of({make_entry(3, 3)}));
  CHECK(n.storage().last_index() == 3);
  CHECK(n.storage().term(3).value() == 3);
  CHECK(n->status().last_term == 3);
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == 3);
}

TEST_CASE("a follower keeps its log when an append carries entries it already has",
          "[replication]") {
  TestNode n(follower_setup({1, 1, 1}, 1));
  // A late, duplicated append of entry 2 must not cut entry 3.
  n.step(append_request("n2", "n1", 1, 1, 1, {make_entry(2, 1, "cmd2")}, 0));
  Drained d = n.drain();
  CHECK(d.entries.empty());
  CHECK(n.storage().last_index() == 3);
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP, "n2");
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() >= 2);
  CHECK(answer.index() <= 3);
}

TEST_CASE("a follower appends only the new part of an append that overlaps its log",
          "[replication]") {
  TestNode n(follower_setup({1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 1, 1, {make_entry(2, 1, "cmd2"), make_entry(3, 1, "c")}, 0));
  Drained d = n.drain();
  CHECK(ids_of(d.entries) == ids_of({make_entry(3, 1)}));
  CHECK(n.storage().last_index() == 3);
}

TEST_CASE("a follower's commit index follows the leader's but not past the last new entry",
          "[replication]") {
  TestNode n(follower_setup({1, 1, 1}, 1));
  // The leader has committed 3, but only entries up to 1 are known to match it.
  n.step(append_request("n2", "n1", 1, 1, 1, {}, 3));
  n.drain();
  CHECK(n->status().commit == 1);
  // Entries up to 4 now match; the leader's commit (10) is beyond them.
  n.step(append_request("n2", "n1", 1, 3, 1, {make_entry(4, 1, "d")}, 10));
  Drained d = n.drain();
  CHECK(n->status().commit == 4);
  CHECK(n.storage().hard_state().commit() == 4);
  REQUIRE_FALSE(d.committed_entries.empty());
  CHECK(d.committed_entries.back().index() == 4);
}

TEST_CASE("a follower's commit index never moves backwards", "[replication]") {
  TestNode n(follower_setup({1, 1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 3, 1, {}, 3));
  n.drain();
  REQUIRE(n->status().commit == 3);
  n.step(append_request("n2", "n1", 1, 1, 1, {}, 1));
  n.step(heartbeat("n2", "n1", 1, 0));
  n.drain();
  CHECK(n->status().commit == 3);
}

TEST_CASE("a follower takes the commit index from a heartbeat", "[replication]") {
  TestNode n(follower_setup({1, 1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 3, 1, {}, 0));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 2));
  Drained d = n.drain();
  CHECK(n->status().commit == 2);
  CHECK(ids_of(d.committed_entries) == ids_of({make_entry(1, 1), make_entry(2, 1)}));
  auto answers = filter(d.sent(), pb::MSG_HEARTBEAT_RESP, "n2");
  CHECK(answers.size() == 1);
}

TEST_CASE("a leader uses the rejection hint to skip back several entries at once",
          "[replication]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1, 1, 1});
  setup.hard_state = make_hard_state(1);
  TestNode n(setup);
  Drained d = elect(n);
  auto probes = filter(d.sent(), pb::MSG_APPEND, "n2");
  REQUIRE_FALSE(probes.empty());
  const pb::Message& probe = probes.front();
  REQUIRE(probe.index() >= 2);
  // n2 only has entries 1 and 2.
  n.step(append_response("n2", "n1", n->term(), probe.index(), /*reject=*/true,
                         /*reject_hint=*/2, /*log_term=*/1));
  Drained next = n.drain();
  auto retries = filter(next.sent(), pb::MSG_APPEND, "n2");
  REQUIRE_FALSE(retries.empty());
  CHECK(retries.front().index() <= 2);
  CHECK(retries.front().log_term() == n.storage().term(retries.front().index()).value());
  REQUIRE(retries.front().entries_size() > 0);
  CHECK(retries.front().entries(0).index() == retries.front().index() + 1);
}

TEST_CASE("a leader ignores a stale rejection", "[replication]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(1);
  TestNode n(setup);
  Drained d = elect(n);
  ack_appends(n, d.sent());
  n.drain();
  Index match = n->status().progress.at("n2").match;
  REQUIRE(match == 4);
  // A rejection of an index below the known match comes from a reordered old message.
  n.step(append_response("n2", "n1", n->term(), 2, /*reject=*/true, 1, 1));
  n.drain();
  CHECK(n->status().progress.at("n2").match == match);
  CHECK(n->status().progress.at("n2").state == ProgressState::kReplicate);
}

TEST_CASE("a follower never commits past its last entry, even on a bogus heartbeat",
          "[replication]") {
  TestNode n(follower_setup({1, 1, 1}, 1));
  n.step(append_request("n2", "n1", 1, 3, 1, {}, 0));
  n.drain();
  n.step(heartbeat("n2", "n1", 1, 10));
  n.drain();
  CHECK(n->status().commit <= 3);
  CHECK(n.storage().hard_state().commit() <= 3);
  for (const pb::Entry& e : n.applied()) CHECK(e.index() <= 3);
}

TEST_CASE("a leader resends entries whose append was lost", "[replication]") {
  Cluster c(/*pre_vote=*/false, /*check_quorum=*/false);
  NodeId leader = c.wait_for_leader();
  NodeId lossy = leader == "n2" ? "n3" : "n2";
  Result<Index> index = c.node(leader).node().propose("set x=1");
  REQUIRE(index.ok());
  // The first append carrying the new entry to `lossy` is lost.
  bool dropped = false;
  c.set_drop([&](const pb::Message& m) {
    if (dropped || m.type() != pb::MSG_APPEND || m.to() != lossy) return false;
    for (const pb::Entry& e : m.entries()) {
      if (e.index() == *index) return dropped = true;
    }
    return false;
  });
  c.stabilize();
  REQUIRE(dropped);
  // Heartbeats and their answers let the leader notice and resend.
  for (int t = 0; t < 3 * kElectionTick && c.node(lossy).storage().last_index() < *index; ++t) {
    c.tick();
  }
  CHECK(c.node(lossy).storage().last_index() >= *index);
  CHECK(c.node(lossy).storage().entries(*index, *index + 1, 1 << 20)->front().data() == "set x=1");
}

TEST_CASE("a proposal is applied by every node, in the same order", "[replication]") {
  Cluster c(/*pre_vote=*/true, /*check_quorum=*/true);
  NodeId leader = c.wait_for_leader();
  for (const char* command : {"set x=1", "set y=2", "del x"}) {
    REQUIRE(c.node(leader).node().propose(command).ok());
  }
  c.stabilize();
  c.tick(2 * kHeartbeatTick);  // followers learn the final commit index
  for (const NodeId& id : kThreeIds) {
    std::vector<std::string> applied;
    for (const pb::Entry& e : c.node(id).applied()) {
      if (e.type() == pb::ENTRY_NORMAL) applied.push_back(e.data());
    }
    INFO("node " << id);
    CHECK(applied == std::vector<std::string>{"set x=1", "set y=2", "del x"});
  }
}

TEST_CASE("a leader skips back over its entries newer than the follower's hinted term",
          "[replication]") {
  // n1's log: 1:1 2:1 3:2 4:2 5:2; it becomes leader of term 3.
  NodeSetup setup;
  setup.entries = make_log({1, 1, 2, 2, 2});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  Drained d = elect(n);
  auto probes = filter(d.sent(), pb::MSG_APPEND, "n2");
  REQUIRE_FALSE(probes.empty());
  REQUIRE(probes.front().index() >= 5);
  // n2's log is 1:1 .. 7:1: at index 5 it has term 1, so nothing of term 2 can match.
  n.step(append_response("n2", "n1", 3, probes.front().index(), /*reject=*/true,
                         /*reject_hint=*/5, /*log_term=*/1));
  Drained next = n.drain();
  auto retries = filter(next.sent(), pb::MSG_APPEND, "n2");
  REQUIRE_FALSE(retries.empty());
  CHECK(retries.front().index() <= 2);
  CHECK(retries.front().log_term() == 1);
}

}  // namespace
}  // namespace raft::test
