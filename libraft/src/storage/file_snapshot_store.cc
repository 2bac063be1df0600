#include "storage/file_snapshot_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>
#include <utility>

#include "storage/binary_codec.h"

namespace raft {

namespace {

constexpr std::string_view kMagic = "RAFTSNAP";
constexpr std::uint32_t kVersion = 1;
constexpr std::string_view kSnapPrefix = "snap-";
constexpr std::string_view kTmpPrefix = "tmp-";
constexpr std::size_t kDigits = 20;
constexpr std::size_t kVerifyChunk = 1 << 20;

using codec::read_file;

bool parse_digits(std::string_view s, std::uint64_t* out) {
  if (s.size() != kDigits) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

// Parses "snap-<term>-<index>"; false for any other name.
bool parse_id(std::string_view id, Term* term, Index* index) {
  if (id.size() != kSnapPrefix.size() + 2 * kDigits + 1 || !id.starts_with(kSnapPrefix) ||
      id[kSnapPrefix.size() + kDigits] != '-') {
    return false;
  }
  return parse_digits(id.substr(kSnapPrefix.size(), kDigits), term) &&
         parse_digits(id.substr(kSnapPrefix.size() + kDigits + 1), index);
}

std::string encode_meta(const SnapshotMeta& meta, std::uint32_t data_crc) {
  codec::ByteWriter payload;
  payload.put_u64(meta.index);
  payload.put_u64(meta.term);
  payload.put_u64(meta.size);
  payload.put_u32(data_crc);
  std::string configuration;
  meta.configuration.SerializeToString(&configuration);
  payload.put_string(configuration);
  return codec::frame(kMagic, kVersion, payload.buffer());
}

// Returns "" or what is wrong.
std::string decode_meta(std::string_view file, SnapshotMeta* meta, std::uint32_t* data_crc) {
  std::string_view payload;
  std::string error = codec::unframe(file, kMagic, kVersion, &payload);
  if (!error.empty()) return error;
  codec::ByteReader r(payload);
  std::string configuration;
  if (!r.get_u64(&meta->index) || !r.get_u64(&meta->term) || !r.get_u64(&meta->size) ||
      !r.get_u32(data_crc) || !r.get_string(&configuration) || r.remaining() != 0) {
    return "payload has the wrong length";
  }
  if (!meta->configuration.ParseFromString(configuration)) return "unparseable configuration";
  return "";
}

}  // namespace

// Streams the data of a new snapshot into its temporary directory.
class FileSnapshotStore::Writer final : public SnapshotWriter {
 public:
  Writer(FileSnapshotStore* store, std::string tmp_dir, SnapshotMeta meta,
         std::unique_ptr<WritableFile> data)
      : store_(store),
        tmp_dir_(std::move(tmp_dir)),
        meta_(std::move(meta)),
        data_(std::move(data)) {}

  ~Writer() override {
    if (!committed_) (void)abort();
  }

  Status write(std::string_view chunk) override {
    if (Status s = usable("write"); !s.ok()) return s;
    if (Status s = data_->append(chunk); !s.ok()) return s;
    crc_ = codec::crc32(chunk, crc_);
    meta_.size += chunk.size();
    return Status();
  }

  Result<SnapshotMeta> commit() override {
    if (Status s = usable("commit"); !s.ok()) return s;
    FileSystem& fs = store_->fs_;
    if (Status s = data_->sync(); !s.ok()) return s;
    if (Status s = data_->close(); !s.ok()) return s;
    auto meta_file = fs.create_writable(tmp_dir_ + "/meta");
    if (!meta_file.ok()) return meta_file.status();
    if (Status s = (*meta_file)->append(encode_meta(meta_, crc_)); !s.ok()) return s;
    if (Status s = (*meta_file)->sync(); !s.ok()) return s;
    if (Status s = (*meta_file)->close(); !s.ok()) return s;
    if (Status s = fs.sync_dir(tmp_dir_); !s.ok()) return s;
    auto installed = store_->install(tmp_dir_, meta_);
    if (installed.ok()) committed_ = true;
    return installed;
  }

  Status abort() override {
    if (committed_) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("snapshot {} is already committed", meta_.id));
    }
    aborted_ = true;
    if (data_) {
      (void)data_->close();
      data_.reset();
    }
    return store_->fs_.remove_all(tmp_dir_);
  }

 private:
  Status usable(std::string_view call) const {
    if (committed_ || aborted_) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} of snapshot {}: the writer is already {}", call, meta_.id,
                                committed_ ? "committed" : "aborted"));
    }
    return Status();
  }

  FileSnapshotStore* store_;
  const std::string tmp_dir_;
  SnapshotMeta meta_;
  std::unique_ptr<WritableFile> data_;
  std::uint32_t crc_ = 0;
  bool committed_ = false;
  bool aborted_ = false;
};

// Streams the data of a committed snapshot, verifying its checksum at the end.
class FileSnapshotStore::Reader final : public SnapshotReader {
 public:
  Reader(SnapshotMeta meta, std::uint32_t data_crc, std::string path,
         std::unique_ptr<ReadableFile> data)
      : meta_(std::move(meta)),
        data_crc_(data_crc),
        path_(std::move(path)),
        data_(std::move(data)) {}

