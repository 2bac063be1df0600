// Tests of kv::KvStateMachine, kvserver's LevelDB state machine: commands, the applied index
// across restarts, snapshots while applies go on, restore and its crash safety, bad input.
// Each test owns its temporary directories and runs on the test thread (one also reads from a
// second thread).
#include "kvserver/kv_state_machine.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "kv/kv.pb.h"
#include "raft/raft.pb.h"
#include "raft/state_machine.h"

namespace {

namespace fs = std::filesystem;
using kv::KvStateMachine;

// A directory made by mkdtemp, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kvserver-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class StringSink final : public raft::SnapshotSink {
 public:
  raft::Status write(std::string_view chunk) override {
    data.append(chunk);
    return raft::Status::ok_status();
  }
  std::string data;
};

// Hands out `data` in pieces of at most `chunk` bytes (small pieces exercise the decoder's
// buffer boundaries).
class StringSource final : public raft::SnapshotSource {
 public:
  explicit StringSource(std::string data, std::size_t chunk = 7)
      : data_(std::move(data)), chunk_(chunk) {}
  raft::Status read(std::size_t max_bytes, std::string* out) override {
    const std::size_t n = std::min({max_bytes, chunk_, data_.size() - pos_});
    out->assign(data_, pos_, n);
    pos_ += n;
    return raft::Status::ok_status();
  }

 private:
  std::string data_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

std::unique_ptr<KvStateMachine> open_sm(const fs::path& dir) {
  auto sm = KvStateMachine::open(dir);
  INFO(sm.status().to_string());
  REQUIRE(sm.ok());
  return std::move(sm).value();
}

raft::pb::Entry entry(raft::Index index, raft::Term term, raft::pb::EntryType type,
                      std::string data) {
  raft::pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(type);
  e.set_data(std::move(data));
  return e;
}

raft::pb::Entry put(raft::Index index, const std::string& key, const std::string& value,
                    raft::Term term = 1) {
  kv::pb::Command c;
  c.mutable_put()->set_key(key);
  c.mutable_put()->set_value(value);
  return entry(index, term, raft::pb::ENTRY_NORMAL, c.SerializeAsString());
}

// A put that asks for CommandResult.existed.
raft::pb::Entry put_reporting(raft::Index index, const std::string& key, const std::string& value) {
  kv::pb::Command c;
  c.mutable_put()->set_key(key);
  c.mutable_put()->set_value(value);
  c.mutable_put()->set_report_existed(true);
  return entry(index, 1, raft::pb::ENTRY_NORMAL, c.SerializeAsString());
}

raft::pb::Entry del(raft::Index index, const std::string& key, raft::Term term = 1) {
  kv::pb::Command c;
  c.mutable_delete_()->set_key(key);
  return entry(index, term, raft::pb::ENTRY_NORMAL, c.SerializeAsString());
}

raft::pb::Entry set_member(raft::Index index, const std::string& id, const std::string& address) {
  kv::pb::Command c;
  c.mutable_set_member()->set_node_id(id);
  c.mutable_set_member()->set_http_address(address);
  return entry(index, 1, raft::pb::ENTRY_NORMAL, c.SerializeAsString());
}

kv::pb::CommandResult result_of(const std::string& response) {
  kv::pb::CommandResult r;
  REQUIRE(r.ParseFromString(response));
  return r;
}

std::optional<std::string> get(const KvStateMachine& sm, const std::string& key) {
  auto v = sm.get(key);
  REQUIRE(v.ok());
  return *v;
}

std::string snapshot_bytes(KvStateMachine& sm) {
  auto view = sm.snapshot();
  REQUIRE(view.ok());
  StringSink sink;
  REQUIRE((*view)->write_to(sink).ok());
  return sink.data;
}

raft::pb::SnapshotMetadata metadata(raft::Index index, raft::Term term) {
  raft::pb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  return m;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// The live database directory that dir/CURRENT names.
fs::path live_db(const fs::path& dir) {
  std::string name = read_file(dir / "CURRENT");
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return dir / name;
}

std::vector<std::string> db_dirs(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("db-")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("put stores a value that get returns and delete removes") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  CHECK_FALSE(get(*sm, "a").has_value());

  auto r1 = result_of(sm->apply(put_reporting(1, "a", "\"one\"")));
  CHECK(r1.code() == kv::pb::CommandResult::OK);
  CHECK_FALSE(r1.existed());
  CHECK(get(*sm, "a") == std::optional<std::string>("\"one\""));

  auto r2 = result_of(sm->apply(put_reporting(2, "a", "2")));
  CHECK(r2.existed());
  CHECK(get(*sm, "a") == std::optional<std::string>("2"));

  auto r3 = result_of(sm->apply(del(3, "a")));
  CHECK(r3.code() == kv::pb::CommandResult::OK);
  CHECK(r3.existed());
  CHECK_FALSE(get(*sm, "a").has_value());

  auto r4 = result_of(sm->apply(del(4, "a")));
  CHECK_FALSE(r4.existed());
  CHECK(sm->last_applied() == 4);
}

TEST_CASE("a put reports whether the key existed only when it asks") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  REQUIRE(result_of(sm->apply(put(1, "a", "1"))).code() == kv::pb::CommandResult::OK);
  CHECK_FALSE(result_of(sm->apply(put(2, "a", "2"))).existed());  // not asked: no read
  CHECK(result_of(sm->apply(put_reporting(3, "a", "3"))).existed());
  CHECK(get(*sm, "a") == std::optional<std::string>("3"));
}

TEST_CASE("last_applied and its term survive a reopen and equal the last applied entry") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    CHECK(sm->last_applied() == 0);
    CHECK(sm->applied_term() == 0);
    sm->apply(put(1, "k", "v", 1));
    sm->apply(entry(2, 2, raft::pb::ENTRY_NOOP, ""));
    sm->apply(put(3, "k2", "v2", 2));
    CHECK(sm->last_applied() == 3);
  }
  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 3);
  CHECK(sm->applied_term() == 2);
  CHECK(get(*sm, "k") == std::optional<std::string>("v"));
  CHECK(get(*sm, "k2") == std::optional<std::string>("v2"));
}

