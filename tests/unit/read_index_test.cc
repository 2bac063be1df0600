// ReadIndex (dissertation 6.4): a leader hands out a read point (its commit index) only once
// a quorum of voters acknowledged a heartbeat sent after the request; requests share
// heartbeat rounds; followers forward requests; lost leadership fails pending requests.
#include "raft/configuration.h"
#include "test_util.h"

namespace raft::test {
namespace {

pb::Message read_ack(const NodeId& from, const NodeId& to, Term term, std::uint64_t seq) {
  pb::Message m = heartbeat_response(from, to, term);
  m.set_read_seq(seq);
  return m;
}

pb::Message read_request(const NodeId& from, const NodeId& to, Term term,
                         const std::string& context) {
  pb::Message m = make_message(pb::MSG_READ_INDEX, from, to, term);
  m.set_context(context);
  return m;
}

ReadState ok_read(const std::string& context, Index index) {
  ReadState rs;
  rs.context = context;
  rs.index = index;
  return rs;
}

// The read sequence numbers of the heartbeats in `messages`, one per heartbeat.
std::vector<std::uint64_t> heartbeat_rounds(const std::vector<pb::Message>& messages) {
  std::vector<std::uint64_t> rounds;
  for (const pb::Message& m : filter(messages, pb::MSG_HEARTBEAT)) rounds.push_back(m.read_seq());
  return rounds;
}

// A leader of three voters with its no-op committed, its readies drained.
void make_leader(TestNode& n) {
  elect_and_replicate(n);
  n.drain();
}

// Asks for a read on the leader and returns the read round its heartbeats carry.
std::uint64_t read_round(TestNode& n, const std::string& context) {
  Status st = n->read_index(context);
  REQUIRE(st.ok());
  Drained d = n.drain();
  const std::vector<std::uint64_t> rounds = heartbeat_rounds(d.messages);
  REQUIRE(rounds.size() == 2);
  REQUIRE(rounds[0] == rounds[1]);
  REQUIRE(rounds[0] > 0);
  return rounds[0];
}

pb::Configuration with_nonvoters(const std::vector<NodeId>& voters,
                                 const std::vector<NodeId>& nonvoters) {
  pb::Configuration c = make_configuration(voters);
  for (const NodeId& id : nonvoters) {
    pb::Server* s = c.add_servers();
    s->set_id(id);
    s->set_address(id + ":7000");
    s->set_suffrage(pb::NONVOTER);
  }
  return c;
}

TEST_CASE("a single-voter leader answers a read at once", "[readindex]") {
  NodeSetup setup;
  setup.voters = {"n1"};
  TestNode n(std::move(setup));
  make_leader(n);
  const Index commit = n->status().commit;
  REQUIRE(commit > 0);
  REQUIRE(n->read_index("r").ok());
  Drained d = n.drain();
  CHECK(d.read_states == std::vector<ReadState>{ok_read("r", commit)});
  CHECK(d.sent().empty());
}

TEST_CASE("a leader answers a read once a quorum acknowledged a later heartbeat, not before",
          "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  const Index commit = n->status().commit;
  const std::uint64_t round = read_round(n, "r");
  CHECK(n.read_states().empty());
  // An acknowledgement of an earlier round proves nothing about this request.
  n.step(read_ack("n2", "n1", n->term(), round - 1));
  CHECK(n.drain().read_states.empty());
  n.step(read_ack("n2", "n1", n->term(), round));
  CHECK(n.drain().read_states == std::vector<ReadState>{ok_read("r", commit)});
}

TEST_CASE(
    "a read taken while a round is in flight waits for a quorum to answer it, then gets "
    "the next round",
    "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  const std::uint64_t first = read_round(n, "a");
  // One round at a time: "b" goes out with the next one, not now.
  REQUIRE(n->read_index("b").ok());
  Drained d = n.drain();
  CHECK(heartbeat_rounds(d.messages).empty());
  CHECK(d.read_states.empty());
  // A quorum answered the first round: "a" is confirmed and the next round leaves at once.
  n.step(read_ack("n3", "n1", n->term(), first));
  d = n.drain();
  REQUIRE(d.read_states.size() == 1);
  CHECK(d.read_states[0].context == "a");
  CHECK(heartbeat_rounds(d.messages) == std::vector<std::uint64_t>{first + 1, first + 1});
  n.step(read_ack("n3", "n1", n->term(), first + 1));
  d = n.drain();
  REQUIRE(d.read_states.size() == 1);
  CHECK(d.read_states[0].context == "b");
}

TEST_CASE("a read round nobody answers is followed by another at the next tick", "[readindex]") {
  NodeSetup setup;
  setup.config.heartbeat_tick = 5;  // so that the retry is not a regular heartbeat
  TestNode n(std::move(setup));
  make_leader(n);
  const Index commit = n->status().commit;
  const std::uint64_t first = read_round(n, "a");
  REQUIRE(n->read_index("b").ok());
  CHECK(heartbeat_rounds(n.drain().messages).empty());
  // The round's messages were lost: a tick later the next round leaves anyway.
  n.tick();
  Drained d = n.drain();
  CHECK(heartbeat_rounds(d.messages) == std::vector<std::uint64_t>{first + 1, first + 1});
  // It confirms both reads.
  n.step(read_ack("n2", "n1", n->term(), first + 1));
  CHECK(n.drain().read_states ==
        std::vector<ReadState>{ok_read("a", commit), ok_read("b", commit)});
}

TEST_CASE("read requests between two ready() calls share one heartbeat per follower",
          "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  const Index commit = n->status().commit;
  std::vector<ReadState> expected;
  for (int i = 0; i < 100; ++i) {
    REQUIRE(n->read_index("r" + std::to_string(i)).ok());
    expected.push_back(ok_read("r" + std::to_string(i), commit));
  }
  Drained d = n.drain();
  const std::vector<std::uint64_t> rounds = heartbeat_rounds(d.messages);
  REQUIRE(rounds.size() == 2);
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT, "n2").size() == 1);
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT, "n3").size() == 1);
  n.step(read_ack("n2", "n1", n->term(), rounds[0]));
  // One acknowledgement confirms them all, answered in request order.
  CHECK(n.drain().read_states == expected);
}

