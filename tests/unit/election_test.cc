// Leader election (Raft paper 5.2, dissertation 3.4): randomized election timeouts, campaigns,
// majorities, the new leader's no-op, heartbeats.
#include <set>

#include "test_util.h"

namespace raft::test {
namespace {

// Ticks a fresh follower until it leaves the follower role; returns the number of ticks.
int ticks_until_campaign(TestNode& n, int max_ticks) {
  for (int t = 1; t <= max_ticks; ++t) {
    n.tick();
    n.drain();
    if (n->role() != Role::kFollower) return t;
  }
  return -1;
}

TEST_CASE("a follower campaigns after a random timeout of election_tick to 2*election_tick-1 ticks",
          "[election]") {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    NodeSetup setup;
    setup.config.random_seed = seed;
    TestNode n(setup);
    int ticks = ticks_until_campaign(n, 4 * kElectionTick);
    INFO("seed " << seed);
    CHECK(ticks >= kElectionTick);
    CHECK(ticks <= 2 * kElectionTick - 1);
    CHECK(n->role() == Role::kCandidate);
    seen.insert(ticks);
  }
  // Randomized: thirty seeds do not all pick the same timeout.
  CHECK(seen.size() >= 2);
}

TEST_CASE("a campaigning node increments its term, votes for itself and asks every peer",
          "[election]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 2});
  setup.hard_state = make_hard_state(2);
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  Drained d = n.drain();
  CHECK(n->role() == Role::kCandidate);
  CHECK(n->term() == 3);
  CHECK(n->status().vote == "n1");
  CHECK(n.storage().hard_state().term() == 3);
  CHECK(n.storage().hard_state().vote() == "n1");
  for (const NodeId peer : {"n2", "n3"}) {
    auto requests = filter(d.sent(), pb::MSG_VOTE, peer);
    REQUIRE(requests.size() == 1);
    CHECK(requests.front().term() == 3);
    CHECK(requests.front().index() == 3);
    CHECK(requests.front().log_term() == 2);
    CHECK_FALSE(requests.front().transfer());
  }
  CHECK(filter(d.sent(), pb::MSG_VOTE, "n1").empty());
}

TEST_CASE("a candidate with the votes of a majority becomes leader", "[election]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  n.step(vote_response("n2", "n1", 1, false));
  n.drain();
  CHECK(n->role() == Role::kLeader);
  CHECK(n->leader() == "n1");
  CHECK(n->term() == 1);
}

TEST_CASE("a candidate with only its own vote does not become leader", "[election]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  n.step(vote_response("n2", "n1", 1, /*reject=*/true));
  n.step(vote_response("n3", "n1", 1, /*reject=*/true));
  n.drain();
  CHECK(n->role() != Role::kLeader);
  CHECK(n->term() == 1);
}

TEST_CASE("a new leader's first entry in its term is a no-op sent to every follower",
          "[election]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1});
  setup.hard_state = make_hard_state(1);
  TestNode n(setup);
  Drained d = elect(n);
  REQUIRE(n->term() == 2);
  REQUIRE_FALSE(d.entries.empty());
  const pb::Entry& first = d.entries.front();
  CHECK(first.index() == 3);
  CHECK(first.term() == 2);
  CHECK(first.type() == pb::ENTRY_NOOP);
  CHECK(n.storage().last_index() == 3);
  for (const NodeId peer : {"n2", "n3"}) {
    auto appends = filter(d.sent(), pb::MSG_APPEND, peer);
    REQUIRE_FALSE(appends.empty());
    bool carries_noop = false;
    for (const pb::Message& m : appends) {
      CHECK(m.term() == 2);
      for (const pb::Entry& e : m.entries()) {
        if (e.index() == 3 && e.term() == 2 && e.type() == pb::ENTRY_NOOP) carries_noop = true;
      }
    }
    CHECK(carries_noop);
  }
}

TEST_CASE("a single-node cluster becomes leader on campaign", "[election]") {
  bool pre_vote = GENERATE(false, true);
  NodeSetup setup;
  setup.config = make_config("n1", pre_vote);
  setup.voters = {"n1"};
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  n.drain();
  CHECK(n->role() == Role::kLeader);
  CHECK(n->term() == 1);
  // Its no-op is committed by itself alone once persisted.
  CHECK(n->status().commit == 1);
}

TEST_CASE("a single-node cluster elects itself after an election timeout", "[election]") {
  NodeSetup setup;
  setup.voters = {"n1"};
  TestNode n(setup);
  for (int t = 0; t < 2 * kElectionTick && n->role() != Role::kLeader; ++t) {
    n.tick();
    n.drain();
  }
  CHECK(n->role() == Role::kLeader);
}

TEST_CASE("a candidate that gets no majority starts a new election with a higher term",
          "[election]") {
  TestNode n(NodeSetup{});
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->term() == 1);
  for (int t = 0; t < 2 * kElectionTick && n->term() == 1; ++t) {
    n.tick();
    n.drain();
  }
  CHECK(n->term() == 2);
  CHECK(n->role() == Role::kCandidate);
  CHECK(n->status().vote == "n1");
}

