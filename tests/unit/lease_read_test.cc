// Leader lease reads (dissertation 6.4.1, RawNode::read_index with ReadMode::kLease): within
// its lease a leader answers at once, with no message; the lease runs from the send tick of
// the newest heartbeat round a quorum acknowledged, for election_tick - 1 - lease_drift_ticks
// ticks; outside it (expired, before the first commit of the term, during a leadership
// transfer) the read falls back to a ReadIndex round; followers refuse lease reads.
#include "test_util.h"

namespace raft::test {
namespace {

// With the defaults of these tests (election 10 ticks, drift 1) a lease lasts 8 ticks.
constexpr int kDrift = 1;
constexpr int kLeaseTicks = kElectionTick - 1 - kDrift;

Config lease_config(const NodeId& id) {
  Config config = make_config(id, /*pre_vote=*/false, /*check_quorum=*/true);
  config.lease_read = true;
  config.lease_drift_ticks = kDrift;
  return config;
}

NodeSetup lease_setup(const NodeId& id = "n1") {
  NodeSetup setup;
  setup.config = lease_config(id);
  return setup;
}

ReadState ok_read(const std::string& context, Index index) {
  ReadState rs;
  rs.context = context;
  rs.index = index;
  return rs;
}

// Acknowledges, as peer `from`, the heartbeats to it among `messages` (echoing their round).
void ack_heartbeats(TestNode& n, const std::vector<pb::Message>& messages, const NodeId& from) {
  for (const pb::Message& m : filter(messages, pb::MSG_HEARTBEAT, from)) {
    pb::Message resp = heartbeat_response(from, m.from(), m.term());
    resp.set_read_seq(m.read_seq());
    n.step(resp);
  }
}

// One tick; the leader's heartbeat round leaves. Returns what was sent.
std::vector<pb::Message> tick_round(TestNode& n) {
  n.tick();
  return n.drain().messages;
}

// A leader of three voters with its no-op committed and a lease just renewed: n2
// acknowledged the round sent at this tick.
void make_lease_leader(TestNode& n) {
  elect_and_replicate(n);
  n.drain();
  ack_heartbeats(n, tick_round(n), "n2");
  n.drain();
}

// Asks for a lease read and drains: returns what came out.
Drained lease_read(TestNode& n, const std::string& context) {
  Status st = n->read_index(context, ReadMode::kLease);
  REQUIRE(st.ok());
  return n.drain();
}

TEST_CASE("a leader within its lease answers a lease read at once, sending nothing", "[lease]") {
  TestNode n(lease_setup());
  make_lease_leader(n);
  const Index commit = n->status().commit;
  Drained d = lease_read(n, "r");
  CHECK(d.read_states == std::vector<ReadState>{ok_read("r", commit)});
  CHECK(d.sent().empty());
}

TEST_CASE("a leader serves lease reads up to the last tick of its lease", "[lease]") {
  TestNode n(lease_setup());
  make_lease_leader(n);
  // Rounds keep leaving, none acknowledged.
  for (int t = 1; t < kLeaseTicks; ++t) tick_round(n);
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.size() == 1);
  CHECK(d.sent().empty());
}

TEST_CASE("a lease read after the lease expired falls back to a ReadIndex round", "[lease]") {
  TestNode n(lease_setup());
  make_lease_leader(n);
  const Index commit = n->status().commit;
  for (int t = 1; t < kLeaseTicks; ++t) tick_round(n);
  const std::vector<pb::Message> last_round = tick_round(n);
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.empty());
  // The read waits for a round: the one of this tick is in flight, so the next round leaves
  // once that one is answered; the next round's acknowledgement answers the read.
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT).empty());
  ack_heartbeats(n, last_round, "n3");
  d = n.drain();
  CHECK(d.read_states.empty());
  REQUIRE(filter(d.messages, pb::MSG_HEARTBEAT).size() == 2);
  ack_heartbeats(n, d.messages, "n3");
  CHECK(n.drain().read_states == std::vector<ReadState>{ok_read("r", commit)});
}

TEST_CASE("an acknowledgement renews the lease from the send tick of its round, not its arrival",
          "[lease]") {
  TestNode n(lease_setup());
  elect_and_replicate(n);
  n.drain();
  // The round of this tick is acknowledged only kLeaseTicks - 1 ticks later.
  const std::vector<pb::Message> old_round = tick_round(n);
  for (int t = 1; t < kLeaseTicks; ++t) tick_round(n);
  ack_heartbeats(n, old_round, "n2");
  n.drain();
  CHECK(lease_read(n, "in-lease").read_states.size() == 1);
  // One tick later the lease measured from the old send tick is over, although the
  // acknowledgement arrived only one tick ago.
  const std::vector<pb::Message> last_round = tick_round(n);
  Drained d = lease_read(n, "expired");
  CHECK(d.read_states.empty());
  // It waits for a round (the next, once the one of this tick is answered).
  ack_heartbeats(n, last_round, "n3");
  d = n.drain();
  CHECK(d.read_states.empty());
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT).size() == 2);
}

