// Batching, probing and pipelining of AppendEntries (dissertation 10.2): one message per
// follower for many proposals, one message at a time while probing, a bounded window while
// replicating.
#include "test_util.h"

namespace raft::test {
namespace {

std::vector<std::string> data_of(const pb::Message& m) {
  std::vector<std::string> data;
  for (const pb::Entry& e : m.entries()) data.push_back(e.data());
  return data;
}

TEST_CASE("proposals made before one ready() leave as one append per follower", "[flow]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("a").ok());
  REQUIRE(n->propose("b").ok());
  REQUIRE(n->propose("c").ok());
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  CHECK(rd.entries.size() == 3);
  for (const NodeId peer : {"n2", "n3"}) {
    auto appends = filter(rd.messages, pb::MSG_APPEND, peer);
    REQUIRE(appends.size() == 1);
    CHECK(data_of(appends.front()) == std::vector<std::string>{"a", "b", "c"});
    CHECK(appends.front().index() == 1);
    CHECK(appends.front().log_term() == n->term());
  }
  n.persist(rd);
  n->advance();
}

TEST_CASE("the leader's appends may leave before its own log is persisted", "[flow]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("a").ok());
  Ready rd = n->ready();
  CHECK(filter(rd.messages, pb::MSG_APPEND, "n2").size() == 1);
  CHECK(filter(rd.persisted_messages, pb::MSG_APPEND).empty());
  n.persist(rd);
  n->advance();
}

TEST_CASE("a new leader's followers start in probe state", "[flow]") {
  TestNode n(NodeSetup{});
  elect(n);
  NodeStatus st = n->status();
  CHECK(st.progress.at("n2").state == ProgressState::kProbe);
  CHECK(st.progress.at("n3").state == ProgressState::kProbe);
  CHECK(st.progress.count("n1") == 1);
}

TEST_CASE("a follower in probe state gets one append at a time", "[flow]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(n->propose("cmd" + std::to_string(i)).ok());
    d.add(n.drain());
  }
  CHECK(filter(d.sent(), pb::MSG_APPEND, "n2").size() == 1);
  CHECK(n->status().progress.at("n2").state == ProgressState::kProbe);
  CHECK(n->status().progress.at("n2").inflight <= 1);
}

TEST_CASE("an accepted append moves a follower from probe to replicate state", "[flow]") {
  TestNode n(NodeSetup{});
  Drained d = elect(n);
  ack_appends(n, d.sent(), {"n2"});
  n.drain();
  PeerProgress progress = n->status().progress.at("n2");
  CHECK(progress.state == ProgressState::kReplicate);
  CHECK(progress.match == 1);
  CHECK(progress.next == 2);
  CHECK(n->status().progress.at("n3").state == ProgressState::kProbe);
}

TEST_CASE("a follower in replicate state gets appends without waiting for answers", "[flow]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  Drained d;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(n->propose("cmd" + std::to_string(i)).ok());
    d.add(n.drain());
  }
  auto appends = filter(d.sent(), pb::MSG_APPEND, "n2");
  REQUIRE(appends.size() == 3);
  for (std::size_t i = 0; i < appends.size(); ++i) {
    CHECK(appends[i].index() == 1 + i);
    REQUIRE(appends[i].entries_size() == 1);
    CHECK(appends[i].entries(0).index() == 2 + i);
  }
  PeerProgress progress = n->status().progress.at("n2");
  CHECK(progress.inflight == 3);
  CHECK(progress.next == 5);
  CHECK(progress.match == 1);
}

TEST_CASE("appends in flight to a follower are bounded by max_inflight_msgs", "[flow]") {
  NodeSetup setup;
  setup.config.max_inflight_msgs = 2;
  TestNode n(setup);
  elect_and_replicate(n);
  Drained d;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(n->propose("cmd" + std::to_string(i)).ok());
    d.add(n.drain());
  }
  auto appends = filter(d.sent(), pb::MSG_APPEND, "n2");
  CHECK(appends.size() == 2);
  CHECK(n->status().progress.at("n2").inflight == 2);
}

