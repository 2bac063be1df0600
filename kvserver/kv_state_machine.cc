// KvStateMachine: the LevelDB state machine of kvserver (see kv_state_machine.h for the
// formats, the directory layout and which thread calls what). This file also holds the
// snapshot view (written on the runtime's snapshot thread) and the stream decoder used by
// restore() (apply thread).
#include "kvserver/kv_state_machine.h"

#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/crc32c.h"
#include "kv/kv.pb.h"

namespace kv {

namespace fs = std::filesystem;
using raft::ErrorCode;
using raft::Index;
using raft::Result;
using raft::Status;
using raft::Term;

namespace {

constexpr std::string_view kDataPrefix = "d/";
constexpr std::string_view kAppliedKey = "m/applied";
constexpr std::string_view kMemberPrefix = "m/member/";
constexpr char kPointerFile[] = "CURRENT";
constexpr char kPointerTemp[] = "CURRENT.tmp";
constexpr char kLockFile[] = "LOCK";
constexpr char kDirtyFile[] = "DIRTY";
constexpr std::string_view kDbPrefix = "db-";
constexpr std::string_view kTempSuffix = ".tmp";

constexpr std::string_view kMagic{"KVSNAP\0\1", 8};
constexpr std::uint8_t kRecordTag = 1;
constexpr std::uint8_t kMemberTag = 2;
constexpr std::uint8_t kTrailerTag = 0;
constexpr std::size_t kStreamChunk = 64 << 10;       // bytes per sink write / source read
constexpr std::size_t kRestoreBatchBytes = 4 << 20;  // bytes per WriteBatch while restoring

std::string data_key(std::string_view key) {
  std::string k;
  k.reserve(kDataPrefix.size() + key.size());
  k.append(kDataPrefix).append(key);
  return k;
}

std::string member_key(std::string_view node_id) {
  std::string k;
  k.reserve(kMemberPrefix.size() + node_id.size());
  k.append(kMemberPrefix).append(node_id);
  return k;
}

std::string db_name(std::uint64_t generation) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "db-%06llu", static_cast<unsigned long long>(generation));
  return buf;
}

// "db-<digits>" -> the generation; false for anything else.
bool parse_db_name(std::string_view name, std::uint64_t* generation) {
  if (!name.starts_with(kDbPrefix)) return false;
  std::string_view digits = name.substr(kDbPrefix.size());
  if (digits.empty() || digits.size() > 18) return false;
  std::uint64_t g = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    g = g * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *generation = g;
  return true;
}

Status io_error(std::string_view what, int err) {
  return Status(ErrorCode::kIoError, std::string(what) + ": " + std::strerror(err));
}

Status from_leveldb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok_status();
  const ErrorCode code = s.IsCorruption() ? ErrorCode::kCorruption
                         : s.IsNotFound() ? ErrorCode::kNotFound
                                          : ErrorCode::kIoError;
  return Status(code, std::string(what) + ": " + s.ToString());
}

// A file descriptor closed when it goes out of scope (unless released).
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("opening " + dir.string(), errno);
  if (::fsync(fd.get()) != 0) return io_error("fsync of " + dir.string(), errno);
  return Status::ok_status();
}

// Points dir/CURRENT at `name`: write CURRENT.tmp, fsync, rename over CURRENT, fsync dir.
Status write_pointer(const fs::path& dir, const std::string& name) {
  const fs::path tmp = dir / kPointerTemp;
  const std::string content = name + "\n";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return io_error("creating " + tmp.string(), errno);
    std::size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("writing " + tmp.string(), errno);
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return io_error("fsync of " + tmp.string(), errno);
  }
  if (::rename(tmp.c_str(), (dir / kPointerFile).c_str()) != 0) {
    return io_error("renaming " + tmp.string(), errno);
  }
  return fsync_dir(dir);
}

// The database name in dir/CURRENT, std::nullopt if there is no CURRENT.
Result<std::optional<std::string>> read_pointer(const fs::path& dir) {
  const fs::path path = dir / kPointerFile;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return io_error("opening " + path.string(), errno);
  }
  std::string content;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("reading " + path.string(), errno);
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > 64) break;
  }
  if (content.ends_with('\n')) content.pop_back();
  std::uint64_t generation = 0;
  if (!parse_db_name(content, &generation)) {
    return Status(ErrorCode::kCorruption,
                  path.string() + " does not name a database (\"db-<number>\")");
  }
  return std::optional<std::string>(std::move(content));
}

