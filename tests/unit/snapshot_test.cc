// InstallSnapshot: a leader whose log was compacted past a follower's next entry sends its
// snapshot in chunks of at most max_snapshot_chunk bytes, one at a time, resending after a
// wait and restarting from the offset the follower asks for; the follower acknowledges each
// chunk, installs the complete snapshot through Ready, and the leader goes back to the log.
#include <set>

#include "raft/configuration.h"
#include "test_util.h"

namespace raft::test {
namespace {

// 25 bytes: chunks of 10 at offsets 0, 10 and 20 (the last one 5 bytes).
const std::string kSnapshotData = "abcdefghijklmnopqrstuvwxy";
constexpr std::uint64_t kChunk = 10;
constexpr Index kSnapshotIndex = 6;
constexpr Term kLeaderTerm = 2;

// ---------------------------------------------------------------------------------------------
// Leader side.

// n1: leader of term 2 over entries 1..5 (term 1) and its no-op 6, committed with n2's help;
// n3 never answered. The log is then compacted up to 6 behind a snapshot of kSnapshotData.
NodeSetup leader_setup() {
  NodeSetup setup;
  setup.config.max_snapshot_chunk = kChunk;
  setup.entries = make_log({1, 1, 1, 1, 1});
  setup.hard_state = make_hard_state(1);
  return setup;
}

pb::Configuration snapshot_configuration() { return make_configuration(kThreeIds); }

// Returns what the leader sent to n3 before the compaction.
Drained make_compacted_leader(TestNode& n) {
  Drained d = elect(n);
  REQUIRE(n->term() == kLeaderTerm);
  REQUIRE(n->status().last_index == kSnapshotIndex);
  ack_appends(n, d.sent(), {"n2"});
  n.drain();
  REQUIRE(n->status().commit == kSnapshotIndex);
  REQUIRE(
      n.storage().create_snapshot(kSnapshotIndex, snapshot_configuration(), kSnapshotData).ok());
  REQUIRE(n.storage().compact(kSnapshotIndex).ok());
  REQUIRE(n.storage().first_index() == kSnapshotIndex + 1);
  return d;
}

// n3 rejects the leader's first probe (prev 5) with an empty log: the leader needs entry 1,
// which is compacted. Returns what the leader sent in answer.
Drained n3_rejects_probe(TestNode& n) {
  n.step(append_response("n3", "n1", kLeaderTerm, kSnapshotIndex - 1, /*reject=*/true,
                         /*reject_hint=*/0, /*log_term=*/0));
  return n.drain();
}

// The single MSG_SNAPSHOT to n3 in `d`.
pb::Message single_chunk(const Drained& d) {
  auto chunks = filter(d.sent(), pb::MSG_SNAPSHOT);
  REQUIRE(chunks.size() == 1);
  REQUIRE(chunks.front().to() == "n3");
  return chunks.front();
}

pb::Message n3_acks(Index offset, bool reject = false) {
  return snapshot_response("n3", "n1", kLeaderTerm, kSnapshotIndex, kLeaderTerm, offset, reject);
}

TEST_CASE("a leader sends a snapshot when the follower's next entry was compacted", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  Drained d = n3_rejects_probe(n);
  CHECK(filter(d.sent(), pb::MSG_APPEND, "n3").empty());
  pb::Message m = single_chunk(d);
  CHECK(m.term() == kLeaderTerm);
  CHECK(m.snapshot().index() == kSnapshotIndex);
  CHECK(m.snapshot().term() == kLeaderTerm);
  CHECK(m.snapshot().size() == kSnapshotData.size());
  CHECK(m.snapshot().configuration().SerializeAsString() ==
        snapshot_configuration().SerializeAsString());
  CHECK(m.offset() == 0);
  CHECK(m.data() == kSnapshotData.substr(0, kChunk));
  const PeerProgress pr = n->status().progress.at("n3");
  CHECK(pr.state == ProgressState::kSnapshot);
  CHECK(pr.snapshot_offset == 0);
}

TEST_CASE("a leader sends the snapshot in chunks of max_snapshot_chunk at acknowledged offsets",
          "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  pb::Message first = single_chunk(n3_rejects_probe(n));
  std::string received = first.data();
  CHECK(first.offset() == 0);
  n.step(n3_acks(10));
  pb::Message second = single_chunk(n.drain());
  CHECK(second.offset() == 10);
  CHECK(second.data().size() == kChunk);
  CHECK(n->status().progress.at("n3").snapshot_offset == 10);
  received += second.data();
  n.step(n3_acks(20));
  pb::Message third = single_chunk(n.drain());
  CHECK(third.offset() == 20);
  CHECK(third.data().size() == kSnapshotData.size() - 20);
  received += third.data();
  CHECK(received == kSnapshotData);
  CHECK(n->status().progress.at("n3").state == ProgressState::kSnapshot);
}

TEST_CASE("a leader keeps a single snapshot chunk in flight", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  // New entries and heartbeats before the retry wait send n3 nothing but heartbeats.
  REQUIRE(n->propose("x").ok());
  Drained d = n.drain();
  for (int t = 0; t < 2; ++t) {
    n.tick();
    d.add(n.drain());
    n.step(heartbeat_response("n3", "n1", kLeaderTerm));
    d.add(n.drain());
  }
  CHECK(filter(d.sent(), pb::MSG_SNAPSHOT).empty());
  CHECK(filter(d.sent(), pb::MSG_APPEND, "n3").empty());
  CHECK(filter(d.sent(), pb::MSG_APPEND, "n2").size() == 1);
  CHECK(n->status().progress.at("n3").state == ProgressState::kSnapshot);
}

TEST_CASE("a late append acknowledgement below the snapshot does not send a second chunk",
          "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  // An acknowledgement of an older append overtaken by the rejection (network reordering):
  // n3 holds entries up to 3, which the leader compacted away.
  n.step(append_response("n3", "n1", kLeaderTerm, 3));
  Drained d = n.drain();
  REQUIRE(n->propose("x").ok());
  d.add(n.drain());
  CHECK(filter(d.sent(), pb::MSG_SNAPSHOT).empty());
  CHECK(filter(d.sent(), pb::MSG_APPEND, "n3").empty());
  CHECK(n->status().progress.at("n3").state == ProgressState::kSnapshot);
}

TEST_CASE("a leader resends an unanswered chunk after half an election timeout", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  n.step(n3_acks(10));
  pb::Message in_flight = single_chunk(n.drain());
  REQUIRE(in_flight.offset() == 10);
  const int wait = kElectionTick / 2;
  for (int t = 1; t < wait; ++t) {
    n.tick();
    n.drain();
    n.step(heartbeat_response("n3", "n1", kLeaderTerm));
    Drained d = n.drain();
    INFO("tick " << t);
    CHECK(filter(d.sent(), pb::MSG_SNAPSHOT).empty());
  }
  n.tick();
  n.drain();
  n.step(heartbeat_response("n3", "n1", kLeaderTerm));
  pb::Message resent = single_chunk(n.drain());
  CHECK(resent.offset() == in_flight.offset());
  CHECK(resent.data() == in_flight.data());
  CHECK(resent.snapshot().index() == kSnapshotIndex);
}

TEST_CASE("a leader ignores a duplicate chunk acknowledgement", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  n.step(n3_acks(10));
  REQUIRE(single_chunk(n.drain()).offset() == 10);
  n.step(n3_acks(10));
  Drained dup = n.drain();
  CHECK(filter(dup.sent(), pb::MSG_SNAPSHOT).empty());
  n.step(n3_acks(20));
  REQUIRE(single_chunk(n.drain()).offset() == 20);
  // An older acknowledgement, arriving late, moves nothing back.
  n.step(n3_acks(10));
  Drained late = n.drain();
  CHECK(filter(late.sent(), pb::MSG_SNAPSHOT).empty());
  CHECK(n->status().progress.at("n3").snapshot_offset == 20);
}

TEST_CASE("a leader ignores an acknowledgement of another snapshot", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  n.step(snapshot_response("n3", "n1", kLeaderTerm, kSnapshotIndex - 1, 1, 10));
  Drained d = n.drain();
  CHECK(filter(d.sent(), pb::MSG_SNAPSHOT).empty());
  CHECK(n->status().progress.at("n3").snapshot_offset == 0);
}

TEST_CASE("a leader resends from the offset a rejecting follower asks for", "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  n.step(n3_acks(10));
  n.drain();
  n.step(n3_acks(20));
  REQUIRE(single_chunk(n.drain()).offset() == 20);
  SECTION("a lost chunk") {
    n.step(n3_acks(10, /*reject=*/true));
    pb::Message m = single_chunk(n.drain());
    CHECK(m.offset() == 10);
    CHECK(m.data() == kSnapshotData.substr(10, kChunk));
    CHECK(n->status().progress.at("n3").snapshot_offset == 10);
  }
  SECTION("a follower that starts over") {
    n.step(n3_acks(0, /*reject=*/true));
    pb::Message m = single_chunk(n.drain());
    CHECK(m.offset() == 0);
    CHECK(m.data() == kSnapshotData.substr(0, kChunk));
  }
}

TEST_CASE("a leader finishes a snapshot replaced during the transfer, then sends the newest",
          "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  Result<Index> x = n->propose("x");
  REQUIRE(x.ok());
  Drained d = n.drain();
  ack_appends(n, d.sent(), {"n2"});
  n.drain();
  REQUIRE(n->status().commit == *x);
  const std::string newer = "0123456789ABCDEF";
  REQUIRE(n.storage().create_snapshot(*x, snapshot_configuration(), newer).ok());
  REQUIRE(n.storage().compact(*x).ok());
  // The transfer in progress goes on from where n3 is, with the snapshot it started.
  n.step(n3_acks(10));
  pb::Message second = single_chunk(n.drain());
  CHECK(second.snapshot().index() == kSnapshotIndex);
  CHECK(second.offset() == 10);
  CHECK(second.data() == kSnapshotData.substr(10, kChunk));
  n.step(n3_acks(20));
  pb::Message third = single_chunk(n.drain());
  CHECK(third.snapshot().index() == kSnapshotIndex);
  CHECK(third.offset() == 20);
  // n3 installed it, but the log after it was compacted meanwhile: the newest snapshot follows.
  n.step(append_response("n3", "n1", kLeaderTerm, kSnapshotIndex));
  pb::Message next = single_chunk(n.drain());
  CHECK(next.snapshot().index() == *x);
  CHECK(next.snapshot().size() == newer.size());
  CHECK(next.offset() == 0);
  CHECK(next.data() == newer.substr(0, kChunk));
  const PeerProgress pr = n->status().progress.at("n3");
  CHECK(pr.state == ProgressState::kSnapshot);
  CHECK(pr.match == kSnapshotIndex);
}

TEST_CASE("after the snapshot is installed the leader replicates the log from its index",
          "[snapshot]") {
  TestNode n(leader_setup());
  make_compacted_leader(n);
  single_chunk(n3_rejects_probe(n));
  n.step(n3_acks(10));
  n.drain();
  n.step(n3_acks(20));
  n.drain();
  // The last chunk completed the install: n3 answers like an accepted append.
  n.step(append_response("n3", "n1", kLeaderTerm, kSnapshotIndex));
  n.drain();
  const PeerProgress pr = n->status().progress.at("n3");
  CHECK(pr.state == ProgressState::kReplicate);
  CHECK(pr.match == kSnapshotIndex);
  CHECK(pr.next == kSnapshotIndex + 1);
  Result<Index> x = n->propose("x");
  REQUIRE(x.ok());
  Drained d = n.drain();
  CHECK(filter(d.sent(), pb::MSG_SNAPSHOT).empty());
  auto appends = filter(d.sent(), pb::MSG_APPEND, "n3");
  REQUIRE(appends.size() == 1);
  CHECK(appends.front().index() == kSnapshotIndex);
  CHECK(appends.front().log_term() == kLeaderTerm);
  CHECK(ids_of({appends.front().entries().begin(), appends.front().entries().end()}) ==
        ids_of({make_entry(*x, kLeaderTerm)}));
}

TEST_CASE("a lagging follower catches up through a snapshot and then the log", "[snapshot]") {
  TestNode leader(leader_setup());
  NodeSetup follower_setup;
  follower_setup.config = make_config("n3");
  TestNode follower(follower_setup);
  Drained d = make_compacted_leader(leader);
  Result<Index> x = leader->propose("x");
  REQUIRE(x.ok());
  d.add(leader.drain());
  // Deliver everything between n1 and n3 until they are quiet (n2 hears nothing more).
  std::vector<pb::Message> to_n3 = filter(d.sent(), pb::MSG_APPEND, "n3");
  for (int round = 0; round < 50 && !to_n3.empty(); ++round) {
    for (const pb::Message& m : to_n3) follower.step(m);
    to_n3.clear();
    for (const pb::Message& m : follower.drain().sent()) leader.step(m);
    for (const pb::Message& m : leader.drain().sent()) {
      if (m.to() == "n3") to_n3.push_back(m);
    }
  }
  CHECK(to_n3.empty());
  CHECK(follower.storage().snapshot().index() == kSnapshotIndex);
  CHECK(follower.storage().snapshot_data() == kSnapshotData);
  CHECK(follower.storage().last_index() == *x);
  CHECK(follower->status().commit == *x);
  CHECK(ids_of(follower.applied()) == ids_of({make_entry(*x, kLeaderTerm)}));
  const PeerProgress pr = leader->status().progress.at("n3");
  CHECK(pr.state == ProgressState::kReplicate);
  CHECK(pr.match == *x);
}

TEST_CASE("RawNode::create refuses an applied index below the compaction point", "[snapshot]") {
  MemoryStorage storage;
  storage.set_configuration(make_configuration(kThreeIds));
  REQUIRE(storage.append(make_log({1, 1, 1, 1, 1, 1, 1, 1, 1, 1})).ok());
  storage.set_hard_state(make_hard_state(1, "", 10));
  REQUIRE(storage.create_snapshot(5, make_configuration(kThreeIds), "state").ok());
  REQUIRE(storage.compact(5).ok());
  Config config = make_config("n1");
  config.applied = 4;
  auto refused = RawNode::create(config, &storage);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kInvalidArgument);
  config.applied = 5;
  auto created = RawNode::create(config, &storage);
  REQUIRE(created.ok());
  Ready rd = (*created)->ready();
  REQUIRE_FALSE(rd.committed_entries.empty());
  CHECK(rd.committed_entries.front().index() == 6);
  CHECK(rd.committed_entries.back().index() == 10);
}

// ---------------------------------------------------------------------------------------------
// Follower side.

// n1: a follower of term 1 with entries 1..3 (term 1), commit 1. The leader n2 (term 2)
// sends a snapshot at index 10 whose configuration differs from n1's.
NodeSetup follower_setup() {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(1, "", 1);
  return setup;
}

constexpr Index kFollowerSnapshotIndex = 10;

pb::Configuration follower_snapshot_configuration() {
  return make_configuration({"n1", "n2", "n4"});
}

pb::SnapshotMetadata follower_snapshot() {
  return make_snapshot_metadata(kFollowerSnapshotIndex, kLeaderTerm,
                                follower_snapshot_configuration(), kSnapshotData.size());
}

pb::Message chunk_at(std::uint64_t offset) {
  return snapshot_chunk("n2", "n1", kLeaderTerm, follower_snapshot(), offset,
                        kSnapshotData.substr(offset, kChunk));
}

pb::Message single_answer(const Drained& d, pb::MessageType type) {
  auto answers = filter(d.sent(), type, "n2");
  REQUIRE(answers.size() == 1);
  return answers.front();
}

TEST_CASE("a follower acknowledges each chunk with the next offset it expects", "[snapshot]") {
  TestNode n(follower_setup());
  for (std::uint64_t offset : {0, 10}) {
    n.step(chunk_at(offset));
    Drained d = n.drain();
    pb::Message ack = single_answer(d, pb::MSG_SNAPSHOT_RESP);
    CHECK_FALSE(ack.reject());
    CHECK(ack.offset() == offset + kChunk);
    CHECK(ack.term() == kLeaderTerm);
    CHECK(ack.snapshot().index() == kFollowerSnapshotIndex);
    CHECK(ack.snapshot().term() == kLeaderTerm);
    CHECK(filter(d.sent(), pb::MSG_APPEND_RESP).empty());
    CHECK(d.snapshots.empty());
  }
  CHECK(n->leader() == "n2");
  CHECK(n->term() == kLeaderTerm);
}

TEST_CASE("a follower hands a chunk out for writing before acknowledging it", "[snapshot]") {
  TestNode n(follower_setup());
  n.drain();
  n.step(chunk_at(0));
  REQUIRE(n->has_ready());
  Ready rd = n->ready();
  REQUIRE(rd.snapshot_chunks.size() == 1);
  CHECK(rd.snapshot_chunks.front().offset == 0);
  CHECK(rd.snapshot_chunks.front().data == kSnapshotData.substr(0, kChunk));
  CHECK(rd.snapshot_chunks.front().metadata.index() == kFollowerSnapshotIndex);
  CHECK_FALSE(rd.snapshot);
  CHECK(filter(rd.messages, pb::MSG_SNAPSHOT_RESP).empty());
  CHECK(filter(rd.persisted_messages, pb::MSG_SNAPSHOT_RESP, "n2").size() == 1);
  n.persist(rd);
  n->advance();
}

TEST_CASE("a follower installs a complete snapshot through Ready", "[snapshot]") {
  TestNode n(follower_setup());
  Drained all = n.drain();
  for (std::uint64_t offset : {0, 10, 20}) {
    n.step(chunk_at(offset));
    all.add(n.drain());
  }
  REQUIRE(all.snapshots.size() == 1);
  CHECK(all.snapshots.front().index() == kFollowerSnapshotIndex);
  CHECK(all.snapshots.front().term() == kLeaderTerm);
  CHECK(all.snapshots.front().size() == kSnapshotData.size());
  REQUIRE(all.snapshot_chunks.size() == 3);
  std::string written;
  for (const SnapshotChunk& c : all.snapshot_chunks) {
    CHECK(c.offset == written.size());
    written += c.data;
  }
  CHECK(written == kSnapshotData);
  CHECK(n.storage().snapshot().index() == kFollowerSnapshotIndex);
  CHECK(n.storage().snapshot_data() == kSnapshotData);
  CHECK(n.storage().first_index() == kFollowerSnapshotIndex + 1);
  // Nothing it covers is handed out as committed entries.
  for (const pb::Entry& e : all.committed_entries) CHECK(e.index() <= 1);
}

TEST_CASE(
    "a follower ignores chunks of another snapshot until the completed one was handed out to "
    "install",
    "[snapshot]") {
  // Found by raft-sim (seed 288, 7 nodes): the chunks of a newer snapshot travelled in the
  // same Ready as the install of the completed one, so the host started the newer one's
  // partial file before installing the older.
  TestNode n(follower_setup());
  n.drain();
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  const pb::SnapshotMetadata newer = make_snapshot_metadata(kFollowerSnapshotIndex + 5, kLeaderTerm,
                                                            follower_snapshot_configuration(), 4);
  n.step(snapshot_chunk("n2", "n1", kLeaderTerm, newer, 0, "abcd"));
  Ready rd = n->ready();
  REQUIRE(rd.snapshot);
  CHECK(rd.snapshot->index() == kFollowerSnapshotIndex);
  for (const SnapshotChunk& c : rd.snapshot_chunks) {
    CHECK(c.metadata.index() == kFollowerSnapshotIndex);
  }
  n.persist(rd);
  n->advance();
  // Once the install was handed out, the newer snapshot is accepted.
  n.step(snapshot_chunk("n2", "n1", kLeaderTerm, newer, 0, "abcd"));
  Drained d = n.drain();
  REQUIRE(d.snapshots.size() == 1);
  CHECK(d.snapshots.front().index() == kFollowerSnapshotIndex + 5);
}

TEST_CASE("a follower that installed a snapshot has commit applied and log at its index",
          "[snapshot]") {
  TestNode n(follower_setup());
  n.drain();
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  Drained d = n.drain();
  const NodeStatus s = n->status();
  CHECK(s.commit == kFollowerSnapshotIndex);
  CHECK(s.applied == kFollowerSnapshotIndex);
  CHECK(s.last_index == kFollowerSnapshotIndex);
  CHECK(s.last_term == kLeaderTerm);
  REQUIRE_FALSE(d.hard_states.empty());
  CHECK(d.hard_states.back().commit() == kFollowerSnapshotIndex);
  CHECK(n.storage().hard_state().commit() == kFollowerSnapshotIndex);
}

TEST_CASE("a follower takes its configuration from an installed snapshot", "[snapshot]") {
  TestNode n(follower_setup());
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  n.drain();
  CHECK(n->status().configuration_index == kFollowerSnapshotIndex);
  CHECK(n->status().configuration.SerializeAsString() ==
        follower_snapshot_configuration().SerializeAsString());
  // Its elections ask the snapshot's voters.
  REQUIRE(n->campaign().ok());
  Drained d = n.drain();
  std::set<NodeId> asked;
  for (const pb::Message& m : filter(d.sent(), pb::MSG_VOTE)) asked.insert(m.to());
  CHECK(asked == std::set<NodeId>{"n2", "n4"});
}

TEST_CASE("an installed snapshot's configuration is in force after a restart", "[snapshot]") {
  TestNode n(follower_setup());
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  n.drain();
  n.restart();
  CHECK(n->status().commit == kFollowerSnapshotIndex);
  CHECK(n->status().last_index == kFollowerSnapshotIndex);
  CHECK(n->status().configuration.SerializeAsString() ==
        follower_snapshot_configuration().SerializeAsString());
}

TEST_CASE("a follower answers a completed snapshot with an append acknowledgement of its index",
          "[snapshot]") {
  TestNode n(follower_setup());
  n.step(chunk_at(0));
  n.step(chunk_at(10));
  n.drain();
  n.step(chunk_at(20));
  Drained d = n.drain();
  CHECK(filter(d.sent(), pb::MSG_SNAPSHOT_RESP).empty());
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == kFollowerSnapshotIndex);
  CHECK(answer.term() == kLeaderTerm);
}

