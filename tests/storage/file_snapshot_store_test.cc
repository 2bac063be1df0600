// Tests of FileSnapshotStore: streaming write and read, listing, retention, checksums,
// crashes at every step of a commit and I/O errors, on the fault-injecting file system and on
// the POSIX one.
#include "storage/file_snapshot_store.h"

#include <catch2/catch.hpp>

#include "storage/fault_injecting_file_system.h"
#include "storage/scoped_temp_dir.h"

namespace raft {
namespace {

using Op = FaultInjectingFileSystem::Op;
using CrashMode = FaultInjectingFileSystem::CrashMode;

const std::string kDir = "/data/snapshots";

pb::Configuration make_configuration(int voters) {
  pb::Configuration configuration;
  for (int i = 1; i <= voters; ++i) {
    pb::Server* server = configuration.add_servers();
    server->set_id("node" + std::to_string(i));
    server->set_address("127.0.0.1:" + std::to_string(7000 + i));
  }
  return configuration;
}

// The data of the test snapshot at `index`: distinct per index, a few chunks long.
std::string data_for(Index index) {
  std::string data;
  for (int i = 0; i < 3000; ++i) data += static_cast<char>((index * 31 + i * 7) % 251);
  return data;
}

std::unique_ptr<FileSnapshotStore> open_store(FileSystem& fs, std::size_t retain = 2,
                                              const std::string& dir = kDir) {
  auto store = FileSnapshotStore::open(fs, dir, FileSnapshotStoreOptions{retain});
  INFO(store.status().to_string());
  REQUIRE(store.ok());
  return std::move(*store);
}

// Writes the snapshot of `index` (term index / 10 + 1) in chunks of 1000 bytes.
Result<SnapshotMeta> write_snapshot(SnapshotStore& store, Index index) {
  auto writer = store.create(index, index / 10 + 1, make_configuration(3));
  if (!writer.ok()) return writer.status();
  const std::string data = data_for(index);
  for (std::size_t at = 0; at < data.size(); at += 1000) {
    if (Status s = (*writer)->write(std::string_view(data).substr(at, 1000)); !s.ok()) return s;
  }
  return (*writer)->commit();
}

Result<std::string> read_all(SnapshotReader& reader, std::size_t chunk = 700) {
  std::string all;
  std::string out;
  while (true) {
    if (Status s = reader.read(all.size(), chunk, &out); !s.ok()) return s;
    if (out.empty()) return all;
    all += out;
  }
}

std::vector<Index> listed_indexes(SnapshotStore& store) {
  auto metas = store.list();
  INFO(metas.status().to_string());
  REQUIRE(metas.ok());
  std::vector<Index> indexes;
  for (const auto& meta : *metas) indexes.push_back(meta.index);
  return indexes;
}

std::vector<std::string> dir_entries(FileSystem& fs, const std::string& dir = kDir) {
  auto names = fs.list(dir);
  REQUIRE(names.ok());
  return *names;
}

TEST_CASE("snapshot store: a committed snapshot is listed and reads back as written") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto committed = write_snapshot(*store, 42);
  INFO(committed.status().to_string());
  REQUIRE(committed.ok());
  CHECK(committed->id == FileSnapshotStore::snapshot_id(5, 42));
  CHECK(committed->size == data_for(42).size());

  auto metas = store->list();
  REQUIRE(metas.ok());
  REQUIRE(metas->size() == 1);
  const SnapshotMeta& meta = (*metas)[0];
  CHECK(meta.id == committed->id);
  CHECK(meta.index == 42);
  CHECK(meta.term == 5);
  CHECK(meta.size == data_for(42).size());
  CHECK(meta.configuration.SerializeAsString() == make_configuration(3).SerializeAsString());

  auto reader = store->open(meta.id);
  REQUIRE(reader.ok());
  CHECK((*reader)->meta().index == 42);
  auto data = read_all(**reader);
  REQUIRE(data.ok());
  CHECK(*data == data_for(42));
}

TEST_CASE("snapshot store: snapshot ids are zero-padded so that they sort like the numbers") {
  CHECK(FileSnapshotStore::snapshot_id(3, 120) == "snap-00000000000000000003-00000000000000000120");
  CHECK(FileSnapshotStore::snapshot_id(2, 9) < FileSnapshotStore::snapshot_id(2, 10));
}

TEST_CASE("snapshot store: an empty snapshot commits and reads back empty") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto writer = store->create(1, 1, make_configuration(1));
  REQUIRE(writer.ok());
  auto meta = (*writer)->commit();
  REQUIRE(meta.ok());
  auto reader = store->open(meta->id);
  REQUIRE(reader.ok());
  auto data = read_all(**reader);
  REQUIRE(data.ok());
  CHECK(data->empty());
}

