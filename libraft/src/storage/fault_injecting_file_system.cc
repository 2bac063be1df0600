#include "storage/fault_injecting_file_system.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

namespace raft {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : path) {
    if (c == '/') {
      if (!part.empty() && part != ".") parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty() && part != ".") parts.push_back(part);
  return parts;
}

std::string normalize(const std::string& path) {
  std::string out;
  for (const auto& part : split_path(path)) out += "/" + part;
  return out.empty() ? "/" : out;
}

Status io_error(std::string message) { return Status(ErrorCode::kIoError, std::move(message)); }

Status not_found(std::string_view call, const std::string& path) {
  return Status(ErrorCode::kNotFound, fmt::format("{} {}: no such file or directory", call, path));
}

}  // namespace

std::string_view to_string(FaultInjectingFileSystem::Op op) {
  using Op = FaultInjectingFileSystem::Op;
  switch (op) {
    case Op::kOpenWritable:
      return "open_writable";
    case Op::kCreateWritable:
      return "create_writable";
    case Op::kOpenReadable:
      return "open_readable";
    case Op::kAppend:
      return "append";
    case Op::kSync:
      return "sync";
    case Op::kPreallocate:
      return "preallocate";
    case Op::kTruncate:
      return "truncate";
    case Op::kClose:
      return "close";
    case Op::kRead:
      return "read";
    case Op::kRename:
      return "rename";
    case Op::kRemove:
      return "remove";
    case Op::kRemoveAll:
      return "remove_all";
    case Op::kSyncDir:
      return "sync_dir";
    case Op::kCreateDirs:
      return "create_dirs";
    case Op::kList:
      return "list";
    case Op::kExists:
      return "exists";
    case Op::kLock:
      return "lock";
    case Op::kCount:
      break;
  }
  return "unknown";
}

// A file or a directory. Guarded by the file system's mutex.
struct FaultInjectingFileSystem::Node {
  bool is_dir = false;
  std::string data;             // file: current content
  std::string synced;           // file: content at the last sync
  bool cut_since_sync = false;  // file: truncated (or emptied) since the last sync
  std::map<std::string, std::shared_ptr<Node>> live;     // directory: current entries
  std::map<std::string, std::shared_ptr<Node>> durable;  // directory: entries at last sync_dir
};

// State shared by the file objects: which file system, node and generation they belong to.
class FaultInjectingFileSystem::File {
 public:
  File(FaultInjectingFileSystem* fs, std::shared_ptr<Node> node, std::string path)
      : fs_(fs), node_(std::move(node)), path_(std::move(path)), generation_(fs->generation_) {}

 protected:
  // Counts the call, applies faults and refuses files from before a crash. Holds the mutex.
  Status enter(Op op) const {
    Status status = fs_->enter(op, path_);
    if (!status.ok()) return status;
    if (generation_ != fs_->generation_) {
      return io_error(
          fmt::format("{} {}: file was opened before a simulated crash", to_string(op), path_));
    }
    return Status();
  }

  FaultInjectingFileSystem* fs_;
  std::shared_ptr<Node> node_;
  std::string path_;
  std::uint64_t generation_;
};

class FaultInjectingFileSystem::Writable final : public WritableFile, private File {
 public:
  using File::File;

  Status append(std::string_view data) override {
    std::lock_guard lock(fs_->mutex_);
    return append_locked(data);
  }

  Status append_all(const std::vector<std::string_view>& parts) override {
    std::string joined;
    for (auto part : parts) joined.append(part);
    std::lock_guard lock(fs_->mutex_);
    return append_locked(joined);
  }

  Status write_at(std::uint64_t offset, std::string_view data) override {
    std::lock_guard lock(fs_->mutex_);
    return write_locked(offset, data);
  }

  Status sync() override {
    std::unique_lock lock(fs_->mutex_);
    if (fs_->syncs_held_) {
      ++fs_->syncs_waiting_;
      fs_->syncs_released_.wait(lock, [this] { return !fs_->syncs_held_; });
      --fs_->syncs_waiting_;
    }
    if (Status s = checked(Op::kSync); !s.ok()) return s;
    node_->synced = node_->data;
    node_->cut_since_sync = false;
    return Status();
  }

