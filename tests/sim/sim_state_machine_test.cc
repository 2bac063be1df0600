// SimStateMachine as a raft::StateMachine: snapshot() captures a point-in-time view that
// write_to() streams later while apply() goes on, and restore() reads a snapshot back; the
// adapters between those streams and a snapshot store's writers and readers.
#include "sim/sim_state_machine.h"

#include <catch2/catch.hpp>
#include <string>

#include "raft/durable_storage.h"
#include "common/snapshot_adapters.h"
#include "storage/fault_injecting_file_system.h"

namespace raft::sim {
namespace {

pb::Entry entry(Index index, std::string data) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_type(pb::ENTRY_NORMAL);
  e.set_data(std::move(data));
  return e;
}

pb::SnapshotMetadata metadata(Index index, std::uint64_t size) {
  pb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(1);
  m.set_size(size);
  return m;
}

TEST_CASE("entries applied between snapshot and write_to are not in the written snapshot",
          "[sim][state_machine]") {
  SimStateMachine sm;
  for (Index i = 1; i <= 5; ++i) sm.apply(entry(i, "before-" + std::to_string(i)));
  auto view = sm.snapshot();
  REQUIRE(view.ok());
  // The state machine keeps applying while the snapshot waits to be written.
  for (Index i = 6; i <= 8; ++i) sm.apply(entry(i, "after-" + std::to_string(i)));
  StringSnapshotSink sink;
  REQUIRE((*view)->write_to(sink).ok());

  SimStateMachine restored;
  StringSnapshotSource source(sink.data());
  REQUIRE(restored.restore(metadata(5, sink.data().size()), source).ok());
  CHECK(restored.last_applied() == 5);
  CHECK(restored.applied_at(5)->data() == "before-5");
  CHECK(restored.applied_at(6) == nullptr);
  // Every entry was applied exactly once, in order, by the original.
  REQUIRE(sm.last_applied() == 8);
  for (Index i = 1; i <= 8; ++i) CHECK(sm.applied_log()[i - 1].index() == i);
  CHECK(sm.applied_at(8)->data() == "after-8");
}

TEST_CASE("write_to streams a large state in many chunks that together are the encoding",
          "[sim][state_machine]") {
  SimStateMachine sm;
  for (Index i = 1; i <= 100; ++i) sm.apply(entry(i, std::string(200, 'x')));
  auto view = sm.snapshot();
  REQUIRE(view.ok());
  StringSnapshotSink sink;
  REQUIRE((*view)->write_to(sink).ok());
  CHECK(sink.chunks() > 3);
  CHECK(sink.data() == SimStateMachine::encode_entries(sm.applied_log()));
}

TEST_CASE("restore refuses a snapshot whose entry count differs from its index",
          "[sim][state_machine]") {
  SimStateMachine sm;
  for (Index i = 1; i <= 3; ++i) sm.apply(entry(i, "v"));
  const std::string data = SimStateMachine::encode_entries(sm.applied_log());
  SimStateMachine other;
  StringSnapshotSource source(data);
  CHECK(other.restore(metadata(4, data.size()), source).code() == ErrorCode::kCorruption);
}

TEST_CASE(
    "a snapshot written through a SnapshotWriterSink restores through a "
    "SnapshotReaderSource",
    "[sim][state_machine]") {
  FaultInjectingFileSystem fs(5);
  auto storage = DurableStorage::open(fs, "/d");
  REQUIRE(storage.ok());
  SimStateMachine sm;
  for (Index i = 1; i <= 40; ++i) sm.apply(entry(i, std::string(300, 'a' + i % 26)));
  auto view = sm.snapshot();
  REQUIRE(view.ok());
  auto writer = (*storage)->begin_snapshot(40, 1, pb::Configuration());
  REQUIRE(writer.ok());
  SnapshotWriterSink sink(**writer);
  REQUIRE((*view)->write_to(sink).ok());
  REQUIRE((*writer)->commit().ok());

  auto reader = (*storage)->open_newest_snapshot();
  REQUIRE(reader.ok());
  CHECK((*reader)->meta().size == sink.bytes());
  SnapshotReaderSource source(**reader);
  SimStateMachine restored;
  REQUIRE(restored.restore(metadata(40, sink.bytes()), source).ok());
  CHECK(SimStateMachine::encode_entries(restored.applied_log()) ==
        SimStateMachine::encode_entries(sm.applied_log()));
}

}  // namespace
}  // namespace raft::sim