TEST_CASE("snapshot store: list returns snapshots newest first") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs, 5);
  for (Index index : {20, 10, 30}) REQUIRE(write_snapshot(*store, index).ok());
  CHECK(listed_indexes(*store) == std::vector<Index>{30, 20, 10});
}

TEST_CASE("snapshot store: retention keeps the newest N snapshots") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs, 2);
  for (Index index : {10, 20, 30, 40}) REQUIRE(write_snapshot(*store, index).ok());
  CHECK(listed_indexes(*store) == std::vector<Index>{40, 30});
  CHECK(dir_entries(fs).size() == 3);  // LOCK and two snapshots
}

TEST_CASE("snapshot store: a lower retention at reopen removes the surplus") {
  FaultInjectingFileSystem fs;
  {
    auto store = open_store(fs, 3);
    for (Index index : {10, 20, 30}) REQUIRE(write_snapshot(*store, index).ok());
  }
  auto store = open_store(fs, 1);
  CHECK(listed_indexes(*store) == std::vector<Index>{30});
}

TEST_CASE("snapshot store: nothing is visible before commit") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto writer = store->create(10, 1, make_configuration(3));
  REQUIRE(writer.ok());
  REQUIRE((*writer)->write("partial").ok());
  CHECK(listed_indexes(*store).empty());
  CHECK(store->open(FileSnapshotStore::snapshot_id(1, 10)).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("snapshot store: abort leaves nothing behind") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto writer = store->create(10, 1, make_configuration(3));
  REQUIRE(writer.ok());
  REQUIRE((*writer)->write("partial").ok());
  REQUIRE((*writer)->abort().ok());
  CHECK(dir_entries(fs) == std::vector<std::string>{"LOCK"});
  CHECK((*writer)->write("more").code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE((*writer)->commit().ok());
}

TEST_CASE("snapshot store: dropping an uncommitted writer leaves nothing behind") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  {
    auto writer = store->create(10, 1, make_configuration(3));
    REQUIRE(writer.ok());
    REQUIRE((*writer)->write("partial").ok());
  }
  CHECK(dir_entries(fs) == std::vector<std::string>{"LOCK"});
}

TEST_CASE("snapshot store: reading to the end reports corrupted data with the file name") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto meta = write_snapshot(*store, 10);
  REQUIRE(meta.ok());
  const std::string data_path = kDir + "/" + meta->id + "/data";
  std::string data = *fs.contents(data_path);
  data[1234] = static_cast<char>(data[1234] ^ 0x10);
  REQUIRE(fs.set_contents(data_path, data).ok());
  auto reader = store->open(meta->id);
  REQUIRE(reader.ok());
  auto read = read_all(**reader);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == ErrorCode::kCorruption);
  CHECK(read.status().message().find(data_path) != std::string::npos);
}

TEST_CASE("snapshot store: a read that jumps to the end still verifies the checksum") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto meta = write_snapshot(*store, 10);
  REQUIRE(meta.ok());
  {
    auto reader = store->open(meta->id);
    REQUIRE(reader.ok());
    std::string out;
    CHECK((*reader)->read(meta->size - 10, 100, &out).ok());
    CHECK(out == data_for(10).substr(meta->size - 10));
  }
  const std::string data_path = kDir + "/" + meta->id + "/data";
  std::string data = *fs.contents(data_path);
  data[5] = static_cast<char>(data[5] ^ 0x01);
  REQUIRE(fs.set_contents(data_path, data).ok());
  auto reader = store->open(meta->id);
  REQUIRE(reader.ok());
  std::string out;
  CHECK((*reader)->read(meta->size - 10, 100, &out).code() == ErrorCode::kCorruption);
}

TEST_CASE("snapshot store: a data file of the wrong size is reported at open") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto meta = write_snapshot(*store, 10);
  REQUIRE(meta.ok());
  const std::string data_path = kDir + "/" + meta->id + "/data";
  REQUIRE(fs.set_contents(data_path, data_for(10).substr(0, 100)).ok());
  auto reader = store->open(meta->id);
  CHECK(reader.status().code() == ErrorCode::kCorruption);
  CHECK(reader.status().message().find(data_path) != std::string::npos);
}