  Status preallocate(std::uint64_t, std::uint64_t) override {
    std::lock_guard lock(fs_->mutex_);
    return checked(Op::kPreallocate);
  }

  Status truncate(std::uint64_t size) override {
    std::lock_guard lock(fs_->mutex_);
    if (Status s = checked(Op::kTruncate); !s.ok()) return s;
    node_->data.resize(size, '\0');
    node_->cut_since_sync = true;
    return Status();
  }

  Status close() override {
    std::lock_guard lock(fs_->mutex_);
    if (closed_) return Status();
    Status s = enter(Op::kClose);
    closed_ = true;
    return s;
  }

  std::uint64_t size() const override {
    std::lock_guard lock(fs_->mutex_);
    return node_->data.size();
  }

 private:
  Status checked(Op op) {
    if (Status s = enter(op); !s.ok()) return s;
    if (closed_) return io_error(fmt::format("{} {}: file is closed", to_string(op), path_));
    return Status();
  }

  Status append_locked(std::string_view data) { return write_locked(node_->data.size(), data); }

  // Appends and positional writes; only the bytes that grow the file take space.
  Status write_locked(std::uint64_t offset, std::string_view data) {
    if (Status s = checked(Op::kAppend); !s.ok()) return s;
    const std::uint64_t end = offset + data.size();
    const std::uint64_t growth = end > node_->data.size() ? end - node_->data.size() : 0;
    if (fs_->space_limited_) {
      if (growth > fs_->space_left_) {
        return io_error(fmt::format("write {}: no space left on device (simulated)", path_));
      }
      fs_->space_left_ -= growth;
    }
    if (end > node_->data.size()) node_->data.resize(end, '\0');
    node_->data.replace(offset, data.size(), data);
    fs_->bytes_appended_ += data.size();
    return Status();
  }

  bool closed_ = false;
};

class FaultInjectingFileSystem::Readable final : public ReadableFile, private File {
 public:
  using File::File;

  Status read(std::uint64_t offset, std::size_t n, std::string* out) const override {
    std::lock_guard lock(fs_->mutex_);
    out->clear();
    if (Status s = enter(Op::kRead); !s.ok()) return s;
    if (offset < node_->data.size()) *out = node_->data.substr(offset, n);
    return Status();
  }

  Result<std::uint64_t> size() const override {
    std::lock_guard lock(fs_->mutex_);
    if (generation_ != fs_->generation_) {
      return io_error(fmt::format("size {}: file was opened before a simulated crash", path_));
    }
    return static_cast<std::uint64_t>(node_->data.size());
  }
};

class FaultInjectingFileSystem::Lock final : public FileLock {
 public:
  Lock(FaultInjectingFileSystem* fs, std::string path, std::uint64_t id)
      : fs_(fs), path_(std::move(path)), id_(id) {}
  ~Lock() override { fs_->unlock(path_, id_); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
  std::uint64_t id_;
};

FaultInjectingFileSystem::FaultInjectingFileSystem(std::uint64_t seed)
    : root_(std::make_shared<Node>()), rng_(seed) {
  root_->is_dir = true;
}

FaultInjectingFileSystem::~FaultInjectingFileSystem() = default;

void FaultInjectingFileSystem::hold_syncs() {
  std::lock_guard lock(mutex_);
  syncs_held_ = true;
}

void FaultInjectingFileSystem::release_syncs() {
  {
    std::lock_guard lock(mutex_);
    syncs_held_ = false;
  }
  syncs_released_.notify_all();
}

std::uint64_t FaultInjectingFileSystem::held_syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_waiting_;
}

Status FaultInjectingFileSystem::enter(Op op, const std::string& what) {
  const auto kind = static_cast<int>(op);
  ++calls_;
  ++counts_[kind];
  ++fault_calls_;
  const std::uint64_t nth = ++fault_counts_[kind];
  if (down_) {
    return io_error(fmt::format("{} {}: the simulated machine is down", to_string(op), what));
  }
  if (crash_at_call_ != 0 && fault_calls_ >= crash_at_call_) {
    crash_at_call_ = 0;
    crash_locked();
    down_ = true;
    return io_error(fmt::format("{} {}: simulated power loss", to_string(op), what));
  }
  auto [begin, end] = faults_.equal_range(op);
  for (auto it = begin; it != end; ++it) {
    if (nth == it->second.at || (it->second.sticky && nth > it->second.at)) {
      if (!it->second.sticky) faults_.erase(it);
      return io_error(fmt::format("{} {}: injected I/O error", to_string(op), what));
    }
  }
  return Status();
}