const leveldb::FilterPolicy* bloom_filter() {
  // Shared by every database and never freed (LevelDB needs it for as long as any is open).
  static const leveldb::FilterPolicy* const policy = leveldb::NewBloomFilterPolicy(10);
  return policy;
}

Result<std::unique_ptr<leveldb::DB>> open_leveldb(const fs::path& path, bool create) {
  leveldb::Options options;
  options.create_if_missing = create;
  options.filter_policy = bloom_filter();
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, path.string(), &db);
  if (!s.ok()) return from_leveldb(s, "opening LevelDB " + path.string());
  return std::unique_ptr<leveldb::DB>(db);
}

// The applied position stored in `db` (as of `snapshot`, if not null); 0/0 when none is.
Result<pb::AppliedState> read_applied(leveldb::DB& db, const leveldb::Snapshot* snapshot) {
  leveldb::ReadOptions options;
  options.snapshot = snapshot;
  std::string bytes;
  leveldb::Status s =
      db.Get(options, leveldb::Slice(kAppliedKey.data(), kAppliedKey.size()), &bytes);
  pb::AppliedState state;
  if (s.IsNotFound()) return state;
  if (!s.ok()) return from_leveldb(s, "reading the applied index");
  if (!state.ParseFromString(bytes)) {
    return Status(ErrorCode::kCorruption, "the stored applied index is not an AppliedState");
  }
  return state;
}

void put_applied(leveldb::WriteBatch& batch, Index index, Term term) {
  pb::AppliedState state;
  state.set_index(index);
  state.set_term(term);
  batch.Put(leveldb::Slice(kAppliedKey.data(), kAppliedKey.size()), state.SerializeAsString());
}

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "kvserver: state machine: %s; stopping (a restart replays the Raft log)\n",
               what.c_str());
  std::fflush(stderr);
  std::abort();
}

void append_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void append_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void append_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint64_t decode_le(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    v |= std::uint64_t{static_cast<std::uint8_t>(bytes[i])} << (8 * i);
  }
  return v;
}

Status corruption(std::string what) {
  return Status(ErrorCode::kCorruption, "snapshot stream: " + std::move(what));
}

// Reads exact byte counts from a SnapshotSource, keeping a CRC-32C of what it consumed.
class StreamReader {
 public:
  explicit StreamReader(raft::SnapshotSource& source) : source_(source) {}

  // Replaces *out with the next n bytes; kCorruption if the stream ends first.
  Status read(std::size_t n, std::string* out, bool checksum = true) {
    out->clear();
    while (out->size() < n) {
      if (pos_ == buffer_.size()) {
        if (Status s = refill(); !s.ok()) return s;
        if (buffer_.empty()) return corruption("truncated (ends before its trailer)");
      }
      const std::size_t take = std::min(n - out->size(), buffer_.size() - pos_);
      const std::string_view piece(buffer_.data() + pos_, take);
      if (checksum) crc_ = raft::crc32c::extend(crc_, piece);
      out->append(piece);
      pos_ += take;
    }
    return Status::ok_status();
  }

  Status read_int(std::size_t width, std::uint64_t* value, bool checksum = true) {
    if (Status s = read(width, &scratch_, checksum); !s.ok()) return s;
    *value = decode_le(scratch_);
    return Status::ok_status();
  }

  // OK only if nothing is left in the stream.
  Status expect_end() {
    if (pos_ == buffer_.size()) {
      if (Status s = refill(); !s.ok()) return s;
    }
    if (pos_ != buffer_.size()) return corruption("bytes after the trailer");
    return Status::ok_status();
  }

  std::uint32_t crc() const { return crc_; }

 private:
  Status refill() {
    buffer_.clear();
    pos_ = 0;
    return source_.read(kStreamChunk, &buffer_);
  }

  raft::SnapshotSource& source_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint32_t crc_ = 0;
  std::string scratch_;
};

}  // namespace

