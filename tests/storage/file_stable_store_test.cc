// Tests of FileStableStore: round trips, atomic replacement under crashes, corruption and
// I/O errors, on the fault-injecting file system and on the POSIX one.
#include "storage/file_stable_store.h"

#include <catch2/catch.hpp>

#include "storage/fault_injecting_file_system.h"
#include "storage/scoped_temp_dir.h"

namespace raft {
namespace {

using Op = FaultInjectingFileSystem::Op;
using CrashMode = FaultInjectingFileSystem::CrashMode;

const std::string kDir = "/data/raft";

StableState make_state(Term term, const std::string& vote, const std::string& cluster) {
  StableState state;
  state.term = term;
  state.vote = vote;
  state.facts["cluster_id"] = cluster;
  state.facts["empty"] = "";
  return state;
}

std::unique_ptr<FileStableStore> open_store(FileSystem& fs, const std::string& dir = kDir) {
  auto store = FileStableStore::open(fs, dir);
  INFO(store.status().to_string());
  REQUIRE(store.ok());
  return std::move(*store);
}

StableState load(StableStore& store) {
  auto state = store.load();
  REQUIRE(state.ok());
  return *state;
}

TEST_CASE("stable store: a fresh store loads an empty record") {
  FaultInjectingFileSystem fs;
  auto store = open_store(fs);
  CHECK(load(*store) == StableState());
}

TEST_CASE("stable store: term, vote and facts saved load back after a reopen") {
  FaultInjectingFileSystem fs;
  const StableState state = make_state(7, "node2", "cluster-a");
  {
    auto store = open_store(fs);
    REQUIRE(store->save(state).ok());
    CHECK(load(*store) == state);
  }
  auto store = open_store(fs);
  CHECK(load(*store) == state);
}

TEST_CASE("stable store: a saved record survives a crash") {
  FaultInjectingFileSystem fs;
  const StableState state = make_state(3, "node1", "c");
  {
    auto store = open_store(fs);
    REQUIRE(store->save(state).ok());
  }
  fs.crash();
  auto store = open_store(fs);
  CHECK(load(*store) == state);
}

TEST_CASE("stable store: the record's encoding round trips and rejects every flipped byte") {
  const StableState state = make_state(99, "n", "id");
  const std::string image = FileStableStore::encode(state);
  StableState decoded;
  std::string error;
  REQUIRE(FileStableStore::decode(image, &decoded, &error));
  CHECK(decoded == state);
  for (std::size_t i = 0; i < image.size(); ++i) {
    std::string bad = image;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    CHECK_FALSE(FileStableStore::decode(bad, &decoded, &error));
  }
}

// Runs the save of `next` over `old` with a power loss at call k of the save, for every k,
// and checks that the reopened store holds `old` or `next` — `next` if save returned ok.
void check_crash_at_every_step(CrashMode mode) {
  const StableState old_state = make_state(4, "node1", "cluster");
  const StableState new_state = make_state(5, "node3", "cluster-renamed-to-something-longer");
  std::uint64_t steps = 0;
  {
    FaultInjectingFileSystem fs;
    auto store = open_store(fs);
    REQUIRE(store->save(old_state).ok());
    fs.reset_counts();
    REQUIRE(store->save(new_state).ok());
    steps = fs.calls();
  }
  REQUIRE(steps >= 6);  // create, append, sync, close, rename, sync_dir
  for (std::uint64_t k = 1; k <= steps + 1; ++k) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      INFO("crash at call " << k << " of " << steps << ", seed " << seed);
      FaultInjectingFileSystem fs(seed);
      fs.set_crash_mode(mode);
      Status saved;
      {
        auto store = open_store(fs);
        REQUIRE(store->save(old_state).ok());
        fs.schedule_crash(k);
        saved = store->save(new_state);
      }
      if (!fs.is_down()) fs.crash();  // k past the end: the crash comes after the save
      fs.clear_faults();
      fs.restart();
      auto reopened = FileStableStore::open(fs, kDir);
      INFO(reopened.status().to_string());
      REQUIRE(reopened.ok());
      const StableState after = load(**reopened);
      CHECK((after == old_state || after == new_state));
      if (saved.ok()) CHECK(after == new_state);
    }
  }
}

TEST_CASE("stable store: a crash at every step of a save leaves the old or the new record") {
  check_crash_at_every_step(CrashMode::kDropUnsynced);
}

TEST_CASE("stable store: a crash with torn writes at every step of a save never damages it") {
  check_crash_at_every_step(CrashMode::kTearTail);
}