TEST_CASE("a follower accepts appends that follow an installed snapshot", "[snapshot]") {
  TestNode n(follower_setup());
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  n.drain();
  n.step(append_request("n2", "n1", kLeaderTerm, kFollowerSnapshotIndex, kLeaderTerm,
                        {make_entry(kFollowerSnapshotIndex + 1, kLeaderTerm, "x")},
                        kFollowerSnapshotIndex + 1));
  Drained d = n.drain();
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == kFollowerSnapshotIndex + 1);
  CHECK(ids_of(d.committed_entries) ==
        ids_of({make_entry(kFollowerSnapshotIndex + 1, kLeaderTerm)}));
  CHECK(n.storage().last_index() == kFollowerSnapshotIndex + 1);
}

TEST_CASE("a follower answers a duplicate chunk with the offset it expects without reject",
          "[snapshot]") {
  TestNode n(follower_setup());
  n.step(chunk_at(0));
  n.step(chunk_at(10));
  n.drain();
  n.step(chunk_at(0));
  Drained d = n.drain();
  pb::Message ack = single_answer(d, pb::MSG_SNAPSHOT_RESP);
  CHECK_FALSE(ack.reject());
  CHECK(ack.offset() == 20);
  CHECK(d.snapshot_chunks.empty());
  // The install goes on from there.
  n.step(chunk_at(20));
  Drained done = n.drain();
  CHECK(done.snapshots.size() == 1);
  CHECK(n.storage().snapshot_data() == kSnapshotData);
}