TEST_CASE("a lease needs a quorum: one acknowledgement of five voters is not enough", "[lease]") {
  NodeSetup setup = lease_setup();
  setup.voters = {"n1", "n2", "n3", "n4", "n5"};
  TestNode n(std::move(setup));
  elect_and_replicate(n);
  n.drain();
  const std::vector<pb::Message> round = tick_round(n);
  ack_heartbeats(n, round, "n2");
  n.drain();
  CHECK(lease_read(n, "two").read_states.empty());
  ack_heartbeats(n, round, "n3");
  n.drain();
  CHECK(lease_read(n, "three").read_states.size() == 1);
}

TEST_CASE("a leader serves no lease read before it committed an entry of its term", "[lease]") {
  TestNode n(lease_setup());
  elect(n);  // the no-op is not acknowledged: not committed
  n.drain();
  ack_heartbeats(n, tick_round(n), "n2");
  n.drain();
  REQUIRE(n->status().commit < n->status().last_index);
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.empty());
}

TEST_CASE("a follower refuses a lease read with kNotLeader naming its leader", "[lease]") {
  TestNode n(lease_setup("n2"));
  n.step(heartbeat("n1", "n2", 1, 0));
  n.drain();
  Status st = n->read_index("r", ReadMode::kLease);
  CHECK(st.code() == ErrorCode::kNotLeader);
  CHECK(st.leader_hint() == "n1");
  // Not forwarded: nothing leaves.
  CHECK(n.drain().sent().empty());
}

TEST_CASE("a leader catching up its transfer target serves no lease read", "[lease][transfer]") {
  TestNode n(lease_setup());
  make_lease_leader(n);
  // n3 lags behind an entry, so the transfer waits for it (no TimeoutNow yet).
  REQUIRE(n->propose("x").ok());
  ack_appends(n, n.drain().messages, {"n2"});
  n.drain();
  REQUIRE(n->transfer_leadership("n3").ok());
  Drained sent = n.drain();
  REQUIRE(filter(sent.messages, pb::MSG_TIMEOUT_NOW).empty());
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.empty());
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT).size() == 2);
}

TEST_CASE("a leader that sent TimeoutNow serves no lease read for the rest of its term",
          "[lease][transfer]") {
  TestNode n(lease_setup());
  make_lease_leader(n);
  REQUIRE(n->transfer_leadership("n2").ok());
  REQUIRE(filter(n.drain().messages, pb::MSG_TIMEOUT_NOW, "n2").size() == 1);
  // The TimeoutNow is lost; the transfer aborts after an election timeout while n2 keeps
  // acknowledging every round.
  for (int t = 0; t < 2 * kElectionTick && !n->status().transfer_target.empty(); ++t) {
    ack_heartbeats(n, tick_round(n), "n2");
    n.drain();
  }
  REQUIRE(n->status().transfer_target.empty());
  REQUIRE(n->role() == Role::kLeader);
  // The message may still arrive: its target's election would ignore the followers' lease.
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.empty());
}

TEST_CASE("without Config::lease_read a lease read is a ReadIndex read", "[lease]") {
  NodeSetup setup;
  setup.config = make_config("n1", /*pre_vote=*/false, /*check_quorum=*/true);
  TestNode n(std::move(setup));
  make_lease_leader(n);
  Drained d = lease_read(n, "r");
  CHECK(d.read_states.empty());
  CHECK(filter(d.messages, pb::MSG_HEARTBEAT).size() == 2);
}

TEST_CASE("a single-voter leader serves lease reads at once", "[lease]") {
  NodeSetup setup = lease_setup();
  setup.voters = {"n1"};
  TestNode n(std::move(setup));
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->role() == Role::kLeader);
  const Index commit = n->status().commit;
  REQUIRE(commit > 0);
  Drained d = lease_read(n, "r");
  CHECK(d.read_states == std::vector<ReadState>{ok_read("r", commit)});
}

TEST_CASE("a voter restarted with a durable term ignores vote requests for an election timeout",
          "[lease][vote]") {
  NodeSetup setup = lease_setup("n2");
  setup.config.pre_vote = true;  // if its own timeout fires first, it changes no term
  setup.hard_state = make_hard_state(2);
  TestNode n(std::move(setup));
  // Before the crash it may have acknowledged a heartbeat some leader's lease counts on.
  n.step(vote_request("n3", "n2", 3, 0, 0));
  CHECK(filter(n.drain().sent(), pb::MSG_VOTE_RESP).empty());
  n.tick(kElectionTick);
  n.drain();
  n.step(vote_request("n3", "n2", 3, 0, 0));
  const auto votes = filter(n.drain().sent(), pb::MSG_VOTE_RESP, "n3");
  REQUIRE(votes.size() == 1);
  CHECK_FALSE(votes[0].reject());
}

TEST_CASE("a config with lease reads but without CheckQuorum is invalid", "[lease][config]") {
  Config config = lease_config("n1");
  REQUIRE(config.validate().ok());
  config.check_quorum = false;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
  config = lease_config("n1");
  config.lease_drift_ticks = kElectionTick - 1;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace raft::test