Result<std::shared_ptr<FaultInjectingFileSystem::Node>> FaultInjectingFileSystem::resolve(
    const std::string& path) const {
  std::shared_ptr<Node> node = root_;
  for (const auto& part : split_path(path)) {
    if (!node->is_dir) return not_found("resolve", path);
    auto it = node->live.find(part);
    if (it == node->live.end()) return not_found("resolve", path);
    node = it->second;
  }
  return node;
}

Result<std::pair<std::shared_ptr<FaultInjectingFileSystem::Node>, std::string>>
FaultInjectingFileSystem::resolve_parent(const std::string& path) const {
  auto parts = split_path(path);
  if (parts.empty()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("{}: names the root", path));
  }
  std::string name = parts.back();
  parts.pop_back();
  std::string parent;
  for (const auto& part : parts) parent += "/" + part;
  auto dir = resolve(parent);
  if (!dir.ok() || !(*dir)->is_dir) return not_found("resolve parent of", path);
  return std::make_pair(*dir, name);
}

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::open_writable_locked(
    const std::string& path, bool truncate, Op op) {
  if (Status s = enter(op, path); !s.ok()) return s;
  auto parent = resolve_parent(path);
  if (!parent.ok()) return not_found(to_string(op), path);
  auto& [dir, name] = *parent;
  auto it = dir->live.find(name);
  std::shared_ptr<Node> node;
  if (it == dir->live.end()) {
    node = std::make_shared<Node>();
    dir->live[name] = node;
  } else {
    node = it->second;
    if (node->is_dir) return io_error(fmt::format("{} {}: is a directory", to_string(op), path));
    if (truncate) {
      node->data.clear();
      node->cut_since_sync = true;
    }
  }
  return std::unique_ptr<WritableFile>(std::make_unique<Writable>(this, node, path));
}

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::open_writable(
    const std::string& path) {
  std::lock_guard lock(mutex_);
  return open_writable_locked(path, false, Op::kOpenWritable);
}

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::create_writable(
    const std::string& path) {
  std::lock_guard lock(mutex_);
  return open_writable_locked(path, true, Op::kCreateWritable);
}

Result<std::unique_ptr<ReadableFile>> FaultInjectingFileSystem::open_readable(
    const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kOpenReadable, path); !s.ok()) return s;
  auto node = resolve(path);
  if (!node.ok()) return not_found("open_readable", path);
  if ((*node)->is_dir) return io_error(fmt::format("open_readable {}: is a directory", path));
  return std::unique_ptr<ReadableFile>(std::make_unique<Readable>(this, *node, path));
}

Status FaultInjectingFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mutex_);
  const std::string what = fmt::format("{} -> {}", from, to);
  if (Status s = enter(Op::kRename, what); !s.ok()) return s;
  auto source = resolve_parent(from);
  auto target = resolve_parent(to);
  if (!source.ok() || !target.ok()) return not_found("rename", what);
  auto& [from_dir, from_name] = *source;
  auto& [to_dir, to_name] = *target;
  auto it = from_dir->live.find(from_name);
  if (it == from_dir->live.end()) return not_found("rename", what);
  std::shared_ptr<Node> node = it->second;
  if (node->is_dir && normalize(to).starts_with(normalize(from) + "/")) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("rename {}: target is inside the source", what));
  }
  if (auto existing = to_dir->live.find(to_name); existing != to_dir->live.end()) {
    const std::shared_ptr<Node>& old = existing->second;
    if (old == node) return Status();
    if (old->is_dir != node->is_dir) {
      return io_error(fmt::format("rename {}: cannot replace a {} with a {}", what,
                                  old->is_dir ? "directory" : "file",
                                  node->is_dir ? "directory" : "file"));
    }
    if (old->is_dir && !old->live.empty()) {
      return io_error(fmt::format("rename {}: target directory is not empty", what));
    }
  }
  from_dir->live.erase(from_name);
  to_dir->live[to_name] = node;
  return Status();
}