TEST_CASE("a restart does not re-apply: entries 1..10, reopen, last_applied is 10") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    for (raft::Index i = 1; i <= 10; ++i) sm->apply(put(i, "counter", std::to_string(i)));
  }
  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 10);
  CHECK(get(*sm, "counter") == std::optional<std::string>("10"));
  // An index at or below last_applied is never applied twice.
  CHECK(sm->apply(put(5, "counter", "5")).empty());
  CHECK(get(*sm, "counter") == std::optional<std::string>("10"));
  CHECK(sm->last_applied() == 10);
  // The next entry continues from there.
  sm->apply(put(11, "counter", "11"));
  CHECK(sm->last_applied() == 11);
  CHECK(get(*sm, "counter") == std::optional<std::string>("11"));
}

TEST_CASE("DIRTY marks an open state machine and a clean close removes it") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    CHECK(fs::exists(dir.path() / "DIRTY"));
    sm->apply(put(1, "k", "v"));
  }
  CHECK_FALSE(fs::exists(dir.path() / "DIRTY"));
}

TEST_CASE("a state machine that was not closed cleanly starts empty, for the log to rebuild") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    for (raft::Index i = 1; i <= 10; ++i) sm->apply(put(i, "k" + std::to_string(i), "v"));
  }
  // As a crash leaves it: its unsynced applies may have reached the disk out of order.
  write_file(dir.path() / "DIRTY", "");
  {
    auto sm = open_sm(dir.path());
    CHECK(sm->last_applied() == 0);  // the runtime restores the snapshot and replays
    CHECK(get(*sm, "k1") == std::nullopt);
    CHECK(get(*sm, "k10") == std::nullopt);
    sm->apply(put(1, "k1", "again"));
  }
  auto sm = open_sm(dir.path());  // closed cleanly this time: kept
  CHECK(sm->last_applied() == 1);
  CHECK(get(*sm, "k1") == std::optional<std::string>("again"));
}

TEST_CASE("no-op and configuration entries advance last_applied and answer nothing") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    CHECK(sm->apply(entry(1, 1, raft::pb::ENTRY_NOOP, "")).empty());
    CHECK(sm->last_applied() == 1);
    raft::pb::Configuration conf;
    CHECK(sm->apply(entry(2, 1, raft::pb::ENTRY_CONF_CHANGE, conf.SerializeAsString())).empty());
    CHECK(sm->last_applied() == 2);
  }
  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 2);
}