  const SnapshotMeta& meta() const override { return meta_; }

  Status read(std::uint64_t offset, std::size_t max_bytes, std::string* out) override {
    out->clear();
    if (offset >= meta_.size) return Status();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes, meta_.size - offset));
    if (Status s = data_->read(offset, n, out); !s.ok()) return s;
    if (out->size() != n) {
      out->clear();
      return Status(ErrorCode::kCorruption,
                    fmt::format("snapshot data {} is shorter than its metadata says ({} bytes)",
                                path_, meta_.size));
    }
    const std::uint64_t end = offset + n;
    if (offset <= checked_upto_ && end > checked_upto_) {
      crc_ = codec::crc32(std::string_view(*out).substr(checked_upto_ - offset), crc_);
      checked_upto_ = end;
    }
    if (end == meta_.size && !verified_) {
      Status s = verify();
      if (!s.ok()) {
        out->clear();
        return s;
      }
    }
    return Status();
  }

 private:
  // Finishes the checksum (reading what the caller skipped) and compares it.
  Status verify() {
    std::string chunk;
    while (checked_upto_ < meta_.size) {
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(kVerifyChunk, meta_.size - checked_upto_));
      if (Status s = data_->read(checked_upto_, n, &chunk); !s.ok()) return s;
      if (chunk.size() != n) {
        return Status(ErrorCode::kCorruption,
                      fmt::format("snapshot data {} is shorter than its metadata says", path_));
      }
      crc_ = codec::crc32(chunk, crc_);
      checked_upto_ += n;
    }
    if (crc_ != data_crc_) {
      return Status(ErrorCode::kCorruption,
                    fmt::format("snapshot data {} is corrupt: checksum mismatch", path_));
    }
    verified_ = true;
    return Status();
  }

  const SnapshotMeta meta_;
  const std::uint32_t data_crc_;
  const std::string path_;
  std::unique_ptr<ReadableFile> data_;
  std::uint64_t checked_upto_ = 0;  // the checksum covers data [0, checked_upto_)
  std::uint32_t crc_ = 0;
  bool verified_ = false;
};

FileSnapshotStore::FileSnapshotStore(FileSystem& fs, std::string dir,
                                     FileSnapshotStoreOptions options,
                                     std::unique_ptr<FileLock> lock)
    : fs_(fs), dir_(std::move(dir)), options_(options), lock_(std::move(lock)) {}

FileSnapshotStore::~FileSnapshotStore() = default;

std::string FileSnapshotStore::snapshot_id(Term term, Index index) {
  return fmt::format("{}{:020}-{:020}", kSnapPrefix, term, index);
}

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(
    FileSystem& fs, const std::string& dir, FileSnapshotStoreOptions options) {
  if (options.retain < 1) {
    return Status(ErrorCode::kInvalidArgument, "snapshot store: retain must be at least 1");
  }
  if (Status s = fs.create_dirs(dir); !s.ok()) return s;
  auto lock = fs.lock(dir + "/LOCK");
  if (!lock.ok()) {
    return Status(lock.status().code(),
                  fmt::format("snapshot store {} is already open (or cannot be locked): {}", dir,
                              lock.status().message()));
  }
  std::unique_ptr<FileSnapshotStore> store(
      new FileSnapshotStore(fs, dir, options, std::move(*lock)));
  auto names = fs.list(dir);
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    if (!name.starts_with(kTmpPrefix)) continue;
    if (Status s = fs.remove_all(dir + "/" + name); !s.ok()) return s;
  }
  // Always, not only after a removal: a snapshot renamed into place by a process that died
  // (or whose sync failed) before the directory was synced is visible but not durable; it
  // is made durable before the log is restored or compacted on its account.
  if (Status s = fs.sync_dir(dir); !s.ok()) return s;
  std::lock_guard guard(store->mutex_);
  if (Status s = store->apply_retention_locked(); !s.ok()) return s;
  return store;
}

Result<std::unique_ptr<SnapshotWriter>> FileSnapshotStore::create(
    Index index, Term term, const pb::Configuration& configuration) {
  std::string tmp_dir;
  {
    std::lock_guard guard(mutex_);
    tmp_dir = fmt::format("{}/{}{:020}-{:020}-{}", dir_, kTmpPrefix, term, index, next_tmp_++);
  }
  if (Status s = fs_.remove_all(tmp_dir); !s.ok()) return s;
  if (Status s = fs_.create_dirs(tmp_dir); !s.ok()) return s;
  auto data = fs_.create_writable(tmp_dir + "/data");
  if (!data.ok()) {
    (void)fs_.remove_all(tmp_dir);
    return data.status();
  }
  SnapshotMeta meta;
  meta.id = snapshot_id(term, index);
  meta.index = index;
  meta.term = term;
  meta.configuration = configuration;
  return std::unique_ptr<SnapshotWriter>(
      std::make_unique<Writer>(this, std::move(tmp_dir), std::move(meta), std::move(*data)));
}