TEST_CASE("stable store: a crash with zero-filled tails at every step of a save never damages it") {
  check_crash_at_every_step(CrashMode::kZeroTail);
}

TEST_CASE("stable store: a leftover temp file is ignored and removed at open") {
  FaultInjectingFileSystem fs;
  const StableState state = make_state(2, "a", "b");
  {
    auto store = open_store(fs);
    REQUIRE(store->save(state).ok());
  }
  auto tmp = fs.create_writable(kDir + "/stable.tmp");
  REQUIRE(tmp.ok());
  REQUIRE((*tmp)->append("RAFTSTBL\x01\x00torn").ok());
  auto store = open_store(fs);
  CHECK(load(*store) == state);
  CHECK_FALSE(*fs.exists(kDir + "/stable.tmp"));
}

TEST_CASE("stable store: a corrupt record is reported as corruption naming the file") {
  FaultInjectingFileSystem fs;
  {
    auto store = open_store(fs);
    REQUIRE(store->save(make_state(1, "x", "y")).ok());
  }
  std::string image = *fs.contents(kDir + "/stable");
  image[20] = static_cast<char>(image[20] ^ 0x40);
  REQUIRE(fs.set_contents(kDir + "/stable", image).ok());
  auto store = FileStableStore::open(fs, kDir);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == ErrorCode::kCorruption);
  CHECK(store.status().message().find(kDir + "/stable") != std::string::npos);
  CHECK(store.status().message().find("checksum") != std::string::npos);
}

TEST_CASE("stable store: a truncated record is reported as corruption") {
  FaultInjectingFileSystem fs;
  {
    auto store = open_store(fs);
    REQUIRE(store->save(make_state(1, "x", "y")).ok());
  }
  const std::string image = *fs.contents(kDir + "/stable");
  REQUIRE(fs.set_contents(kDir + "/stable", image.substr(0, image.size() - 3)).ok());
  auto store = FileStableStore::open(fs, kDir);
  CHECK(store.status().code() == ErrorCode::kCorruption);
}

TEST_CASE("stable store: an I/O error during save is returned and the old record stays") {
  for (Op op : {Op::kCreateWritable, Op::kAppend, Op::kSync, Op::kRename, Op::kSyncDir}) {
    INFO("failing " << to_string(op));
    FaultInjectingFileSystem fs;
    const StableState old_state = make_state(1, "a", "c");
    auto store = open_store(fs);
    REQUIRE(store->save(old_state).ok());
    fs.fail_nth(op, 1);
    Status saved = store->save(make_state(2, "b", "c"));
    CHECK(saved.code() == ErrorCode::kIoError);
    CHECK(load(*store) == old_state);
    REQUIRE(store->save(make_state(3, "b", "c")).ok());  // the next save works again
  }
}

TEST_CASE("stable store: a second open of the same directory fails while the first is open") {
  FaultInjectingFileSystem fs;
  auto first = open_store(fs);
  auto second = FileStableStore::open(fs, kDir);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kIoError);
  CHECK(second.status().message().find("already open") != std::string::npos);
  first.reset();
  CHECK(FileStableStore::open(fs, kDir).ok());
}

TEST_CASE("stable store: a record round trips on the POSIX file system") {
  testing::ScopedTempDir tmp;
  REQUIRE_FALSE(tmp.path().empty());
  const std::string dir = tmp.path() + "/stable";
  const StableState state = make_state(11, "node9", "posix");
  {
    auto store = open_store(posix_file_system(), dir);
    REQUIRE(store->save(make_state(10, "node1", "posix")).ok());
    REQUIRE(store->save(state).ok());
    auto second = FileStableStore::open(posix_file_system(), dir);
    CHECK(second.status().code() == ErrorCode::kIoError);
  }
  auto store = open_store(posix_file_system(), dir);
  CHECK(load(*store) == state);
}

TEST_CASE("stable store: a record read at open is durable even if its save failed") {
  FaultInjectingFileSystem fs;
  {
    auto store = open_store(fs);
    REQUIRE(store->save(make_state(4, "n1", "c")).ok());
    fs.fail_nth(Op::kSyncDir, 1);
    REQUIRE_FALSE(store->save(make_state(5, "n2", "c")).ok());
  }
  StableState read;
  {
    auto store = open_store(fs);
    read = load(*store);  // term 5 reached the page cache: the node acts on it
    REQUIRE(read.term == 5);
  }
  fs.crash();
  auto store = open_store(fs);
  const StableState after = load(*store);
  CHECK(after.term == read.term);  // not back to term 4, free to vote again in term 5
  CHECK(after.vote == read.vote);
}

}  // namespace
}  // namespace raft