TEST_CASE("an undecodable command is applied as a no-op with an error response") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    sm->apply(put(1, "k", "v"));
    // Bytes that are not a protobuf message.
    auto r = result_of(sm->apply(entry(2, 1, raft::pb::ENTRY_NORMAL, "\xff\xff\xff garbage")));
    CHECK(r.code() == kv::pb::CommandResult::INVALID_COMMAND);
    CHECK_FALSE(r.error().empty());
    CHECK(sm->last_applied() == 2);
    // A message with no operation (empty data; or a field this server does not know).
    auto r2 = result_of(sm->apply(entry(3, 1, raft::pb::ENTRY_NORMAL, "")));
    CHECK(r2.code() == kv::pb::CommandResult::INVALID_COMMAND);
    auto r3 = result_of(sm->apply(entry(4, 1, raft::pb::ENTRY_NORMAL, std::string("\x7a\x00", 2))));
    CHECK(r3.code() == kv::pb::CommandResult::INVALID_COMMAND);
    // A set_member without a node id.
    auto r4 = result_of(sm->apply(entry(5, 1, raft::pb::ENTRY_NORMAL, std::string("\x1a\x00", 2))));
    CHECK(r4.code() == kv::pb::CommandResult::INVALID_COMMAND);
    CHECK(sm->last_applied() == 5);
    CHECK(get(*sm, "k") == std::optional<std::string>("v"));
  }
  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 5);
  CHECK(get(*sm, "k") == std::optional<std::string>("v"));
}

TEST_CASE("a snapshot is point-in-time while applies continue") {
  TempDir dir;
  TempDir other;
  auto sm = open_sm(dir.path());
  sm->apply(put(1, "a", "1"));
  sm->apply(put(2, "b", "2"));
  auto view = sm->snapshot();
  REQUIRE(view.ok());
  // Applies after snapshot(), before the view is written.
  sm->apply(put(3, "c", "3"));
  sm->apply(del(4, "a"));
  sm->apply(put(5, "b", "changed"));
  StringSink sink;
  REQUIRE((*view)->write_to(sink).ok());
  CHECK(get(*sm, "b") == std::optional<std::string>("changed"));
  CHECK(sm->last_applied() == 5);

  auto copy = open_sm(other.path());
  StringSource source(sink.data);
  REQUIRE(copy->restore(metadata(2, 1), source).ok());
  CHECK(copy->last_applied() == 2);
  CHECK(get(*copy, "a") == std::optional<std::string>("1"));
  CHECK(get(*copy, "b") == std::optional<std::string>("2"));
  CHECK_FALSE(get(*copy, "c").has_value());
}

TEST_CASE("snapshot then restore into another instance gives equal contents and last_applied") {
  TempDir dir;
  TempDir other;
  auto sm = open_sm(dir.path());
  for (int i = 0; i < 500; ++i) {
    sm->apply(put(static_cast<raft::Index>(i + 1), "key" + std::to_string(i),
                  std::string(static_cast<std::size_t>(i % 300), 'x')));
  }
  sm->apply(del(501, "key7", 3));
  const std::string stream = snapshot_bytes(*sm);

  auto copy = open_sm(other.path());
  copy->apply(put(1, "only-in-copy", "gone after restore"));
  StringSource source(stream, 4096);
  REQUIRE(copy->restore(metadata(501, 3), source).ok());
  CHECK(copy->last_applied() == 501);
  CHECK(copy->applied_term() == 3);
  CHECK_FALSE(get(*copy, "only-in-copy").has_value());
  CHECK_FALSE(get(*copy, "key7").has_value());
  CHECK(get(*copy, "key42") == std::optional<std::string>(std::string(42, 'x')));
  // Same contents and position: the same stream, byte for byte.
  CHECK(snapshot_bytes(*copy) == stream);

  // The restored state is what a reopen finds, and the old database is gone.
  copy.reset();
  auto reopened = open_sm(other.path());
  CHECK(reopened->last_applied() == 501);
  CHECK(snapshot_bytes(*reopened) == stream);
  CHECK(db_dirs(other.path()).size() == 1);
  // Applies continue above the snapshot.
  reopened->apply(put(502, "after", "yes", 3));
  CHECK(get(*reopened, "after") == std::optional<std::string>("yes"));
}