// One open LevelDB database. The last owner closes it, and deletes its directory if a
// restore replaced it (mark_obsolete()).
class KvStateMachine::Database {
 public:
  Database(std::unique_ptr<leveldb::DB> db, fs::path path)
      : db_(std::move(db)), path_(std::move(path)) {}
  ~Database() {
    db_.reset();
    if (obsolete_.load()) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  leveldb::DB& db() { return *db_; }
  void mark_obsolete() { obsolete_.store(true); }

 private:
  std::unique_ptr<leveldb::DB> db_;
  const fs::path path_;
  std::atomic<bool> obsolete_{false};
};

namespace {

// A point-in-time view: a LevelDB snapshot of one database, written as the stream described
// in kv_state_machine.h.
class KvSnapshotView final : public raft::StateMachineSnapshot {
 public:
  KvSnapshotView(std::shared_ptr<KvStateMachine::Database> db, const leveldb::Snapshot* snapshot,
                 Index index, Term term)
      : db_(std::move(db)), snapshot_(snapshot), index_(index), term_(term) {}
  ~KvSnapshotView() override { db_->db().ReleaseSnapshot(snapshot_); }
  KvSnapshotView(const KvSnapshotView&) = delete;
  KvSnapshotView& operator=(const KvSnapshotView&) = delete;

  Status write_to(raft::SnapshotSink& sink) override {
    std::uint32_t crc = 0;
    std::string out;
    out.reserve(kStreamChunk * 2);
    auto flush = [&]() -> Status {
      crc = raft::crc32c::extend(crc, out);
      Status s = sink.write(out);
      out.clear();
      return s;
    };
    out.append(kMagic);
    append_u64(out, index_);
    append_u64(out, term_);

    leveldb::ReadOptions options;
    options.snapshot = snapshot_;
    options.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->db().NewIterator(options));
    std::uint64_t count = 0;
    // User records first, then member records (each in key order).
    for (const auto& [tag, prefix_text] :
         {std::pair{kRecordTag, kDataPrefix}, std::pair{kMemberTag, kMemberPrefix}}) {
      const leveldb::Slice prefix(prefix_text.data(), prefix_text.size());
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        leveldb::Slice key = it->key();
        key.remove_prefix(prefix.size());
        const leveldb::Slice value = it->value();
        if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
          return Status(ErrorCode::kInvalidArgument, "a key or value is too large to snapshot");
        }
        append_u8(out, tag);
        append_u32(out, static_cast<std::uint32_t>(key.size()));
        append_u32(out, static_cast<std::uint32_t>(value.size()));
        out.append(key.data(), key.size());
        out.append(value.data(), value.size());
        ++count;
        if (out.size() >= kStreamChunk) {
          if (Status s = flush(); !s.ok()) return s;
        }
      }
      if (Status s = from_leveldb(it->status(), "reading the snapshot"); !s.ok()) return s;
    }
    append_u8(out, kTrailerTag);
    append_u64(out, count);
    crc = raft::crc32c::extend(crc, out);
    append_u32(out, raft::crc32c::mask(crc));
    return sink.write(out);
  }

 private:
  const std::shared_ptr<KvStateMachine::Database> db_;
  const leveldb::Snapshot* const snapshot_;
  const Index index_;
  const Term term_;
};