TEST_CASE("a regular heartbeat carries the read round and confirms pending reads", "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  REQUIRE(n->read_index("r").ok());
  // The tick's heartbeat leaves before ready(): it opens the round itself.
  n.tick();
  Drained d = n.drain();
  const std::vector<std::uint64_t> rounds = heartbeat_rounds(d.messages);
  REQUIRE(rounds.size() == 2);
  n.step(read_ack("n2", "n1", n->term(), rounds[0]));
  CHECK(n.drain().read_states.size() == 1);
}

TEST_CASE("a follower echoes the read round of a heartbeat in its response", "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n2");
  TestNode n(std::move(setup));
  pb::Message hb = heartbeat("n1", "n2", 1, 0);
  hb.set_read_seq(7);
  n.step(hb);
  Drained d = n.drain();
  const auto responses = filter(d.sent(), pb::MSG_HEARTBEAT_RESP, "n1");
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].read_seq() == 7);
}

TEST_CASE("a follower with no known leader refuses a read with kNotLeader", "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n2");
  TestNode n(std::move(setup));
  Status st = n->read_index("r");
  CHECK(st.code() == ErrorCode::kNotLeader);
  CHECK(st.leader_hint().empty());
}

TEST_CASE("a follower forwards a read to its leader and hands back the answer", "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n2");
  TestNode n(std::move(setup));
  n.step(heartbeat("n1", "n2", 1, 0));
  n.drain();
  REQUIRE(n->read_index("x").ok());
  Drained d = n.drain();
  // A forwarded read promises nothing: it may leave before persistence.
  const auto forwarded = filter(d.messages, pb::MSG_READ_INDEX, "n1");
  REQUIRE(forwarded.size() == 1);
  CHECK(forwarded[0].context() == "x");
  CHECK(forwarded[0].term() == 1);
  pb::Message answer = make_message(pb::MSG_READ_INDEX_RESP, "n1", "n2", 1);
  answer.set_context("x");
  answer.set_index(5);
  n.step(answer);
  CHECK(n.drain().read_states == std::vector<ReadState>{ok_read("x", 5)});
}

TEST_CASE("a follower whose leader refuses a forwarded read gets kNotLeader", "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n2");
  TestNode n(std::move(setup));
  n.step(heartbeat("n1", "n2", 1, 0));
  REQUIRE(n->read_index("x").ok());
  n.drain();
  pb::Message refusal = make_message(pb::MSG_READ_INDEX_RESP, "n1", "n2", 1);
  refusal.set_context("x");
  refusal.set_reject(true);
  n.step(refusal);
  const auto states = n.drain().read_states;
  REQUIRE(states.size() == 1);
  CHECK(states[0].context == "x");
  CHECK(states[0].status.code() == ErrorCode::kNotLeader);
}