TEST_CASE(
    "restore of a truncated or corrupt stream fails with kCorruption and keeps the old data") {
  TempDir dir;
  TempDir other;
  auto source_sm = open_sm(dir.path());
  for (raft::Index i = 1; i <= 20; ++i) source_sm->apply(put(i, "k" + std::to_string(i), "v"));
  const std::string good = snapshot_bytes(*source_sm);

  auto sm = open_sm(other.path());
  sm->apply(put(1, "mine", "kept"));
  const std::string before = snapshot_bytes(*sm);
  auto expect_rejected = [&](const std::string& stream, raft::pb::SnapshotMetadata meta) {
    StringSource source(stream);
    raft::Status s = sm->restore(meta, source);
    INFO(s.to_string());
    CHECK(s.code() == raft::ErrorCode::kCorruption);
    CHECK(sm->last_applied() == 1);
    CHECK(get(*sm, "mine") == std::optional<std::string>("kept"));
  };

  for (std::size_t cut = 0; cut < good.size(); cut += (cut < 64 ? 1 : 13)) {
    expect_rejected(good.substr(0, cut), metadata(20, 1));
  }
  expect_rejected(good.substr(0, good.size() - 1), metadata(20, 1));
  for (std::size_t at : {std::size_t{0}, std::size_t{9}, std::size_t{30}, good.size() / 2,
                         good.size() - 10, good.size() - 1}) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x40);
    expect_rejected(flipped, metadata(20, 1));
  }
  expect_rejected(good + "x", metadata(20, 1));               // bytes after the trailer
  expect_rejected(good, metadata(21, 1));                     // another index
  expect_rejected(good, metadata(20, 2));                     // another term
  expect_rejected(std::string(1000, '\0'), metadata(20, 1));  // not a snapshot at all

  CHECK(snapshot_bytes(*sm) == before);
  // No temporary database is left behind, and the state survives a reopen.
  CHECK(db_dirs(other.path()).size() == 1);
  sm.reset();
  auto reopened = open_sm(other.path());
  CHECK(snapshot_bytes(*reopened) == before);
}

TEST_CASE("a crash while a restore writes its temporary database reopens to the old state") {
  TempDir dir;
  {
    auto sm = open_sm(dir.path());
    sm->apply(put(1, "k", "old"));
  }
  const fs::path live = live_db(dir.path());
  // A half-written database and a half-written pointer, as a crash would leave them.
  fs::create_directories(dir.path() / "db-000009.tmp");
  write_file(dir.path() / "db-000009.tmp" / "000003.log", "partial");
  write_file(dir.path() / "CURRENT.tmp", "db-0000");

  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 1);
  CHECK(get(*sm, "k") == std::optional<std::string>("old"));
  CHECK(live_db(dir.path()) == live);
  CHECK_FALSE(fs::exists(dir.path() / "db-000009.tmp"));
  CHECK_FALSE(fs::exists(dir.path() / "CURRENT.tmp"));
}

TEST_CASE("a crash after the new database is complete but before the pointer moves keeps the old") {
  TempDir dir;
  TempDir donor;
  {
    auto sm = open_sm(dir.path());
    sm->apply(put(1, "k", "old"));
    auto d = open_sm(donor.path());
    d->apply(put(1, "k", "new"));
    d->apply(put(2, "k2", "new"));
  }
  // The donor's complete database under the next name, CURRENT still naming the old one.
  fs::copy(live_db(donor.path()), dir.path() / "db-000002", fs::copy_options::recursive);

  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 1);
  CHECK(get(*sm, "k") == std::optional<std::string>("old"));
  CHECK(db_dirs(dir.path()) == std::vector<std::string>{live_db(dir.path()).filename().string()});
}

TEST_CASE("a crash after the pointer moves but before the old database is deleted opens the new") {
  TempDir dir;
  TempDir donor;
  {
    auto sm = open_sm(dir.path());
    sm->apply(put(1, "k", "old"));
    auto d = open_sm(donor.path());
    d->apply(put(1, "k", "new"));
    d->apply(put(2, "k2", "new"));
  }
  const fs::path old = live_db(dir.path());
  fs::copy(live_db(donor.path()), dir.path() / "db-000002", fs::copy_options::recursive);
  write_file(dir.path() / "CURRENT", "db-000002\n");

  auto sm = open_sm(dir.path());
  CHECK(sm->last_applied() == 2);
  CHECK(get(*sm, "k") == std::optional<std::string>("new"));
  CHECK(get(*sm, "k2") == std::optional<std::string>("new"));
  CHECK_FALSE(fs::exists(old));
  CHECK(db_dirs(dir.path()) == std::vector<std::string>{"db-000002"});
}