TEST_CASE("a follower that keeps hearing heartbeats does not campaign", "[election]") {
  TestNode n(NodeSetup{});
  n.step(heartbeat("n2", "n1", 1, 0));
  n.drain();
  for (int t = 0; t < 10 * kElectionTick; ++t) {
    n.tick();
    n.step(heartbeat("n2", "n1", 1, 0));
    n.drain();
  }
  CHECK(n->role() == Role::kFollower);
  CHECK(n->term() == 1);
  CHECK(n->leader() == "n2");
}

TEST_CASE("a leader sends a heartbeat to every follower each heartbeat_tick", "[election]") {
  NodeSetup setup;
  setup.config.heartbeat_tick = 3;
  TestNode n(setup);
  elect_and_replicate(n);
  Drained d;
  for (int t = 0; t < 30; ++t) {
    n.tick();
    Drained one = n.drain();
    for (const pb::Message& m : filter(one.sent(), pb::MSG_HEARTBEAT)) {
      n.step(heartbeat_response(m.to(), m.from(), m.term()));
    }
    d.add(one);
    d.add(n.drain());
  }
  for (const NodeId peer : {"n2", "n3"}) {
    auto beats = filter(d.sent(), pb::MSG_HEARTBEAT, peer);
    INFO("heartbeats to " << peer << ": " << beats.size());
    CHECK(beats.size() >= 9);
    CHECK(beats.size() <= 11);
  }
  CHECK(n->role() == Role::kLeader);
}

TEST_CASE("a leader's heartbeat never carries a commit index beyond the follower's match",
          "[election]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  // n2 acknowledges the no-op, n3 stays silent: the no-op commits, n3's match stays 0.
  ack_appends(n, d.sent(), {"n2"});
  n.drain();
  REQUIRE(n->status().commit == 1);
  n.tick();
  Drained beats = n.drain();
  auto to_n3 = filter(beats.sent(), pb::MSG_HEARTBEAT, "n3");
  REQUIRE_FALSE(to_n3.empty());
  CHECK(to_n3.front().commit() <= n->status().progress.at("n3").match);
  auto to_n2 = filter(beats.sent(), pb::MSG_HEARTBEAT, "n2");
  REQUIRE_FALSE(to_n2.empty());
  CHECK(to_n2.front().commit() == 1);
}

TEST_CASE("a vote granted twice by the same voter counts once", "[election]") {
  NodeSetup setup;
  setup.voters = {"n1", "n2", "n3", "n4", "n5"};
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  n.drain();
  n.step(vote_response("n2", "n1", 1, false));
  n.step(vote_response("n2", "n1", 1, false));
  n.drain();
  // n1 + n2 are two of five: not a majority.
  CHECK(n->role() == Role::kCandidate);
  n.step(vote_response("n3", "n1", 1, false));
  n.drain();
  CHECK(n->role() == Role::kLeader);
}

TEST_CASE("a granted vote from an older term does not count", "[election]") {
  NodeSetup setup;
  setup.hard_state = make_hard_state(1);
  TestNode n(setup);
  REQUIRE(n->campaign().ok());
  n.drain();
  REQUIRE(n->term() == 2);
  n.step(vote_response("n2", "n1", 1, false));
  n.drain();
  CHECK(n->role() == Role::kCandidate);
  CHECK(n->term() == 2);
}

}  // namespace
}  // namespace raft::test