// Decodes a snapshot stream into `db` (a fresh database); the metadata's position must match
// the stream's. The last write, which records the applied position, is synced.
Status load_stream(raft::SnapshotSource& source, const raft::pb::SnapshotMetadata& metadata,
                   leveldb::DB& db) {
  StreamReader reader(source);
  std::string bytes;
  if (Status s = reader.read(kMagic.size(), &bytes); !s.ok()) return s;
  if (bytes != kMagic) return corruption("bad magic (not a kvserver snapshot, format 1)");
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  if (Status s = reader.read_int(8, &index); !s.ok()) return s;
  if (Status s = reader.read_int(8, &term); !s.ok()) return s;
  if (index != metadata.index() || term != metadata.term()) {
    return corruption("it covers index " + std::to_string(index) + " term " + std::to_string(term) +
                      ", the metadata says index " + std::to_string(metadata.index()) + " term " +
                      std::to_string(metadata.term()));
  }

  leveldb::WriteBatch batch;
  std::size_t batch_bytes = 0;
  std::uint64_t count = 0;
  std::string key;
  std::string previous_key;
  std::string value;
  std::uint64_t previous_tag = 0;
  for (;;) {
    std::uint64_t tag = 0;
    if (Status s = reader.read_int(1, &tag); !s.ok()) return s;
    if (tag == kTrailerTag) break;
    if (tag != kRecordTag && tag != kMemberTag) {
      return corruption("unknown record tag " + std::to_string(tag));
    }
    if (tag < previous_tag) return corruption("a user record after a member record");
    std::uint64_t key_size = 0;
    std::uint64_t value_size = 0;
    if (Status s = reader.read_int(4, &key_size); !s.ok()) return s;
    if (Status s = reader.read_int(4, &value_size); !s.ok()) return s;
    if (Status s = reader.read(key_size, &key); !s.ok()) return s;
    if (Status s = reader.read(value_size, &value); !s.ok()) return s;
    if (tag == previous_tag && key <= previous_key) return corruption("keys out of order");
    previous_tag = tag;
    batch.Put(tag == kRecordTag ? data_key(key) : member_key(key), value);
    batch_bytes += key.size() + value.size() + 16;
    ++count;
    previous_key.swap(key);
    if (batch_bytes >= kRestoreBatchBytes) {
      leveldb::Status s = db.Write(leveldb::WriteOptions(), &batch);
      if (!s.ok()) return from_leveldb(s, "writing the restored database");
      batch.Clear();
      batch_bytes = 0;
    }
  }
  std::uint64_t trailer_count = 0;
  if (Status s = reader.read_int(8, &trailer_count); !s.ok()) return s;
  const std::uint32_t expected_crc = reader.crc();
  std::uint64_t stored_crc = 0;
  if (Status s = reader.read_int(4, &stored_crc, /*checksum=*/false); !s.ok()) return s;
  if (raft::crc32c::unmask(static_cast<std::uint32_t>(stored_crc)) != expected_crc) {
    return corruption("checksum mismatch");
  }
  if (trailer_count != count) {
    return corruption("the trailer counts " + std::to_string(trailer_count) + " records, " +
                      std::to_string(count) + " were read");
  }
  if (Status s = reader.expect_end(); !s.ok()) return s;

  put_applied(batch, metadata.index(), metadata.term());
  leveldb::WriteOptions sync;
  sync.sync = true;  // also makes every earlier write of this database durable
  return from_leveldb(db.Write(sync, &batch), "writing the restored database");
}

}  // namespace

Result<std::unique_ptr<KvStateMachine>> KvStateMachine::open(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status(ErrorCode::kIoError, "creating " + dir.string() + ": " + ec.message());
  }
  const fs::path lock_path = dir / kLockFile;
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.get() < 0) return io_error("opening " + lock_path.string(), errno);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(ErrorCode::kIoError,
                    dir.string() + " is in use by another kvserver state machine");
    }
    return io_error("locking " + lock_path.string(), errno);
  }

  // DIRTY present: the last open was not closed cleanly, and its unsynced writes may have
  // reached the disk out of order (see "Durability" in the header): start empty instead.
  const fs::path dirty = dir / kDirtyFile;
  const bool unclean = fs::exists(dirty, ec);
  auto pointer = read_pointer(dir);
  if (!pointer.ok()) return pointer.status();
  if (unclean && pointer->has_value()) {
    fs::remove(dir / kPointerFile, ec);  // the database it names goes with the leftovers below
    if (ec) return Status(ErrorCode::kIoError, "removing the pointer in " + dir.string());
    if (Status s = fsync_dir(dir); !s.ok()) return s;
    pointer = std::optional<std::string>();
  }
  const bool fresh = !pointer->has_value();
  std::uint64_t generation = 1;
  const std::string name = fresh ? db_name(generation) : **pointer;
  if (!fresh) {
    (void)parse_db_name(name, &generation);
    if (!fs::is_directory(dir / name, ec)) {
      return Status(ErrorCode::kCorruption,
                    (dir / kPointerFile).string() + " names " + name + ", which does not exist");
    }
  }

  // Leftovers of an interrupted restore (or of a first open that never finished).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    const bool leftover_db = file.starts_with(kDbPrefix) && (fresh || file != name);
    if (leftover_db || file == kPointerTemp) fs::remove_all(entry.path(), ec);
  }
  if (ec) return Status(ErrorCode::kIoError, "cleaning " + dir.string() + ": " + ec.message());

  auto db = open_leveldb(dir / name, fresh);
  if (!db.ok()) return db.status();
  auto applied = read_applied(**db, nullptr);
  if (!applied.ok()) return applied.status();
  if (fresh) {
    if (Status s = write_pointer(dir, name); !s.ok()) return s;
  }
  if (!unclean) {
    UniqueFd fd(::open(dirty.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) return io_error("creating " + dirty.string(), errno);
    if (::fsync(fd.get()) != 0) return io_error("fsync of " + dirty.string(), errno);
  }
  if (Status s = fsync_dir(dir); !s.ok()) return s;  // DIRTY is durable before any apply
  auto database = std::make_shared<Database>(std::move(db).value(), dir / name);
  return std::unique_ptr<KvStateMachine>(new KvStateMachine(
      dir, lock.release(), std::move(database), generation, applied->index(), applied->term()));
}