TEST_CASE("a follower rejects a chunk that skips ahead and names the offset it expects",
          "[snapshot]") {
  TestNode n(follower_setup());
  n.step(chunk_at(0));
  n.drain();
  n.step(chunk_at(20));
  Drained d = n.drain();
  pb::Message ack = single_answer(d, pb::MSG_SNAPSHOT_RESP);
  CHECK(ack.reject());
  CHECK(ack.offset() == 10);
  CHECK(d.snapshot_chunks.empty());
  CHECK(d.snapshots.empty());
  CHECK(n->status().commit == 1);
}

TEST_CASE("a follower asks to start over for a chunk of an unknown snapshot past offset 0",
          "[snapshot]") {
  TestNode n(follower_setup());
  n.drain();
  n.step(chunk_at(10));
  Drained d = n.drain();
  pb::Message ack = single_answer(d, pb::MSG_SNAPSHOT_RESP);
  CHECK(ack.reject());
  CHECK(ack.offset() == 0);
  CHECK(ack.snapshot().index() == kFollowerSnapshotIndex);
  CHECK(d.snapshot_chunks.empty());
}

TEST_CASE("a follower that restarted during a snapshot asks to start over", "[snapshot]") {
  TestNode n(follower_setup());
  n.step(chunk_at(0));
  n.drain();
  n.restart();
  n.step(chunk_at(10));
  Drained d = n.drain();
  pb::Message ack = single_answer(d, pb::MSG_SNAPSHOT_RESP);
  CHECK(ack.reject());
  CHECK(ack.offset() == 0);
  // From the start, the install completes.
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  Drained done = n.drain();
  CHECK(done.snapshots.size() == 1);
  CHECK(n.storage().snapshot_data() == kSnapshotData);
}

