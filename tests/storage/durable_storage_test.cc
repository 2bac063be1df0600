// Tests of DurableStorage: the Ready contract's step 2 on disk (entries, votes, received
// snapshots), snapshots the host takes, bootstrap, recovery after a crash at every step of a
// snapshot install, and a RawNode that restarts from it.
#include "raft/durable_storage.h"

#include <catch2/catch.hpp>

#include "raft/configuration.h"
#include "raft/raw_node.h"
#include "storage/fault_injecting_file_system.h"

namespace raft {
namespace {

using Fs = FaultInjectingFileSystem;
const std::string kDir = "/data/node";

pb::Configuration three_voters() {
  pb::Configuration c;
  for (const char* id : {"n1", "n2", "n3"}) {
    pb::Server* s = c.add_servers();
    s->set_id(id);
    s->set_address(std::string(id) + ":7000");
    s->set_suffrage(pb::VOTER);
  }
  return c;
}

pb::Entry entry(Index index, Term term, const std::string& data = "x") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

std::unique_ptr<DurableStorage> open_storage(Fs& fs) {
  auto storage = DurableStorage::open(fs, kDir);
  INFO(storage.status().to_string());
  REQUIRE(storage.ok());
  return std::move(*storage);
}

std::string snapshot_bytes(std::size_t n) {
  std::string data;
  for (std::size_t i = 0; i < n; ++i) data += static_cast<char>('a' + i % 26);
  return data;
}

// A Ready carrying a whole snapshot received in chunks of `chunk` bytes.
Ready received_snapshot(const pb::SnapshotMetadata& meta, const std::string& data,
                        std::size_t chunk) {
  Ready rd;
  for (std::size_t off = 0; off < data.size() || off == 0; off += chunk) {
    rd.snapshot_chunks.push_back(SnapshotChunk{meta, off, data.substr(off, chunk)});
    if (data.empty()) break;
  }
  rd.snapshot = meta;
  rd.must_sync = true;
  return rd;
}

TEST_CASE("durable storage: bootstrap writes the configuration as entry 1 of term 1") {
  Fs fs;
  auto storage = open_storage(fs);
  REQUIRE_FALSE(storage->has_state());
  REQUIRE(storage->bootstrap(three_voters()).ok());
  storage.reset();
  storage = open_storage(fs);
  CHECK(storage->has_state());
  CHECK(storage->last_index() == 1);
  CHECK(*storage->term(1) == 1);
  auto e = storage->entries(1, 2, 1 << 20);
  REQUIRE(e.ok());
  CHECK((*e)[0].type() == pb::ENTRY_CONF_CHANGE);
  CHECK(storage->initial_state()->hard_state.term() == 1);
}

TEST_CASE("durable storage: bootstrapping a node that has state is refused") {
  Fs fs;
  auto storage = open_storage(fs);
  REQUIRE(storage->bootstrap(three_voters()).ok());
  CHECK(storage->bootstrap(three_voters()).code() == ErrorCode::kAlreadyExists);
}

TEST_CASE("durable storage: entries and a vote from persist() survive a crash") {
  Fs fs;
  {
    auto storage = open_storage(fs);
    Ready rd;
    rd.entries = {entry(1, 1), entry(2, 1), entry(3, 2)};
    pb::HardState hs;
    hs.set_term(2);
    hs.set_vote("n2");
    hs.set_commit(2);
    rd.hard_state = hs;
    rd.must_sync = true;
    REQUIRE(storage->persist(rd).ok());
  }
  fs.crash();
  auto storage = open_storage(fs);
  CHECK(storage->last_index() == 3);
  CHECK(*storage->term(3) == 2);
  auto initial = storage->initial_state();
  REQUIRE(initial.ok());
  CHECK(initial->hard_state.term() == 2);
  CHECK(initial->hard_state.vote() == "n2");
  CHECK(initial->hard_state.commit() == 2);
}

TEST_CASE(
    "durable storage: a snapshot the host takes compacts the log and keeps its configuration") {
  Fs fs;
  {
    auto storage = open_storage(fs);
    REQUIRE(storage->bootstrap(three_voters()).ok());
    Ready rd;
    for (Index i = 2; i <= 20; ++i) rd.entries.push_back(entry(i, 1));
    REQUIRE(storage->persist(rd).ok());
    auto writer = storage->begin_snapshot(15, 1, three_voters());
    REQUIRE(writer.ok());
    REQUIRE((*writer)->write("state at 15").ok());
    REQUIRE((*writer)->commit().ok());
    REQUIRE(storage->compact(15, 5).ok());
    CHECK(storage->first_index() == 11);
  }
  fs.crash();
  auto storage = open_storage(fs);
  CHECK(storage->first_index() == 11);
  CHECK(storage->last_index() == 20);
  auto initial = storage->initial_state();
  REQUIRE(initial.ok());
  CHECK(initial->configuration.servers_size() == 3);
  CHECK(initial->hard_state.commit() >= 15);
  auto meta = storage->snapshot_metadata();
  REQUIRE(meta.ok());
  CHECK(meta->index() == 15);
  CHECK(meta->size() == std::string("state at 15").size());
}

TEST_CASE("durable storage: compaction never passes the newest snapshot") {
  Fs fs;
  auto storage = open_storage(fs);
  Ready rd;
  for (Index i = 1; i <= 10; ++i) rd.entries.push_back(entry(i, 1));
  REQUIRE(storage->persist(rd).ok());
  CHECK_FALSE(storage->compact(5, 0).ok());  // no snapshot at all
  auto writer = storage->begin_snapshot(4, 1, three_voters());
  REQUIRE(writer.ok());
  REQUIRE((*writer)->commit().ok());
  REQUIRE(storage->compact(9, 0).ok());
  CHECK(storage->first_index() == 5);
}

TEST_CASE(
    "durable storage: a snapshot received in chunks is installed and the log restarts after it") {
  Fs fs;
  const std::string data = snapshot_bytes(1000);
  pb::SnapshotMetadata meta;
  meta.set_index(50);
  meta.set_term(3);
  *meta.mutable_configuration() = three_voters();
  meta.set_size(data.size());
  {
    auto storage = open_storage(fs);
    Ready old;
    old.entries = {entry(1, 1), entry(2, 1)};
    REQUIRE(storage->persist(old).ok());
    Ready rd = received_snapshot(meta, data, 128);
    rd.entries = {entry(51, 3), entry(52, 3)};
    REQUIRE(storage->persist(rd).ok());
  }
  fs.crash();
  auto storage = open_storage(fs);
  CHECK(storage->first_index() == 51);
  CHECK(storage->last_index() == 52);
  CHECK(*storage->term(50) == 3);
  auto reader = storage->open_newest_snapshot();
  REQUIRE(reader.ok());
  std::string back;
  REQUIRE((*reader)->read(0, 4096, &back).ok());
  CHECK(back == data);
  CHECK(storage->initial_state()->hard_state.commit() >= 50);
}

TEST_CASE("durable storage: a chunk that does not continue the received snapshot is an error") {
  Fs fs;
  auto storage = open_storage(fs);
  pb::SnapshotMetadata meta;
  meta.set_index(5);
  meta.set_term(1);
  meta.set_size(10);
  Ready rd;
  rd.snapshot_chunks.push_back(SnapshotChunk{meta, 4, "abcdef"});
  CHECK(storage->persist(rd).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE(
    "durable storage: read_snapshot serves chunks, finishes transfers in progress and says "
    "kNotFound for a replaced snapshot no transfer reads") {
  Fs fs;
  DurableStorage::Options options;
  options.snapshots_retained = 1;
  auto opened = DurableStorage::open(fs, kDir, options);
  REQUIRE(opened.ok());
  auto& storage = *opened;
  Ready rd;
  for (Index i = 1; i <= 20; ++i) rd.entries.push_back(entry(i, 1));
  REQUIRE(storage->persist(rd).ok());
  auto w = storage->begin_snapshot(5, 1, three_voters());
  REQUIRE(w.ok());
  REQUIRE((*w)->write(snapshot_bytes(300)).ok());
  REQUIRE((*w)->commit().ok());
  auto meta = storage->snapshot_metadata();
  REQUIRE(meta.ok());
  std::string got;
  for (std::uint64_t off = 0; off < meta->size();) {
    auto chunk = storage->read_snapshot(*meta, off, 64);
    REQUIRE(chunk.ok());
    REQUIRE_FALSE(chunk->empty());
    got += *chunk;
    off += chunk->size();
  }
  CHECK(got == snapshot_bytes(300));
  auto w2 = storage->begin_snapshot(8, 1, three_voters());
  REQUIRE(w2.ok());
  REQUIRE((*w2)->commit().ok());
  // The transfer in progress keeps its open snapshot, even though retention removed it.
  CHECK(storage->read_snapshot(*meta, 64, 64).ok());
  // Another follower's transfer of the newest one does not close it: both go on.
  auto newest = storage->snapshot_metadata();
  REQUIRE(newest.ok());
  REQUIRE(storage->read_snapshot(*newest, 0, 64).ok());
  CHECK(storage->read_snapshot(*meta, 128, 64).ok());
  // Once kMaxSendingReaders other snapshots were read since, the removed one is gone for good.
  for (Index index = 9; index < 9 + DurableStorage::kMaxSendingReaders; ++index) {
    auto w3 = storage->begin_snapshot(index, 1, three_voters());
    REQUIRE(w3.ok());
    REQUIRE((*w3)->write(snapshot_bytes(10)).ok());
    REQUIRE((*w3)->commit().ok());
    auto m3 = storage->snapshot_metadata();
    REQUIRE(m3.ok());
    REQUIRE(storage->read_snapshot(*m3, 0, 64).ok());
  }
  CHECK(storage->read_snapshot(*meta, 0, 64).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("durable storage: a second open of the same directory fails") {
  Fs fs;
  auto storage = open_storage(fs);
  auto second = DurableStorage::open(fs, kDir);
  CHECK_FALSE(second.ok());
}

// A crash at every call of a snapshot install leaves either the old log or the installed
// snapshot with the log restarted after it: never entries the snapshot replaced next to it.
TEST_CASE(
    "durable storage: a crash at any step of a snapshot install opens to the old or new state") {
  const std::string data = snapshot_bytes(700);
  pb::SnapshotMetadata meta;
  meta.set_index(40);
  meta.set_term(4);
  *meta.mutable_configuration() = three_voters();
  meta.set_size(data.size());
  auto prepare = [](Fs& fs) {
    auto storage = open_storage(fs);
    Ready old;
    for (Index i = 1; i <= 30; ++i) old.entries.push_back(entry(i, 2, "old"));
    REQUIRE(storage->persist(old).ok());
    return storage;
  };
  std::uint64_t total = 0;
  {
    Fs fs;
    auto storage = prepare(fs);
    fs.reset_counts();
    REQUIRE(storage->persist(received_snapshot(meta, data, 100)).ok());
    total = fs.calls();
  }
  REQUIRE(total > 5);
  for (std::uint64_t n = 1; n <= total; ++n) {
    INFO("crash at call " << n << " of " << total);
    Fs fs(n);
    {
      auto storage = prepare(fs);
      fs.schedule_crash(n);
      (void)storage->persist(received_snapshot(meta, data, 100));
      if (!fs.is_down()) fs.crash();
    }
    fs.restart();
    auto storage = open_storage(fs);
    auto snap = storage->snapshot_metadata();
    if (snap.ok() && snap->index() == 40) {
      // Installed: the log restarts after the snapshot.
      CHECK(storage->first_index() == 41);
      CHECK(storage->last_index() == 40);
      CHECK(*storage->term(40) == 4);
    } else {
      // Not installed: the old log, whole.
      CHECK(storage->first_index() == 1);
      CHECK(storage->last_index() == 30);
      CHECK(*storage->term(30) == 2);
    }
  }
}

// Drives a one-node RawNode over DurableStorage through the Ready contract.
void drain(RawNode& node, DurableStorage& storage, std::vector<pb::Entry>* applied) {
  while (node.has_ready()) {
    Ready rd = node.ready();
    REQUIRE(storage.persist(rd).ok());
    for (const auto& e : rd.committed_entries) applied->push_back(e);
    node.advance();
  }
}

TEST_CASE("durable storage: a RawNode restarted on it keeps its term, log and configuration") {
  Fs fs;
  Index last = 0;
  Term term = 0;
  {
    auto storage = open_storage(fs);
    pb::Configuration one;
    pb::Server* s = one.add_servers();
    s->set_id("n1");
    s->set_address("n1:7000");
    REQUIRE(storage->bootstrap(one).ok());
    Config config;
    config.id = "n1";
    auto node = RawNode::create(config, storage.get());
    REQUIRE(node.ok());
    std::vector<pb::Entry> applied;
    REQUIRE((*node)->campaign().ok());
    drain(**node, *storage, &applied);
    REQUIRE((*node)->role() == Role::kLeader);
    for (int i = 0; i < 5; ++i) REQUIRE((*node)->propose("cmd" + std::to_string(i)).ok());
    drain(**node, *storage, &applied);
    last = (*node)->status().last_index;
    term = (*node)->term();
    CHECK((*node)->status().commit == last);
  }
  fs.crash();
  auto storage = open_storage(fs);
  Config config;
  config.id = "n1";
  auto node = RawNode::create(config, storage.get());
  REQUIRE(node.ok());
  CHECK((*node)->term() == term);
  CHECK((*node)->status().last_index == last);
  CHECK((*node)->status().in_configuration);
  CHECK(is_voter((*node)->status().configuration, "n1"));
}

TEST_CASE(
    "durable storage: a received snapshot whose install was not durable is made durable "
    "before the restart finishes it") {
  Fs fs;
  const std::string data(1000, 'q');
  pb::SnapshotMetadata meta;
  meta.set_index(50);
  meta.set_term(3);
  meta.set_size(data.size());
  {
    auto storage = open_storage(fs);
    Ready old;
    for (Index i = 1; i <= 10; ++i) old.entries.push_back(entry(i, 1));
    REQUIRE(storage->persist(old).ok());
    Ready rd;
    rd.snapshot_chunks.push_back(SnapshotChunk{meta, 0, data});
    rd.snapshot = meta;
    // The second directory sync: the store's, after the rename into place.
    fs.fail_nth(Fs::Op::kSyncDir, 2);
    REQUIRE_FALSE(storage->persist(rd).ok());  // the host stops, then restarts
  }
  { open_storage(fs); }  // the restart finishes the install: the log restarts after 50
  fs.crash();
  auto storage = open_storage(fs);
  CHECK(storage->first_index() == 51);
  auto snapshot = storage->open_newest_snapshot();
  REQUIRE(snapshot.ok());  // the snapshot that replaced entries 1..10 is there
}

TEST_CASE(
    "durable storage: a snapshot committed again after a failed directory sync is "
    "durable before the log is compacted on it") {
  Fs fs;
  auto storage = open_storage(fs);
  Ready rd;
  for (Index i = 1; i <= 10; ++i) rd.entries.push_back(entry(i, 1));
  REQUIRE(storage->persist(rd).ok());
  pb::Configuration conf = three_voters();
  {
    auto w = storage->begin_snapshot(8, 1, conf);
    REQUIRE(w.ok());
    REQUIRE((*w)->write("state").ok());
    fs.fail_nth(Fs::Op::kSyncDir, 2);  // the store directory's, after the rename
    REQUIRE_FALSE((*w)->commit().ok());
  }
  {
    auto w = storage->begin_snapshot(8, 1, conf);  // the runtime retries
    REQUIRE(w.ok());
    REQUIRE((*w)->write("state").ok());
    REQUIRE((*w)->commit().ok());  // the first copy is kept
  }
  REQUIRE(storage->compact(8, 0).ok());
  storage.reset();
  fs.crash();
  auto again = open_storage(fs);
  CHECK(again->first_index() == 9);
  CHECK(again->open_newest_snapshot().ok());  // entries 1..8 live on in the snapshot
}

}  // namespace
}  // namespace raft