Status FaultInjectingFileSystem::remove(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kRemove, path); !s.ok()) return s;
  auto parent = resolve_parent(path);
  if (!parent.ok()) return not_found("remove", path);
  auto& [dir, name] = *parent;
  auto it = dir->live.find(name);
  if (it == dir->live.end()) return not_found("remove", path);
  if (it->second->is_dir && !it->second->live.empty()) {
    return io_error(fmt::format("remove {}: directory is not empty", path));
  }
  dir->live.erase(it);
  return Status();
}

Status FaultInjectingFileSystem::remove_all(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kRemoveAll, path); !s.ok()) return s;
  auto parent = resolve_parent(path);
  if (!parent.ok()) {
    if (parent.status().code() == ErrorCode::kInvalidArgument) return parent.status();
    return Status();  // nothing to remove
  }
  parent->first->live.erase(parent->second);
  return Status();
}

Status FaultInjectingFileSystem::sync_dir(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kSyncDir, path); !s.ok()) return s;
  auto node = resolve(path);
  if (!node.ok()) return not_found("sync_dir", path);
  if (!(*node)->is_dir) return io_error(fmt::format("sync_dir {}: not a directory", path));
  (*node)->durable = (*node)->live;
  return Status();
}

Status FaultInjectingFileSystem::create_dirs(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kCreateDirs, path); !s.ok()) return s;
  std::shared_ptr<Node> node = root_;
  for (const auto& part : split_path(path)) {
    auto it = node->live.find(part);
    if (it == node->live.end()) {
      auto dir = std::make_shared<Node>();
      dir->is_dir = true;
      node->live[part] = dir;
      node->durable[part] = dir;  // simplification: directories are durable at once
      node = dir;
    } else if (!it->second->is_dir) {
      return io_error(fmt::format("create_dirs {}: {} is a file", path, part));
    } else {
      node = it->second;
    }
  }
  return Status();
}

Result<std::vector<std::string>> FaultInjectingFileSystem::list(const std::string& dir) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kList, dir); !s.ok()) return s;
  auto node = resolve(dir);
  if (!node.ok()) return not_found("list", dir);
  if (!(*node)->is_dir) return io_error(fmt::format("list {}: not a directory", dir));
  std::vector<std::string> names;
  for (const auto& [name, child] : (*node)->live) names.push_back(name);
  return names;
}

Result<bool> FaultInjectingFileSystem::exists(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kExists, path); !s.ok()) return s;
  return resolve(path).ok();
}

Result<std::unique_ptr<FileLock>> FaultInjectingFileSystem::lock(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (Status s = enter(Op::kLock, path); !s.ok()) return s;
  const std::string key = normalize(path);
  if (locks_.contains(key)) {
    return io_error(fmt::format("lock {}: already locked: the directory is in use", path));
  }
  auto parent = resolve_parent(path);
  if (!parent.ok()) return not_found("lock", path);
  auto& [dir, name] = *parent;
  auto it = dir->live.find(name);
  if (it == dir->live.end()) {
    dir->live[name] = std::make_shared<Node>();  // the lock file, as flock(2) needs one
  } else if (it->second->is_dir) {
    return io_error(fmt::format("lock {}: is a directory", path));
  }
  const std::uint64_t id = next_lock_id_++;
  locks_[key] = id;
  return std::unique_ptr<FileLock>(std::make_unique<Lock>(this, key, id));
}

void FaultInjectingFileSystem::unlock(const std::string& path, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = locks_.find(path);
  if (it != locks_.end() && it->second == id) locks_.erase(it);
}

void FaultInjectingFileSystem::crash() {
  std::lock_guard lock(mutex_);
  crash_locked();
}