KvStateMachine::KvStateMachine(fs::path dir, int lock_fd, std::shared_ptr<Database> db,
                               std::uint64_t generation, Index index, Term term)
    : dir_(std::move(dir)),
      lock_fd_(lock_fd),
      db_(std::move(db)),
      generation_(generation),
      applied_index_(index),
      applied_term_(term) {}

KvStateMachine::~KvStateMachine() {
  {
    std::lock_guard lock(mutex_);
    // A clean close: one synced (empty) write makes every unsynced apply before it durable
    // (LevelDB syncs its log, which holds them all), then DIRTY goes. If the sync fails,
    // DIRTY stays and the next open starts empty.
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::WriteBatch empty;
    const bool synced = db_ && db_->db().Write(sync, &empty).ok();
    db_.reset();
    std::error_code ec;
    if (synced && fs::remove(dir_ / kDirtyFile, ec) && !ec) (void)fsync_dir(dir_);
  }
  ::close(lock_fd_);
}

std::shared_ptr<KvStateMachine::Database> KvStateMachine::database() const {
  std::lock_guard lock(mutex_);
  return db_;
}

std::string KvStateMachine::execute(const std::string& data, Database& db,
                                    leveldb::WriteBatch* batch,
                                    std::unordered_map<std::string, bool>* written) {
  pb::CommandResult result;
  pb::Command command;
  auto exists = [&db, written](const std::string& key) {
    if (auto it = written->find(key); it != written->end()) return it->second;
    std::string ignored;
    leveldb::Status s = db.db().Get(leveldb::ReadOptions(), key, &ignored);
    if (s.IsNotFound()) return false;
    if (!s.ok()) fatal("reading " + key + ": " + s.ToString());
    return true;
  };
  if (!command.ParseFromString(data)) {
    result.set_code(pb::CommandResult::INVALID_COMMAND);
    result.set_error("the entry is not a kv.pb.Command (undecodable); applied as a no-op");
    return result.SerializeAsString();
  }
  switch (command.op_case()) {
    case pb::Command::kPut: {
      const std::string key = data_key(command.put().key());
      if (command.put().report_existed()) result.set_existed(exists(key));
      batch->Put(key, command.put().value());
      (*written)[key] = true;
      break;
    }
    case pb::Command::kDelete: {
      const std::string key = data_key(command.delete_().key());
      result.set_existed(exists(key));
      batch->Delete(key);
      (*written)[key] = false;
      break;
    }
    case pb::Command::kSetMember: {
      if (command.set_member().node_id().empty()) {
        result.set_code(pb::CommandResult::INVALID_COMMAND);
        result.set_error("set_member without a node id; applied as a no-op");
        break;
      }
      const std::string key = member_key(command.set_member().node_id());
      result.set_existed(exists(key));
      if (command.set_member().http_address().empty()) {
        batch->Delete(key);
        (*written)[key] = false;
      } else {
        batch->Put(key, command.set_member().http_address());
        (*written)[key] = true;
      }
      break;
    }
    case pb::Command::OP_NOT_SET:
      result.set_code(pb::CommandResult::INVALID_COMMAND);
      result.set_error("the command has no operation this server knows; applied as a no-op");
      break;
  }
  return result.SerializeAsString();
}

std::string KvStateMachine::apply(const raft::pb::Entry& entry) {
  std::vector<raft::pb::Entry> one{entry};
  return std::move(apply_batch(one).front());
}

