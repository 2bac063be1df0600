#include <catch2/catch.hpp>
#include <string>

#include "log_test_support.h"
#include "raft/file_system.h"

namespace raft {
namespace {

using testing::TempDir;

TEST_CASE("posix file system: append, writev, sync and read back", "[storage][posix]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  const std::string path = tmp.path() + "/f";
  auto w = fs.create_writable(path);
  REQUIRE(w.ok());
  REQUIRE((*w)->append("hello ").ok());
  REQUIRE((*w)->append_all({"wor", "", "ld", "!"}).ok());
  REQUIRE((*w)->preallocate(0, 1 << 20).ok());
  REQUIRE((*w)->sync().ok());
  CHECK((*w)->size() == 12);
  auto r = fs.open_readable(path);
  REQUIRE(r.ok());
  CHECK(*(*r)->size() == 12);  // preallocation keeps the size
  std::string out;
  REQUIRE((*r)->read(6, 100, &out).ok());
  CHECK(out == "world!");
  REQUIRE((*w)->truncate(5).ok());
  REQUIRE((*w)->append("!").ok());
  REQUIRE((*r)->read(0, 100, &out).ok());
  CHECK(out == "hello!");
  REQUIRE((*w)->close().ok());
  auto reopened = fs.open_writable(path);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->size() == 6);
}

TEST_CASE("posix file system: write_at overwrites in place and extends past the end",
          "[storage][posix]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  const std::string path = tmp.path() + "/f";
  auto w = fs.create_writable(path);
  REQUIRE(w.ok());
  REQUIRE((*w)->append("0123456789").ok());
  REQUIRE((*w)->write_at(2, "ab").ok());
  CHECK((*w)->size() == 10);
  REQUIRE((*w)->write_at(8, "xyz").ok());
  CHECK((*w)->size() == 11);
  REQUIRE((*w)->append("!").ok());  // appends follow the end, not the last write
  REQUIRE((*w)->write_at(14, "?").ok());
  CHECK((*w)->size() == 15);
  REQUIRE((*w)->sync().ok());
  auto r = fs.open_readable(path);
  REQUIRE(r.ok());
  std::string out;
  REQUIRE((*r)->read(0, 100, &out).ok());
  CHECK(out == std::string("01ab4567xyz!\0\0?", 15));
  // A reopened file appends at its end; write_at still writes where it is told.
  REQUIRE((*w)->close().ok());
  auto again = fs.open_writable(path);
  REQUIRE(again.ok());
  REQUIRE((*again)->append("#").ok());
  REQUIRE((*again)->write_at(0, "Z").ok());
  REQUIRE((*r)->read(0, 100, &out).ok());
  CHECK(out == std::string("Z1ab4567xyz!\0\0?#", 16));
}

TEST_CASE("posix file system: directories, rename, list, remove", "[storage][posix]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  const std::string dir = tmp.path() + "/a/b/c";
  REQUIRE(fs.create_dirs(dir).ok());
  REQUIRE(fs.create_dirs(dir).ok());
  REQUIRE(fs.create_writable(dir + "/x").ok());
  REQUIRE(fs.create_writable(dir + "/y").ok());
  REQUIRE(fs.rename(dir + "/x", dir + "/z").ok());
  REQUIRE(fs.sync_dir(dir).ok());
  auto names = fs.list(dir);
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"y", "z"});
  CHECK(*fs.exists(dir + "/z"));
  CHECK_FALSE(*fs.exists(dir + "/x"));
  REQUIRE(fs.remove(dir + "/z").ok());
  CHECK_FALSE(*fs.exists(dir + "/z"));
  REQUIRE(fs.remove_all(tmp.path() + "/a").ok());
  CHECK_FALSE(*fs.exists(tmp.path() + "/a"));
}

TEST_CASE("posix file system: errors name the call, the path and the reason", "[storage][posix]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  auto r = fs.open_readable(tmp.path() + "/missing");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotFound);
  CHECK(r.status().message().find("open " + tmp.path() + "/missing") != std::string::npos);
  CHECK(r.status().message().find("No such file") != std::string::npos);
  Status s = fs.rename(tmp.path() + "/nope", tmp.path() + "/other");
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("rename") != std::string::npos);
}

TEST_CASE("posix file system: a second lock of the same file fails until released",
          "[storage][posix]") {
  TempDir tmp;
  FileSystem& fs = posix_file_system();
  const std::string path = tmp.path() + "/LOCK";
  auto first = fs.lock(path);
  REQUIRE(first.ok());
  auto second = fs.lock(path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == ErrorCode::kIoError);
  CHECK(second.status().message().find("data directory " + tmp.path() +
                                       " is in use by another process") != std::string::npos);
  first->reset();
  CHECK(fs.lock(path).ok());
}

}  // namespace
}  // namespace raft