TEST_CASE("snapshot store: corrupt metadata is reported with the file name") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto meta = write_snapshot(*store, 10);
  REQUIRE(meta.ok());
  const std::string meta_path = kDir + "/" + meta->id + "/meta";
  std::string image = *fs.contents(meta_path);
  image[17] = static_cast<char>(image[17] ^ 0x01);
  REQUIRE(fs.set_contents(meta_path, image).ok());
  auto metas = store->list();
  CHECK(metas.status().code() == ErrorCode::kCorruption);
  CHECK(metas.status().message().find(meta_path) != std::string::npos);
  CHECK(store->open(meta->id).status().code() == ErrorCode::kCorruption);
}

TEST_CASE("snapshot store: opening an unknown id is not found") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  CHECK(store->open(FileSnapshotStore::snapshot_id(1, 1)).status().code() == ErrorCode::kNotFound);
  CHECK(store->open("../etc").status().code() == ErrorCode::kNotFound);
}

TEST_CASE("snapshot store: committing the same term and index twice keeps the first copy") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  REQUIRE(write_snapshot(*store, 10).ok());
  auto writer = store->create(10, 2, make_configuration(1));
  REQUIRE(writer.ok());
  REQUIRE((*writer)->write("different").ok());
  auto again = (*writer)->commit();
  REQUIRE(again.ok());
  CHECK(again->size == data_for(10).size());
  CHECK(listed_indexes(*store) == std::vector<Index>{10});
  CHECK(dir_entries(fs).size() == 2);  // LOCK and the snapshot: no temp dir left
}

TEST_CASE("snapshot store: leftover temporary directories are removed at open") {
  FaultInjectingFileSystem fs;
  {
    auto store = open_store(fs);
    REQUIRE(write_snapshot(*store, 10).ok());
    auto writer = store->create(20, 3, make_configuration(3));
    REQUIRE(writer.ok());
    REQUIRE((*writer)->write("half a snapshot").ok());
    fs.schedule_crash(1);  // the process dies: the writer cannot clean up
  }
  fs.clear_faults();
  fs.restart();
  auto has_tmp = [&fs] {
    for (const auto& name : dir_entries(fs)) {
      if (name.rfind("tmp-", 0) == 0) return true;
    }
    return false;
  };
  REQUIRE(has_tmp());
  auto store = open_store(fs);
  CHECK_FALSE(has_tmp());
  CHECK(listed_indexes(*store) == std::vector<Index>{10});
}

// Commits snapshot 30 over {10, 20} (retain 2) with a power loss at call k of the create,
// writes and commit, for every k, and checks that the reopened store holds the old set
// {20, 10} or the new one {30, 20} — the new one if commit returned ok — each snapshot
// readable to its end with its checksum verified, and no temp directory left.
void check_crash_at_every_step_of_commit(CrashMode mode) {
  std::uint64_t steps = 0;
  {
    FaultInjectingFileSystem fs;
    auto store = open_store(fs);
    REQUIRE(write_snapshot(*store, 10).ok());
    REQUIRE(write_snapshot(*store, 20).ok());
    fs.reset_counts();
    REQUIRE(write_snapshot(*store, 30).ok());
    steps = fs.calls();
  }
  for (std::uint64_t k = 1; k <= steps + 1; ++k) {
    INFO("crash at call " << k << " of " << steps);
    FaultInjectingFileSystem fs(k);
    fs.set_crash_mode(mode);
    bool committed = false;
    {
      auto store = open_store(fs);
      REQUIRE(write_snapshot(*store, 10).ok());
      REQUIRE(write_snapshot(*store, 20).ok());
      fs.schedule_crash(k);
      committed = write_snapshot(*store, 30).ok();
    }
    if (!fs.is_down()) fs.crash();
    fs.clear_faults();
    fs.restart();
    auto store = open_store(fs);
    const std::vector<Index> indexes = listed_indexes(*store);
    const std::vector<Index> old_set{20, 10};
    const std::vector<Index> new_set{30, 20};
    CHECK((indexes == old_set || indexes == new_set));
    if (committed) CHECK(indexes == new_set);
    for (Index index : indexes) {
      auto reader = store->open(FileSnapshotStore::snapshot_id(index / 10 + 1, index));
      INFO(reader.status().to_string());
      REQUIRE(reader.ok());
      auto data = read_all(**reader);
      INFO(data.status().to_string());
      REQUIRE(data.ok());
      CHECK(*data == data_for(index));
    }
    for (const auto& name : dir_entries(fs)) CHECK(name.rfind("tmp-", 0) == std::string::npos);
  }
}