TEST_CASE("a follower answers a snapshot at or below its commit index with its commit index",
          "[snapshot]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1, 1, 1});
  setup.hard_state = make_hard_state(1, "", 5);
  TestNode n(setup);
  n.drain();
  for (Index index : {Index{4}, Index{5}}) {
    n.step(snapshot_chunk("n2", "n1", 1,
                          make_snapshot_metadata(index, 1, make_configuration(kThreeIds), 3), 0,
                          "abc"));
    Drained d = n.drain();
    INFO("snapshot at " << index);
    pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
    CHECK_FALSE(answer.reject());
    CHECK(answer.index() == 5);
    CHECK(d.snapshots.empty());
    CHECK(d.snapshot_chunks.empty());
    CHECK(filter(d.sent(), pb::MSG_SNAPSHOT_RESP).empty());
  }
  CHECK(n.storage().last_index() == 5);
  CHECK(n.storage().snapshot().index() == 0);
}

TEST_CASE("a follower whose log holds the snapshot's last entry fast-forwards its commit",
          "[snapshot]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1, 1, 1});
  setup.hard_state = make_hard_state(1, "", 2);
  TestNode n(setup);
  n.drain();
  n.step(snapshot_chunk("n2", "n1", 1,
                        make_snapshot_metadata(4, 1, make_configuration(kThreeIds), 3), 0, "abc"));
  Drained d = n.drain();
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == 4);
  CHECK(d.snapshots.empty());
  CHECK(d.snapshot_chunks.empty());
  CHECK(n->status().commit == 4);
  CHECK(ids_of(d.committed_entries) == ids_of({make_entry(3, 1), make_entry(4, 1)}));
  // The log is kept, entry 5 included.
  CHECK(n.storage().last_index() == 5);
  CHECK(n.storage().snapshot().index() == 0);
}

