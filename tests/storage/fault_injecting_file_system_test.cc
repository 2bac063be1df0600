// Tests of FaultInjectingFileSystem: the in-memory file system that crash tests rely on.
#include "storage/fault_injecting_file_system.h"

#include <catch2/catch.hpp>
#include <set>

namespace raft {
namespace {

using Op = FaultInjectingFileSystem::Op;
using CrashMode = FaultInjectingFileSystem::CrashMode;

void write_file(FileSystem& fs, const std::string& path, const std::string& data, bool sync) {
  auto file = fs.create_writable(path);
  REQUIRE(file.ok());
  REQUIRE((*file)->append(data).ok());
  if (sync) REQUIRE((*file)->sync().ok());
  REQUIRE((*file)->close().ok());
}

std::string contents(const FaultInjectingFileSystem& fs, const std::string& path) {
  auto data = fs.contents(path);
  REQUIRE(data.ok());
  return *data;
}

bool exists(FileSystem& fs, const std::string& path) {
  auto present = fs.exists(path);
  REQUIRE(present.ok());
  return *present;
}

TEST_CASE("fault fs: crash drops what was appended after the last sync") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE((*file)->append("durable").ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE((*file)->append("-lost").ok());
  REQUIRE(contents(fs, "/d/f") == "durable-lost");
  fs.crash();
  CHECK(contents(fs, "/d/f") == "durable");
}

TEST_CASE("fault fs: a file created in a directory never synced disappears at crash") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  write_file(fs, "/d/f", "synced data", true);
  REQUIRE(exists(fs, "/d/f"));
  fs.crash();
  CHECK_FALSE(exists(fs, "/d/f"));
  CHECK(exists(fs, "/d"));  // create_dirs is durable at once
}

TEST_CASE("fault fs: a rename not followed by sync_dir is undone by a crash") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  write_file(fs, "/d/old", "old", true);
  write_file(fs, "/d/tmp", "new", true);
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE(fs.rename("/d/tmp", "/d/old").ok());
  REQUIRE(contents(fs, "/d/old") == "new");
  fs.crash();
  CHECK(contents(fs, "/d/old") == "old");
  CHECK(contents(fs, "/d/tmp") == "new");
}

TEST_CASE("fault fs: a rename followed by sync_dir survives a crash") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  write_file(fs, "/d/old", "old", true);
  write_file(fs, "/d/tmp", "new", true);
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE(fs.rename("/d/tmp", "/d/old").ok());
  REQUIRE(fs.sync_dir("/d").ok());
  fs.crash();
  CHECK(contents(fs, "/d/old") == "new");
  CHECK_FALSE(exists(fs, "/d/tmp"));
}

TEST_CASE("fault fs: a removal not followed by sync_dir is undone by a crash") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  write_file(fs, "/d/f", "data", true);
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE(fs.remove("/d/f").ok());
  CHECK_FALSE(exists(fs, "/d/f"));
  fs.crash();
  CHECK(contents(fs, "/d/f") == "data");
}

TEST_CASE("fault fs: a renamed directory keeps its synced files after sync_dir of the parent") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d/tmp").ok());
  write_file(fs, "/d/tmp/f", "data", true);
  REQUIRE(fs.sync_dir("/d/tmp").ok());
  REQUIRE(fs.rename("/d/tmp", "/d/final").ok());
  REQUIRE(fs.sync_dir("/d").ok());
  fs.crash();
  CHECK(contents(fs, "/d/final/f") == "data");
  CHECK_FALSE(exists(fs, "/d/tmp"));
}

TEST_CASE("fault fs: a torn tail keeps a random prefix of the unsynced bytes") {
  std::set<std::size_t> lengths;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    FaultInjectingFileSystem fs(seed);
    fs.set_crash_mode(CrashMode::kTearTail);
    REQUIRE(fs.create_dirs("/d").ok());
    auto file = fs.create_writable("/d/f");
    REQUIRE(file.ok());
    REQUIRE(fs.sync_dir("/d").ok());
    REQUIRE((*file)->append("synced|").ok());
    REQUIRE((*file)->sync().ok());
    const std::string tail = "0123456789abcdefghijklmnopqrstuvwxyz";
    REQUIRE((*file)->append(tail).ok());
    fs.crash();
    const std::string after = contents(fs, "/d/f");
    REQUIRE(after.size() >= 7);
    REQUIRE(after.size() <= 7 + tail.size());
    CHECK(after == ("synced|" + tail).substr(0, after.size()));
    lengths.insert(after.size());
  }
  CHECK(lengths.size() > 1);  // the tear point depends on the seed
}

TEST_CASE("fault fs: the same seed tears at the same byte") {
  auto torn_length = [](std::uint64_t seed) {
    FaultInjectingFileSystem fs(seed);
    fs.set_crash_mode(CrashMode::kTearTail);
    REQUIRE(fs.create_dirs("/d").ok());
    auto file = fs.create_writable("/d/f");
    REQUIRE(file.ok());
    REQUIRE(fs.sync_dir("/d").ok());
    REQUIRE((*file)->append(std::string(1000, 'x')).ok());
    fs.crash();
    return contents(fs, "/d/f").size();
  };
  CHECK(torn_length(42) == torn_length(42));
}