TEST_CASE("a leader answers a forwarded read once a quorum confirmed it", "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  const Index commit = n->status().commit;
  n.step(read_request("n2", "n1", n->term(), "f"));
  Drained d = n.drain();
  const auto rounds = heartbeat_rounds(d.messages);
  REQUIRE(rounds.size() == 2);
  CHECK(filter(d.sent(), pb::MSG_READ_INDEX_RESP).empty());
  n.step(read_ack("n3", "n1", n->term(), rounds[0]));
  d = n.drain();
  // The leader's answer names a committed index of its durable term: it leaves at once.
  const auto answers = filter(d.messages, pb::MSG_READ_INDEX_RESP, "n2");
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].context() == "f");
  CHECK(answers[0].index() == commit);
  CHECK_FALSE(answers[0].reject());
  CHECK(d.read_states.empty());
}

TEST_CASE("reads forwarded by followers go through the leader in a live cluster", "[readindex]") {
  Cluster c(/*pre_vote=*/true, /*check_quorum=*/true);
  const NodeId leader = c.wait_for_leader();
  c.tick(2);
  const NodeId follower = leader == "n1" ? "n2" : "n1";
  REQUIRE(c.node(follower)->read_index("f").ok());
  c.stabilize();
  const Index commit = c.node(leader)->status().commit;
  CHECK(c.node(follower).read_states() == std::vector<ReadState>{ok_read("f", commit)});
}

TEST_CASE("a non-leader refuses a forwarded read", "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n2");
  TestNode n(std::move(setup));
  n.step(heartbeat("n1", "n2", 1, 0));
  n.drain();
  n.step(read_request("n3", "n2", 1, "q"));
  const auto refusals = filter(n.drain().sent(), pb::MSG_READ_INDEX_RESP, "n3");
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].reject());
  CHECK(refusals[0].context() == "q");
}

TEST_CASE("a leader refuses a read forwarded in an older term", "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  REQUIRE(n->term() >= 1);
  n.step(read_request("n2", "n1", n->term() - 1, "old"));
  const auto refusals = filter(n.drain().sent(), pb::MSG_READ_INDEX_RESP, "n2");
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].reject());
  CHECK(refusals[0].term() == n->term());
}

TEST_CASE("a leader that has not committed an entry of its term waits before taking a read",
          "[readindex]") {
  TestNode n(NodeSetup{});
  Drained elected = elect(n);
  const Index noop = n->status().last_index;
  REQUIRE(n->status().commit < noop);
  REQUIRE(n->read_index("w").ok());
  Drained d = n.drain();
  CHECK(heartbeat_rounds(d.messages).empty());
  CHECK(d.read_states.empty());
  // The no-op commits: the read is taken at the new commit index.
  ack_appends(n, elected.sent());
  d = n.drain();
  REQUIRE(n->status().commit == noop);
  const auto rounds = heartbeat_rounds(d.messages);
  REQUIRE(rounds.size() == 2);
  CHECK(d.read_states.empty());
  n.step(read_ack("n2", "n1", n->term(), rounds[0]));
  CHECK(n.drain().read_states == std::vector<ReadState>{ok_read("w", noop)});
}

TEST_CASE("a leader that sees a newer term fails its pending reads with kNotLeader",
          "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  read_round(n, "a");
  REQUIRE(n->read_index("b").ok());
  n.step(heartbeat("n2", "n1", n->term() + 1, 0));
  REQUIRE(n->role() == Role::kFollower);
  const auto states = n.drain().read_states;
  REQUIRE(states.size() == 2);
  CHECK(states[0].context == "a");
  CHECK(states[1].context == "b");
  for (const ReadState& rs : states) CHECK(rs.status.code() == ErrorCode::kNotLeader);
}