void FaultInjectingFileSystem::crash_locked() {
  ++generation_;
  locks_.clear();
  std::set<Node*> seen;
  std::vector<std::shared_ptr<Node>> pending{root_};
  while (!pending.empty()) {
    std::shared_ptr<Node> node = pending.back();
    pending.pop_back();
    if (!seen.insert(node.get()).second) continue;
    if (node->is_dir) {
      node->live = node->durable;
      for (const auto& [name, child] : node->live) pending.push_back(child);
      continue;
    }
    const std::string& synced = node->synced;
    std::string& data = node->data;
    // The unsynced change is the range [from, to) of `data`, which may tear: either the file
    // only grew, or (no truncation since the sync) it was written in place by write_at() and
    // did not shrink. Any other change falls back to the synced content.
    const bool grew_only =
        data.size() > synced.size() && data.compare(0, synced.size(), synced) == 0;
    const bool torn =
        grew_only || (!node->cut_since_sync && data.size() >= synced.size() && data != synced);
    std::size_t from = 0;
    std::size_t to = data.size();
    if (torn) {
      while (from < synced.size() && data[from] == synced[from]) ++from;
      if (data.size() == synced.size()) {
        while (to > from && data[to - 1] == synced[to - 1]) --to;
      }
    }
    if (!torn || crash_mode_ == CrashMode::kDropUnsynced) {
      data = synced;
    } else if (crash_mode_ == CrashMode::kTearTail) {
      // A prefix of the changed range survives; the rest is as it was at the sync.
      const std::size_t keep = from + rng_() % (to - from + 1);
      if (keep < synced.size()) {
        data.replace(keep, synced.size() - keep, synced, keep, synced.size() - keep);
      }
      data.resize(std::max(keep, synced.size()));
    } else {
      // The changed range's blocks reached the disk, their data did not.
      std::fill(data.begin() + static_cast<std::ptrdiff_t>(from),
                data.begin() + static_cast<std::ptrdiff_t>(to), '\0');
    }
    node->cut_since_sync = false;
    node->synced = node->data;  // what survived is now on the platter
  }
}

void FaultInjectingFileSystem::set_crash_mode(CrashMode mode) {
  std::lock_guard lock(mutex_);
  crash_mode_ = mode;
}

void FaultInjectingFileSystem::fail_nth(Op op, std::uint64_t n) {
  std::lock_guard lock(mutex_);
  faults_.emplace(op, Fault{fault_counts_[static_cast<int>(op)] + n, false});
}

void FaultInjectingFileSystem::fail_from(Op op, std::uint64_t n) {
  std::lock_guard lock(mutex_);
  faults_.emplace(op, Fault{fault_counts_[static_cast<int>(op)] + n, true});
}

void FaultInjectingFileSystem::set_space_limit(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  space_limited_ = true;
  space_left_ = bytes;
}

void FaultInjectingFileSystem::schedule_crash(std::uint64_t n) {
  std::lock_guard lock(mutex_);
  crash_at_call_ = n == 0 ? 0 : fault_calls_ + n;
}

bool FaultInjectingFileSystem::is_down() const {
  std::lock_guard lock(mutex_);
  return down_;
}

void FaultInjectingFileSystem::restart() {
  std::lock_guard lock(mutex_);
  down_ = false;
}

void FaultInjectingFileSystem::clear_faults() {
  std::lock_guard lock(mutex_);
  faults_.clear();
  space_limited_ = false;
  crash_at_call_ = 0;
}

std::uint64_t FaultInjectingFileSystem::count(Op op) const {
  std::lock_guard lock(mutex_);
  return counts_[static_cast<int>(op)];
}

std::uint64_t FaultInjectingFileSystem::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::uint64_t FaultInjectingFileSystem::bytes_appended() const {
  std::lock_guard lock(mutex_);
  return bytes_appended_;
}

void FaultInjectingFileSystem::reset_counts() {
  std::lock_guard lock(mutex_);
  for (auto& c : counts_) c = 0;
  calls_ = 0;
  bytes_appended_ = 0;
}

Result<std::string> FaultInjectingFileSystem::contents(const std::string& path) const {
  std::lock_guard lock(mutex_);
  auto node = resolve(path);
  if (!node.ok()) return not_found("contents", path);
  if ((*node)->is_dir) return io_error(fmt::format("contents {}: is a directory", path));
  return (*node)->data;
}

Status FaultInjectingFileSystem::set_contents(const std::string& path, const std::string& data) {
  std::lock_guard lock(mutex_);
  auto node = resolve(path);
  if (!node.ok()) return not_found("set_contents", path);
  if ((*node)->is_dir) return io_error(fmt::format("set_contents {}: is a directory", path));
  (*node)->data = data;
  (*node)->synced = data;
  return Status();
}

}  // namespace raft