TEST_CASE("fault fs: a zero-filled tail keeps the size and loses the unsynced data") {
  FaultInjectingFileSystem fs;
  fs.set_crash_mode(CrashMode::kZeroTail);
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE((*file)->append("abc").ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE((*file)->append("defg").ok());
  fs.crash();
  CHECK(contents(fs, "/d/f") == std::string("abc\0\0\0\0", 7));
}

// A synced file of `size` zeros, open for writing, in a synced directory.
std::unique_ptr<WritableFile> synced_zeros(FaultInjectingFileSystem& fs, std::size_t size) {
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE((*file)->truncate(size).ok());
  REQUIRE((*file)->sync().ok());
  return std::move(*file);
}

TEST_CASE("fault fs: write_at overwrites in place, extends past the end, and counts as append") {
  FaultInjectingFileSystem fs;
  auto file = synced_zeros(fs, 8);
  fs.reset_counts();
  REQUIRE(file->write_at(2, "ab").ok());
  CHECK(contents(fs, "/d/f") == std::string("\0\0ab\0\0\0\0", 8));
  CHECK(file->size() == 8);
  REQUIRE(file->write_at(7, "xyz").ok());
  CHECK(contents(fs, "/d/f") == std::string("\0\0ab\0\0\0xyz", 10));
  CHECK(file->size() == 10);
  REQUIRE(file->write_at(12, "!").ok());  // past the end: the gap reads as zeros
  CHECK(contents(fs, "/d/f") == std::string("\0\0ab\0\0\0xyz\0\0!", 13));
  REQUIRE(file->append("?").ok());  // appends follow the new end
  CHECK(contents(fs, "/d/f").back() == '?');
  CHECK(fs.count(Op::kAppend) == 4);
  // Only growth takes space.
  fs.set_space_limit(2);
  CHECK(file->write_at(0, "overwrite").ok());
  CHECK(file->write_at(13, "++").ok());
  CHECK(file->write_at(15, "++").code() == ErrorCode::kIoError);
  CHECK(file->size() == 15);
}

TEST_CASE("fault fs: a crash drops an unsynced overwrite in place") {
  FaultInjectingFileSystem fs;
  auto file = synced_zeros(fs, 16);
  REQUIRE(file->write_at(4, "abcd").ok());
  REQUIRE(file->sync().ok());
  REQUIRE(file->write_at(8, "efgh").ok());
  fs.crash();
  CHECK(contents(fs, "/d/f") == std::string("\0\0\0\0abcd", 8) + std::string(8, '\0'));
}

TEST_CASE("fault fs: a torn overwrite keeps a prefix of the changed range, the rest as synced") {
  std::set<std::size_t> kept;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    FaultInjectingFileSystem fs(seed);
    fs.set_crash_mode(CrashMode::kTearTail);
    auto file = synced_zeros(fs, 32);
    const std::string data = "0123456789";
    REQUIRE(file->write_at(10, data).ok());
    fs.crash();
    const std::string after = contents(fs, "/d/f");
    REQUIRE(after.size() == 32);
    const std::size_t n = after.find_first_of('\0', 10) - 10;
    REQUIRE(n <= data.size());
    CHECK(after.substr(10, n) == data.substr(0, n));
    CHECK(after.find_first_not_of('\0', 10 + n) == std::string::npos);
    CHECK(after.find_first_not_of('\0') == (n == 0 ? std::string::npos : 10));
    kept.insert(n);
  }
  CHECK(kept.size() > 1);
}

TEST_CASE("fault fs: a zero-filled overwrite zeroes the changed range") {
  FaultInjectingFileSystem fs;
  fs.set_crash_mode(CrashMode::kZeroTail);
  auto file = synced_zeros(fs, 0);
  REQUIRE(file->append("synced-old-data").ok());
  REQUIRE(file->sync().ok());
  REQUIRE(file->write_at(7, "NEW").ok());
  fs.crash();
  CHECK(contents(fs, "/d/f") == std::string("synced-\0\0\0-data", 15));
}

TEST_CASE("fault fs: a file truncated since its last sync falls back to its synced content") {
  FaultInjectingFileSystem fs;
  fs.set_crash_mode(CrashMode::kTearTail);
  auto file = synced_zeros(fs, 0);
  REQUIRE(file->append("synced").ok());
  REQUIRE(file->sync().ok());
  REQUIRE(file->truncate(2).ok());
  REQUIRE(file->truncate(10).ok());
  REQUIRE(file->write_at(2, "XYZ").ok());
  fs.crash();
  CHECK(contents(fs, "/d/f") == "synced");
}