TEST_CASE("an acknowledgement frees a slot of the pipelining window", "[flow]") {
  NodeSetup setup;
  setup.config.max_inflight_msgs = 2;
  TestNode n(setup);
  elect_and_replicate(n);
  Drained d;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(n->propose("cmd" + std::to_string(i)).ok());
    d.add(n.drain());
  }
  auto appends = filter(d.sent(), pb::MSG_APPEND, "n2");
  REQUIRE(appends.size() == 2);
  ack_appends(n, {appends.front()});
  Drained after = n.drain();
  auto more = filter(after.sent(), pb::MSG_APPEND, "n2");
  REQUIRE_FALSE(more.empty());
  // It continues where the window stopped.
  const pb::Message& last_sent = appends.back();
  CHECK(more.front().index() == last_sent.index() + static_cast<Index>(last_sent.entries_size()));
  CHECK(n->status().progress.at("n2").inflight <= 2);
}

TEST_CASE("an append carries at least one entry even above max_size_per_msg", "[flow]") {
  NodeSetup setup;
  setup.config.max_size_per_msg = 1;
  TestNode n(setup);
  elect_and_replicate(n);
  REQUIRE(n->propose("first").ok());
  REQUIRE(n->propose("second").ok());
  REQUIRE(n->propose("third").ok());
  Drained d = n.drain();
  // Acknowledge whatever arrives until n2 has everything.
  std::vector<std::string> received;
  for (int round = 0; round < 10 && received.size() < 3; ++round) {
    auto appends = filter(d.sent(), pb::MSG_APPEND, "n2");
    for (const pb::Message& m : appends) {
      CHECK(m.entries_size() == 1);
      for (const pb::Entry& e : m.entries()) received.push_back(e.data());
    }
    ack_appends(n, appends);
    d = n.drain();
  }
  CHECK(received == std::vector<std::string>{"first", "second", "third"});
}

TEST_CASE("a rejected append sends a follower back to probe state", "[flow]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("a").ok());
  Drained d = n.drain();
  REQUIRE(n->propose("b").ok());
  d.add(n.drain());
  auto appends = filter(d.sent(), pb::MSG_APPEND, "n2");
  REQUIRE(appends.size() == 2);
  REQUIRE(n->status().progress.at("n2").state == ProgressState::kReplicate);
  // The network lost the first append (entry 2): n2 rejects the second, whose previous
  // entry (2) it lacks, hinting its last index 1.
  REQUIRE(appends[1].index() == 2);
  n.step(append_response("n2", "n1", n->term(), 2, /*reject=*/true, /*reject_hint=*/1,
                         /*log_term=*/n->term()));
  Drained retry = n.drain();
  PeerProgress progress = n->status().progress.at("n2");
  CHECK(progress.state == ProgressState::kProbe);
  // The leader resends from entry 2.
  auto resent = filter(retry.sent(), pb::MSG_APPEND, "n2");
  REQUIRE(resent.size() == 1);
  CHECK(resent.front().index() == 1);
  REQUIRE(resent.front().entries_size() >= 1);
  CHECK(resent.front().entries(0).index() == 2);
}

TEST_CASE("a stale acknowledgement does not lower a follower's match", "[flow]") {
  TestNode n(NodeSetup{});
  elect_and_replicate(n);
  REQUIRE(n->propose("a").ok());
  n.drain();
  n.step(append_response("n2", "n1", n->term(), 2));
  n.drain();
  REQUIRE(n->status().progress.at("n2").match == 2);
  n.step(append_response("n2", "n1", n->term(), 1));
  n.drain();
  CHECK(n->status().progress.at("n2").match == 2);
  CHECK(n->status().commit == 2);
}

}  // namespace
}  // namespace raft::test