TEST_CASE("a leader stepping down by CheckQuorum refuses its followers' pending reads",
          "[readindex]") {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/false, /*check_quorum=*/true);
  TestNode n(std::move(setup));
  make_leader(n);
  n.step(read_request("n2", "n1", n->term(), "f"));
  REQUIRE(n->read_index("own").ok());
  Drained all;
  for (int t = 0; t < 3 * kElectionTick && n->role() == Role::kLeader; ++t) {
    n.tick();
    all.add(n.drain());
  }
  REQUIRE(n->role() == Role::kFollower);
  const auto refusals = filter(all.sent(), pb::MSG_READ_INDEX_RESP, "n2");
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].reject());
  CHECK(refusals[0].context() == "f");
  REQUIRE(all.read_states.size() == 1);
  CHECK(all.read_states[0].context == "own");
  CHECK(all.read_states[0].status.code() == ErrorCode::kNotLeader);
}

TEST_CASE("a stale leader cut off from its peers never confirms a read", "[readindex]") {
  Cluster c(/*pre_vote=*/false, /*check_quorum=*/false);
  const NodeId old_leader = c.wait_for_leader();
  c.tick(2);
  c.isolate(old_leader);
  for (int t = 0; t < 20 * kElectionTick && c.leader() == old_leader; ++t) c.tick();
  REQUIRE(c.leader() != old_leader);
  // Without CheckQuorum the old leader still believes it leads, and takes the read.
  REQUIRE(c.node(old_leader)->role() == Role::kLeader);
  REQUIRE(c.node(old_leader)->read_index("stale").ok());
  c.tick(5 * kElectionTick);
  CHECK(c.node(old_leader).read_states().empty());
  // Back in touch, it learns of the newer term and fails the read.
  c.heal();
  c.tick(2 * kHeartbeatTick);
  REQUIRE(c.node(old_leader).read_states().size() == 1);
  CHECK(c.node(old_leader).read_states()[0].status.code() == ErrorCode::kNotLeader);
}

TEST_CASE("non-voters' acknowledgements do not count towards confirming a read", "[readindex]") {
  TestNode n(NodeSetup{});
  n.storage().set_configuration(with_nonvoters(kThreeIds, {"n4", "n5"}));
  n.restart();
  make_leader(n);
  REQUIRE(n->read_index("r").ok());
  const auto rounds = heartbeat_rounds(n.drain().messages);
  REQUIRE(rounds.size() == 4);
  // The leader and two non-voters: three of five servers, one of three voters.
  n.step(read_ack("n4", "n1", n->term(), rounds[0]));
  n.step(read_ack("n5", "n1", n->term(), rounds[0]));
  CHECK(n.drain().read_states.empty());
  n.step(read_ack("n3", "n1", n->term(), rounds[0]));
  CHECK(n.drain().read_states.size() == 1);
}

TEST_CASE("a read is confirmed by a quorum of the configuration in force", "[readindex]") {
  NodeSetup setup;
  setup.voters = {"n1", "n2", "n3", "n4"};
  TestNode n(std::move(setup));
  make_leader(n);
  REQUIRE(n->read_index("r").ok());
  const auto rounds = heartbeat_rounds(n.drain().messages);
  REQUIRE(rounds.size() == 3);
  // Two of four voters are not a quorum.
  n.step(read_ack("n2", "n1", n->term(), rounds[0]));
  CHECK(n.drain().read_states.empty());
  // Without n4 (in force once appended), two of three are.
  ConfChange remove;
  remove.type = ConfChangeType::kRemoveServer;
  remove.id = "n4";
  REQUIRE(n->propose_conf_change(remove).ok());
  const auto states = n.drain().read_states;
  REQUIRE(states.size() == 1);
  CHECK(states[0].status.ok());
}

TEST_CASE("a leader transferring leadership still serves reads", "[readindex]") {
  TestNode n(NodeSetup{});
  make_leader(n);
  REQUIRE(n->transfer_leadership("n2").ok());
  const std::uint64_t round = read_round(n, "t");
  n.step(read_ack("n3", "n1", n->term(), round));
  const auto states = n.drain().read_states;
  REQUIRE(states.size() == 1);
  CHECK(states[0].status.ok());
}

TEST_CASE("bug switch: read_index_without_quorum answers without a heartbeat round",
          "[readindex][bugs]") {
  NodeSetup setup;
  setup.config.bugs.read_index_without_quorum = true;
  TestNode n(std::move(setup));
  make_leader(n);
  const Index commit = n->status().commit;
  REQUIRE(n->read_index("r").ok());
  Drained d = n.drain();
  CHECK(heartbeat_rounds(d.messages).empty());
  CHECK(d.read_states == std::vector<ReadState>{ok_read("r", commit)});
}

}  // namespace
}  // namespace raft::test