TEST_CASE("fault fs: the nth call of a kind fails with an I/O error, once") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  fs.fail_nth(Op::kSync, 3);
  CHECK((*file)->sync().ok());
  CHECK((*file)->sync().ok());
  Status third = (*file)->sync();
  CHECK(third.code() == ErrorCode::kIoError);
  CHECK(third.message().find("/d/f") != std::string::npos);
  CHECK((*file)->sync().ok());
}

TEST_CASE("fault fs: fail_from fails every call of the kind from the nth on") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  fs.fail_from(Op::kSyncDir, 2);
  CHECK(fs.sync_dir("/d").ok());
  CHECK(fs.sync_dir("/d").code() == ErrorCode::kIoError);
  CHECK(fs.sync_dir("/d").code() == ErrorCode::kIoError);
  fs.clear_faults();
  CHECK(fs.sync_dir("/d").ok());
}

TEST_CASE("fault fs: an append past the space limit fails as disk full and writes nothing") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  fs.set_space_limit(10);
  CHECK((*file)->append("123456").ok());
  Status full = (*file)->append("789012");
  CHECK(full.code() == ErrorCode::kIoError);
  CHECK(full.message().find("no space") != std::string::npos);
  CHECK((*file)->append("7890").ok());
  CHECK(contents(fs, "/d/f") == "1234567890");
}

TEST_CASE("fault fs: a second lock of a path fails until the first is released") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto first = fs.lock("/d/LOCK");
  REQUIRE(first.ok());
  auto second = fs.lock("/d/LOCK");
  CHECK(second.status().code() == ErrorCode::kIoError);
  CHECK(second.status().message().find("/d/LOCK") != std::string::npos);
  first->reset();
  CHECK(fs.lock("/d/LOCK").ok());
}

TEST_CASE("fault fs: a crash releases locks and kills files opened before it") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto lock = fs.lock("/d/LOCK");
  REQUIRE(lock.ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  fs.crash();
  CHECK((*file)->append("x").code() == ErrorCode::kIoError);
  auto relock = fs.lock("/d/LOCK");
  CHECK(relock.ok());
  lock->reset();  // the stale holder's release does not drop the new holder's lock
  CHECK_FALSE(fs.lock("/d/LOCK").ok());
}

TEST_CASE("fault fs: calls of each kind are counted") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  fs.reset_counts();
  REQUIRE((*file)->append("abc").ok());
  REQUIRE((*file)->append_all({"de", "f"}).ok());
  REQUIRE((*file)->sync().ok());
  REQUIRE(fs.sync_dir("/d").ok());
  CHECK(fs.count(Op::kAppend) == 2);
  CHECK(fs.count(Op::kSync) == 1);
  CHECK(fs.count(Op::kSyncDir) == 1);
  CHECK(fs.calls() == 4);
  CHECK(fs.bytes_appended() == 6);
}

TEST_CASE("fault fs: a scheduled crash fails that call and every later one until restart") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  auto file = fs.create_writable("/d/f");
  REQUIRE(file.ok());
  REQUIRE(fs.sync_dir("/d").ok());
  REQUIRE((*file)->append("kept").ok());
  REQUIRE((*file)->sync().ok());
  fs.schedule_crash(2);
  CHECK((*file)->append("lost").ok());                   // call 1 runs
  CHECK((*file)->sync().code() == ErrorCode::kIoError);  // call 2: power loss
  CHECK(fs.is_down());
  CHECK(fs.list("/d").status().code() == ErrorCode::kIoError);
  fs.restart();
  CHECK(contents(fs, "/d/f") == "kept");
  CHECK(fs.list("/d").ok());
}

TEST_CASE("fault fs: list names the live entries in order and missing paths are not found") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d/sub").ok());
  write_file(fs, "/d/b", "", false);
  write_file(fs, "/d/a", "", false);
  auto names = fs.list("/d");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"a", "b", "sub"});
  CHECK(fs.list("/nope").status().code() == ErrorCode::kNotFound);
  CHECK(fs.open_readable("/d/nope").status().code() == ErrorCode::kNotFound);
  CHECK(fs.remove("/d/sub").ok());
  CHECK(fs.remove_all("/d").ok());
  CHECK_FALSE(exists(fs, "/d"));
}

TEST_CASE("fault fs: a readable file reads at an offset and stops at the end") {
  FaultInjectingFileSystem fs;
  REQUIRE(fs.create_dirs("/d").ok());
  write_file(fs, "/d/f", "0123456789", false);
  auto file = fs.open_readable("/d/f");
  REQUIRE(file.ok());
  std::string out;
  REQUIRE((*file)->read(3, 4, &out).ok());
  CHECK(out == "3456");
  REQUIRE((*file)->read(8, 10, &out).ok());
  CHECK(out == "89");
  REQUIRE((*file)->read(20, 10, &out).ok());
  CHECK(out.empty());
  CHECK(*(*file)->size() == 10);
}

}  // namespace
}  // namespace raft