Result<SnapshotMeta> FileSnapshotStore::install(const std::string& tmp_dir,
                                                const SnapshotMeta& meta) {
  std::lock_guard guard(mutex_);
  const std::string final_dir = dir_ + "/" + meta.id;
  auto present = fs_.exists(final_dir);
  if (!present.ok()) return present.status();
  if (*present) {  // committed before: keep the first copy
    if (Status s = fs_.remove_all(tmp_dir); !s.ok()) return s;
    // Its rename may not be durable (the sync after it failed): the caller compacts on it.
    if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;
    return read_meta_locked(meta.id);
  }
  if (Status s = fs_.rename(tmp_dir, final_dir); !s.ok()) return s;
  if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;
  // The snapshot is committed; a failed removal of old ones is retried at the next commit.
  (void)apply_retention_locked();
  return meta;
}

Status FileSnapshotStore::apply_retention_locked() {
  auto committed = committed_locked();
  if (!committed.ok()) return committed.status();
  if (committed->size() <= options_.retain) return Status();
  // Renamed to a temporary name first (one atomic step, synced), then removed: removing the
  // files of snap-X one by one, a crash could leave snap-X without its meta, which open()
  // would refuse as corrupt. A tmp- directory left by a crash is removed at open.
  std::vector<std::string> doomed;
  for (std::size_t i = options_.retain; i < committed->size(); ++i) {
    const std::string from = dir_ + "/" + (*committed)[i].id;
    const std::string to = fmt::format("{}/{}removed-{}", dir_, kTmpPrefix, (*committed)[i].id);
    if (Status s = fs_.remove_all(to); !s.ok()) return s;
    if (Status s = fs_.rename(from, to); !s.ok()) return s;
    doomed.push_back(to);
  }
  if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;
  for (const std::string& path : doomed) {
    if (Status s = fs_.remove_all(path); !s.ok()) return s;
  }
  return fs_.sync_dir(dir_);
}

Result<std::vector<FileSnapshotStore::Named>> FileSnapshotStore::committed_locked() {
  auto names = fs_.list(dir_);
  if (!names.ok()) return names.status();
  std::vector<Named> out;
  for (const auto& name : *names) {
    Named named;
    if (parse_id(name, &named.term, &named.index)) {
      named.id = name;
      out.push_back(std::move(named));
    }
  }
  std::sort(out.begin(), out.end(), [](const Named& a, const Named& b) {
    return std::tie(a.index, a.term) > std::tie(b.index, b.term);
  });
  return out;
}

Result<SnapshotMeta> FileSnapshotStore::read_meta_locked(const std::string& id,
                                                         std::uint32_t* data_crc_out) {
  const std::string path = dir_ + "/" + id + "/meta";
  auto file = read_file(fs_, path);
  if (!file.ok()) {
    if (file.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kCorruption, fmt::format("snapshot metadata {} is missing", path));
    }
    return file.status();
  }
  SnapshotMeta meta;
  std::uint32_t data_crc = 0;
  std::string error = decode_meta(*file, &meta, &data_crc);
  Term term = 0;
  Index index = 0;
  if (error.empty() && (!parse_id(id, &term, &index) || term != meta.term || index != meta.index)) {
    error =
        fmt::format("it describes term {} index {}, not its directory's", meta.term, meta.index);
  }
  if (!error.empty()) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("snapshot metadata {} is corrupt: {}", path, error));
  }
  meta.id = id;
  if (data_crc_out != nullptr) *data_crc_out = data_crc;
  return meta;
}

Result<std::vector<SnapshotMeta>> FileSnapshotStore::list() {
  std::lock_guard guard(mutex_);
  auto committed = committed_locked();
  if (!committed.ok()) return committed.status();
  std::vector<SnapshotMeta> out;
  for (const auto& named : *committed) {
    auto meta = read_meta_locked(named.id);
    if (!meta.ok()) return meta.status();
    out.push_back(std::move(*meta));
  }
  return out;
}

Result<std::unique_ptr<SnapshotReader>> FileSnapshotStore::open(const std::string& id) {
  std::lock_guard guard(mutex_);
  Term term = 0;
  Index index = 0;
  auto present = fs_.exists(dir_ + "/" + id);
  if (!present.ok()) return present.status();
  if (!parse_id(id, &term, &index) || !*present) {
    return Status(ErrorCode::kNotFound, fmt::format("no snapshot {} in {}", id, dir_));
  }
  std::uint32_t data_crc = 0;
  auto meta = read_meta_locked(id, &data_crc);
  if (!meta.ok()) return meta.status();
  const std::string data_path = dir_ + "/" + id + "/data";
  auto data = fs_.open_readable(data_path);
  if (!data.ok()) {
    if (data.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kCorruption, fmt::format("snapshot data {} is missing", data_path));
    }
    return data.status();
  }
  auto size = (*data)->size();
  if (!size.ok()) return size.status();
  if (*size != meta->size) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("snapshot data {} has {} bytes, its metadata says {}", data_path,
                              *size, meta->size));
  }
  return std::unique_ptr<SnapshotReader>(
      std::make_unique<Reader>(std::move(*meta), data_crc, data_path, std::move(*data)));
}

}  // namespace raft