std::vector<std::string> KvStateMachine::apply_batch(const std::vector<raft::pb::Entry>& entries) {
  std::vector<std::string> responses(entries.size());
  Database& db = *db_;  // only this thread replaces db_
  leveldb::WriteBatch batch;
  std::unordered_map<std::string, bool> written;
  const raft::pb::Entry* last = nullptr;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const raft::pb::Entry& entry = entries[k];
    // The host never repeats an index; should one come anyway, its effects are already here.
    if (entry.index() <= applied_index_.load() || (last && entry.index() <= last->index())) {
      continue;
    }
    if (entry.type() == raft::pb::ENTRY_NORMAL) {
      responses[k] = execute(entry.data(), db, &batch, &written);
    }
    last = &entry;
  }
  if (last == nullptr) return responses;
  put_applied(batch, last->index(), last->term());
  leveldb::Status s = db.db().Write(leveldb::WriteOptions(), &batch);
  if (!s.ok())
    fatal("writing entries up to " + std::to_string(last->index()) + ": " + s.ToString());
  applied_term_.store(last->term());
  applied_index_.store(last->index());
  return responses;
}

Result<std::unique_ptr<raft::StateMachineSnapshot>> KvStateMachine::snapshot() {
  std::shared_ptr<Database> db = database();
  const leveldb::Snapshot* snap = db->db().GetSnapshot();
  auto applied = read_applied(db->db(), snap);
  if (!applied.ok()) {
    db->db().ReleaseSnapshot(snap);
    return applied.status();
  }
  return std::unique_ptr<raft::StateMachineSnapshot>(
      new KvSnapshotView(std::move(db), snap, applied->index(), applied->term()));
}

Status KvStateMachine::restore(const raft::pb::SnapshotMetadata& metadata,
                               raft::SnapshotSource& source) {
  const std::uint64_t generation = generation_ + 1;
  const std::string name = db_name(generation);
  const fs::path final_path = dir_ / name;
  const fs::path temp_path = dir_ / (name + std::string(kTempSuffix));
  std::error_code ec;
  fs::remove_all(temp_path, ec);
  fs::remove_all(final_path, ec);

  // 1. Load the stream into a fresh database under a temporary name, synced.
  {
    auto fresh = open_leveldb(temp_path, /*create=*/true);
    if (!fresh.ok()) return fresh.status();
    Status s = load_stream(source, metadata, **fresh);
    fresh->reset();  // closed before it is renamed or removed
    if (!s.ok()) {
      fs::remove_all(temp_path, ec);
      return s;
    }
  }
  // 2. Give it its real name (a crash from here to 4 leaves it as a leftover of open()).
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    Status s = io_error("renaming " + temp_path.string(), errno);
    fs::remove_all(temp_path, ec);
    return s;
  }
  if (Status s = fsync_dir(dir_); !s.ok()) return s;
  // 3. Open it before pointing at it, so that a database that does not open is never live.
  auto reopened = open_leveldb(final_path, /*create=*/false);
  if (!reopened.ok()) {
    fs::remove_all(final_path, ec);
    return reopened.status();
  }
  auto database = std::make_shared<Database>(std::move(reopened).value(), final_path);
  // 4. The atomic switch: CURRENT names the new database.
  if (Status s = write_pointer(dir_, name); !s.ok()) return s;
  // 5. Swap it in; the old one is closed and deleted once its last reader lets go.
  std::shared_ptr<Database> old;
  {
    std::lock_guard lock(mutex_);
    old = std::exchange(db_, std::move(database));
  }
  old->mark_obsolete();
  old.reset();
  generation_ = generation;
  applied_term_.store(metadata.term());
  applied_index_.store(metadata.index());
  return Status::ok_status();
}

Result<std::optional<std::string>> KvStateMachine::get(std::string_view key) const {
  std::shared_ptr<Database> db = database();
  std::string value;
  leveldb::Status s = db->db().Get(leveldb::ReadOptions(), data_key(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_leveldb(s, "reading a key");
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<std::string>> KvStateMachine::member_address(std::string_view node_id) const {
  std::shared_ptr<Database> db = database();
  std::string value;
  leveldb::Status s = db->db().Get(leveldb::ReadOptions(), member_key(node_id), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_leveldb(s, "reading a member record");
  return std::optional<std::string>(std::move(value));
}

Result<bool> KvStateMachine::has_user_data() const {
  std::shared_ptr<Database> db = database();
  leveldb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db->db().NewIterator(options));
  const leveldb::Slice prefix(kDataPrefix.data(), kDataPrefix.size());
  it->Seek(prefix);
  const bool found = it->Valid() && it->key().starts_with(prefix);
  if (Status s = from_leveldb(it->status(), "reading the database"); !s.ok()) return s;
  return found;
}

}  // namespace kv