TEST_CASE("snapshot store: a crash at every step of a commit leaves the old or the new set") {
  check_crash_at_every_step_of_commit(CrashMode::kDropUnsynced);
}

TEST_CASE("snapshot store: a crash with torn writes at every step of a commit leaves a whole set") {
  check_crash_at_every_step_of_commit(CrashMode::kTearTail);
}

TEST_CASE("snapshot store: a crash with zero tails at every step of a commit leaves a whole set") {
  check_crash_at_every_step_of_commit(CrashMode::kZeroTail);
}

TEST_CASE("snapshot store: I/O errors while writing or committing surface as Status errors") {
  for (Op op : {Op::kCreateDirs, Op::kCreateWritable, Op::kAppend, Op::kSync, Op::kClose,
                Op::kSyncDir, Op::kRename}) {
    INFO("failing " << to_string(op));
    FaultInjectingFileSystem fs;
    auto store = open_store(fs);
    REQUIRE(write_snapshot(*store, 10).ok());
    fs.fail_nth(op, 1);
    auto result = write_snapshot(*store, 20);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == ErrorCode::kIoError);
    // The failed snapshot left no temp directory and the store still works.
    for (const auto& name : dir_entries(fs)) CHECK(name.rfind("tmp-", 0) == std::string::npos);
    auto indexes = listed_indexes(*store);
    CHECK(indexes.back() == 10);
    REQUIRE(write_snapshot(*store, 30).ok());
    CHECK(listed_indexes(*store).front() == 30);
  }
}

TEST_CASE("snapshot store: a full disk while writing a snapshot is an I/O error") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  fs.set_space_limit(1500);
  auto result = write_snapshot(*store, 10);
  CHECK(result.status().code() == ErrorCode::kIoError);
  CHECK(result.status().message().find("no space") != std::string::npos);
}

TEST_CASE("snapshot store: an I/O error while reading surfaces as a Status error") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  auto meta = write_snapshot(*store, 10);
  REQUIRE(meta.ok());
  auto reader = store->open(meta->id);
  REQUIRE(reader.ok());
  fs.fail_nth(Op::kRead, 1);
  std::string out;
  CHECK((*reader)->read(0, 100, &out).code() == ErrorCode::kIoError);
  fs.fail_nth(Op::kList, 1);
  CHECK(store->list().status().code() == ErrorCode::kIoError);
}

TEST_CASE("snapshot store: a second open of the same directory fails with a clear error") {
  FaultInjectingFileSystem fs;
  auto first = open_store(fs);
  auto second = FileSnapshotStore::open(fs, kDir);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kIoError);
  CHECK(second.status().message().find(kDir) != std::string::npos);
  CHECK(second.status().message().find("already open") != std::string::npos);
  first.reset();
  CHECK(FileSnapshotStore::open(fs, kDir).ok());
}

TEST_CASE("snapshot store: snapshots round trip on the POSIX file system") {
  testing::ScopedTempDir tmp;
  REQUIRE_FALSE(tmp.path().empty());
  const std::string dir = tmp.path() + "/snapshots";
  {
    auto store = open_store(posix_file_system(), 2, dir);
    for (Index index : {10, 20, 30}) REQUIRE(write_snapshot(*store, index).ok());
    auto writer = store->create(40, 5, make_configuration(3));  // left as a temp directory
    REQUIRE(writer.ok());
    REQUIRE((*writer)->write("unfinished").ok());
    CHECK(FileSnapshotStore::open(posix_file_system(), dir).status().code() == ErrorCode::kIoError);
    std::string tmp_dir;
    for (const auto& name : dir_entries(posix_file_system(), dir)) {
      if (name.rfind("tmp-", 0) == 0) tmp_dir = name;
    }
    CHECK_FALSE(tmp_dir.empty());
    REQUIRE((*writer)->abort().ok());
  }
  auto store = open_store(posix_file_system(), 2, dir);
  CHECK(listed_indexes(*store) == std::vector<Index>{30, 20});
  auto reader = store->open(FileSnapshotStore::snapshot_id(4, 30));
  REQUIRE(reader.ok());
  auto data = read_all(**reader, 4096);
  REQUIRE(data.ok());
  CHECK(*data == data_for(30));
}

}  // namespace
}  // namespace raft