TEST_CASE("a pointer naming a missing database is reported as corruption") {
  TempDir dir;
  { open_sm(dir.path()); }
  write_file(dir.path() / "CURRENT", "db-000077\n");
  auto sm = KvStateMachine::open(dir.path());
  REQUIRE_FALSE(sm.ok());
  CHECK(sm.status().code() == raft::ErrorCode::kCorruption);
  write_file(dir.path() / "CURRENT", "../etc\n");
  auto sm2 = KvStateMachine::open(dir.path());
  REQUIRE_FALSE(sm2.ok());
  CHECK(sm2.status().code() == raft::ErrorCode::kCorruption);
}

TEST_CASE("values are stored byte for byte") {
  TempDir dir;
  TempDir other;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"string", "\"hello\""},
      {"number", "42.5e-3"},
      {"object", R"({"a": [1, 2, {"b": null}], "c": true})"},
      {"unicode", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \\u00e9\""},
      {"nul and binary", all_bytes + std::string(3, '\0')},
      {"empty", ""},
      {"large", std::string(1 << 20, '7')},
      {std::string("key\0with nul", 12), "\"v\""},
      {"\xf0\x9f\x94\x91", "\"unicode key\""},
  };
  {
    auto sm = open_sm(dir.path());
    raft::Index i = 0;
    for (const auto& [k, v] : cases) sm->apply(put(++i, k, v));
  }
  auto sm = open_sm(dir.path());
  for (const auto& [k, v] : cases) CHECK(get(*sm, k) == std::optional<std::string>(v));

  auto copy = open_sm(other.path());
  StringSource source(snapshot_bytes(*sm), 1000);
  REQUIRE(copy->restore(metadata(cases.size(), 1), source).ok());
  for (const auto& [k, v] : cases) CHECK(get(*copy, k) == std::optional<std::string>(v));
}

TEST_CASE("user keys cannot reach the state machine's own records") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  sm->apply(put(1, "m/applied", "not an index"));
  sm->apply(put(2, "/m/applied", "x"));
  sm->apply(put(3, "", "empty key"));
  sm.reset();
  auto reopened = open_sm(dir.path());
  CHECK(reopened->last_applied() == 3);
  CHECK(get(*reopened, "m/applied") == std::optional<std::string>("not an index"));
  CHECK(get(*reopened, "") == std::optional<std::string>("empty key"));
}

TEST_CASE("a directory in use by another instance is refused") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  auto second = KvStateMachine::open(dir.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == raft::ErrorCode::kIoError);
  sm.reset();
  CHECK(KvStateMachine::open(dir.path()).ok());
}

TEST_CASE("a snapshot view outlives a restore that replaces its database") {
  TempDir dir;
  TempDir donor;
  auto sm = open_sm(dir.path());
  sm->apply(put(1, "k", "before"));
  auto view = sm->snapshot();
  REQUIRE(view.ok());

  auto d = open_sm(donor.path());
  d->apply(put(1, "k", "donor"));
  d->apply(put(2, "k2", "donor"));
  StringSource source(snapshot_bytes(*d));
  REQUIRE(sm->restore(metadata(2, 1), source).ok());
  CHECK(get(*sm, "k") == std::optional<std::string>("donor"));

  // The view still writes the replaced database's state.
  StringSink sink;
  REQUIRE((*view)->write_to(sink).ok());
  TempDir other;
  auto copy = open_sm(other.path());
  StringSource old_state(sink.data);
  REQUIRE(copy->restore(metadata(1, 1), old_state).ok());
  CHECK(get(*copy, "k") == std::optional<std::string>("before"));
  // Once the view is gone, only the live database remains on disk.
  view = raft::Status(raft::ErrorCode::kShutdown, "released");
  CHECK(db_dirs(dir.path()).size() == 1);
}

TEST_CASE("reads on another thread are safe while applies and a restore go on") {
  TempDir dir;
  TempDir donor;
  auto d = open_sm(donor.path());
  d->apply(put(1, "k", "restored"));
  const std::string stream = snapshot_bytes(*d);

  auto sm = open_sm(dir.path());
  sm->apply(put(1, "k", "0"));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto v = sm->get("k");
      if (!v.ok() || !v->has_value()) ++bad;
      ++reads;
    }
  });
  for (raft::Index i = 2; i <= 200; ++i) sm->apply(put(i, "k", std::to_string(i)));
  StringSource source(stream);
  REQUIRE(sm->restore(metadata(1, 1), source).ok());
  for (raft::Index i = 2; i <= 100; ++i) sm->apply(put(i, "k", std::to_string(i)));
  while (reads.load() < 100) std::this_thread::yield();
  stop.store(true);
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(get(*sm, "k") == std::optional<std::string>("100"));
}