TEST_CASE("entries a follower acknowledged while receiving a snapshot survive its last chunk",
          "[snapshot]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 1});
  setup.hard_state = make_hard_state(2, "", 3);
  TestNode n(setup);
  n.drain();
  // Leader n2 of term 2 compacted to 5@1 and sends that snapshot in two chunks.
  const auto meta = make_snapshot_metadata(5, 1, make_configuration(kThreeIds), 10);
  n.step(snapshot_chunk("n2", "n1", 2, meta, 0, "aaaaa"));
  n.drain();
  // An append of the same leader, delayed by the network, arrives between the chunks.
  n.step(append_request(
      "n2", "n1", 2, 3, 1,
      {make_entry(4, 1), make_entry(5, 1), make_entry(6, 2), make_entry(7, 2), make_entry(8, 2)},
      3));
  Drained appended = n.drain();
  auto acks = filter(appended.persisted_messages, pb::MSG_APPEND_RESP);
  REQUIRE(acks.size() == 1);
  REQUIRE(acks[0].index() == 8);  // 1..8 are durable here, and the leader may count them
  n.step(snapshot_chunk("n2", "n1", 2, meta, 5, "bbbbb"));
  Drained d = n.drain();
  // The log now holds the snapshot's last entry: commit up to it, keep the rest.
  CHECK(d.snapshots.empty());
  CHECK(d.snapshot_chunks.empty());
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == 5);
  CHECK(n->status().commit == 5);
  CHECK(n->status().last_index == 8);
  CHECK(n.storage().last_index() == 8);
  CHECK(n.storage().snapshot().index() == 0);
}

TEST_CASE("a snapshot replaces a follower's log that conflicts with it", "[snapshot]") {
  TestNode n(follower_setup());
  // Entries 2..3 of term 1 are uncommitted; the snapshot's index 10 is of term 2.
  for (std::uint64_t offset : {0, 10, 20}) n.step(chunk_at(offset));
  n.drain();
  CHECK(n.storage().first_index() == kFollowerSnapshotIndex + 1);
  CHECK(n.storage().last_index() == kFollowerSnapshotIndex);
  auto t = n.storage().term(kFollowerSnapshotIndex);
  REQUIRE(t.ok());
  CHECK(*t == kLeaderTerm);
  // An append below the snapshot is answered with the snapshot index (all committed).
  n.step(append_request("n2", "n1", kLeaderTerm, 3, 1, {make_entry(4, 1)}, 0));
  Drained d = n.drain();
  pb::Message answer = single_answer(d, pb::MSG_APPEND_RESP);
  CHECK_FALSE(answer.reject());
  CHECK(answer.index() == kFollowerSnapshotIndex);
}

}  // namespace
}  // namespace raft::test