TEST_CASE("set_member records a member's HTTP address, replaces it, and an empty one removes it") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  CHECK_FALSE(result_of(sm->apply(set_member(1, "node1", "127.0.0.1:20001"))).existed());
  CHECK(*sm->member_address("node1") == std::optional<std::string>("127.0.0.1:20001"));
  CHECK(result_of(sm->apply(set_member(2, "node1", "127.0.0.1:20011"))).existed());
  CHECK(*sm->member_address("node1") == std::optional<std::string>("127.0.0.1:20011"));
  CHECK_FALSE(sm->member_address("node2")->has_value());
  sm->apply(set_member(3, "node1", ""));
  CHECK_FALSE(sm->member_address("node1")->has_value());
  // Member records are not user data, and user keys cannot reach them.
  sm->apply(set_member(4, "node2", "127.0.0.1:20002"));
  CHECK_FALSE(*sm->has_user_data());
  CHECK_FALSE(get(*sm, "m/member/node2").has_value());
  sm->apply(put(5, "k", "v"));
  CHECK(*sm->has_user_data());
  sm->apply(del(6, "k"));
  CHECK_FALSE(*sm->has_user_data());
}

TEST_CASE("member records travel in snapshots") {
  TempDir dir;
  TempDir other;
  auto sm = open_sm(dir.path());
  sm->apply(put(1, "a", "1"));
  sm->apply(set_member(2, "node2", "127.0.0.1:20002"));
  sm->apply(set_member(3, "node1", "127.0.0.1:20001"));
  sm->apply(put(4, "b", "2"));
  const std::string stream = snapshot_bytes(*sm);
  auto copy = open_sm(other.path());
  copy->apply(set_member(1, "node9", "gone"));
  StringSource source(stream);
  REQUIRE(copy->restore(metadata(4, 1), source).ok());
  CHECK(*copy->member_address("node1") == std::optional<std::string>("127.0.0.1:20001"));
  CHECK(*copy->member_address("node2") == std::optional<std::string>("127.0.0.1:20002"));
  CHECK_FALSE(copy->member_address("node9")->has_value());
  CHECK(get(*copy, "b") == std::optional<std::string>("2"));
  CHECK(snapshot_bytes(*copy) == stream);
}

TEST_CASE("apply_batch answers each command as if applied one by one, in one write") {
  TempDir dir;
  auto sm = open_sm(dir.path());
  sm->apply(put(1, "a", "old"));
  std::vector<raft::pb::Entry> batch = {put_reporting(2, "a", "new"),  // existed: yes
                                        del(3, "a"),  // existed: yes (set just before)
                                        put_reporting(4, "b", "1"),  // existed: no
                                        put_reporting(5, "b", "2"),  // existed: yes (just before)
                                        del(6, "c"),                 // existed: no
                                        entry(7, 2, raft::pb::ENTRY_CONF_CHANGE, "")};
  const std::vector<std::string> responses = sm->apply_batch(batch);
  REQUIRE(responses.size() == batch.size());
  CHECK(result_of(responses[0]).existed());
  CHECK(result_of(responses[1]).existed());
  CHECK_FALSE(result_of(responses[2]).existed());
  CHECK(result_of(responses[3]).existed());
  CHECK_FALSE(result_of(responses[4]).existed());
  CHECK(responses[5].empty());
  CHECK(sm->last_applied() == 7);
  CHECK(sm->applied_term() == 2);
  CHECK_FALSE(get(*sm, "a").has_value());
  CHECK(get(*sm, "b") == std::optional<std::string>("2"));
  // Entries at or below the applied index change nothing; the rest of the batch applies.
  const std::vector<std::string> again = sm->apply_batch({put(7, "b", "x"), put(8, "d", "4")});
  CHECK(again[0].empty());
  CHECK(get(*sm, "b") == std::optional<std::string>("2"));
  CHECK(get(*sm, "d") == std::optional<std::string>("4"));
  sm.reset();
  auto reopened = open_sm(dir.path());
  CHECK(reopened->last_applied() == 8);
  CHECK(get(*reopened, "b") == std::optional<std::string>("2"));
}
