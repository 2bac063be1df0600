#include "storage/file_stable_store.h"

#include <fmt/format.h>

#include <utility>

#include "storage/binary_codec.h"

namespace raft {

namespace {

constexpr std::string_view kMagic = "RAFTSTBL";
constexpr std::uint32_t kVersion = 1;

using codec::read_file;

}  // namespace

FileStableStore::FileStableStore(FileSystem& fs, std::string dir, std::unique_ptr<FileLock> lock)
    : fs_(fs),
      dir_(std::move(dir)),
      path_(dir_ + "/stable"),
      tmp_path_(dir_ + "/stable.tmp"),
      lock_(std::move(lock)) {}

Result<std::unique_ptr<FileStableStore>> FileStableStore::open(FileSystem& fs,
                                                               const std::string& dir) {
  if (Status s = fs.create_dirs(dir); !s.ok()) return s;
  auto lock = fs.lock(dir + "/stable.lock");
  if (!lock.ok()) {
    return Status(lock.status().code(),
                  fmt::format("stable store {} is already open (or cannot be locked): {}", dir,
                              lock.status().message()));
  }
  std::unique_ptr<FileStableStore> store(new FileStableStore(fs, dir, std::move(*lock)));
  auto tmp_exists = fs.exists(store->tmp_path_);
  if (!tmp_exists.ok()) return tmp_exists.status();
  if (*tmp_exists) {
    if (Status s = fs.remove(store->tmp_path_); !s.ok()) return s;
  }
  if (Status s = store->read_current(); !s.ok()) return s;
  // With read_current()'s sync of the record: see there.
  if (Status s = fs.sync_dir(dir); !s.ok()) return s;
  return store;
}

Status FileStableStore::read_current() {
  auto present = fs_.exists(path_);
  if (!present.ok()) return present.status();
  if (!*present) {
    state_ = StableState();
    return Status();
  }
  auto data = read_file(fs_, path_);
  if (!data.ok()) return data.status();
  std::string error;
  StableState state;
  if (!decode(*data, &state, &error)) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("stable store record {} is corrupt: {}", path_, error));
  }
  // The record read may not be durable yet (a save() whose directory sync failed, or a
  // process killed right after the rename): it is made durable (the file here, the directory
  // by open()) before the node acts on it, or a node could re-grant a vote that a power loss
  // then takes back, and vote twice.
  auto file = fs_.open_writable(path_);
  if (!file.ok()) return file.status();
  if (Status s = (*file)->sync(); !s.ok()) return s;
  state_ = std::move(state);
  return Status();
}

Result<StableState> FileStableStore::load() {
  std::lock_guard lock(mutex_);
  return state_;
}

Status FileStableStore::save(const StableState& state) {
  std::lock_guard lock(mutex_);
  const std::string image = encode(state);
  auto file = fs_.create_writable(tmp_path_);
  if (!file.ok()) return file.status();
  if (Status s = (*file)->append(image); !s.ok()) return s;
  if (Status s = (*file)->sync(); !s.ok()) return s;
  if (Status s = (*file)->close(); !s.ok()) return s;
  if (Status s = fs_.rename(tmp_path_, path_); !s.ok()) return s;
  if (Status s = fs_.sync_dir(dir_); !s.ok()) return s;
  state_ = state;
  return Status();
}

std::string FileStableStore::encode(const StableState& state) {
  codec::ByteWriter payload;
  payload.put_u64(state.term);
  payload.put_string(state.vote);
  payload.put_u32(static_cast<std::uint32_t>(state.facts.size()));
  for (const auto& [key, value] : state.facts) {
    payload.put_string(key);
    payload.put_string(value);
  }
  return codec::frame(kMagic, kVersion, payload.buffer());
}

bool FileStableStore::decode(std::string_view file, StableState* state, std::string* error) {
  std::string_view payload;
  *error = codec::unframe(file, kMagic, kVersion, &payload);
  if (!error->empty()) return false;
  codec::ByteReader r(payload);
  std::uint32_t facts = 0;
  *state = StableState();
  if (!r.get_u64(&state->term) || !r.get_string(&state->vote) || !r.get_u32(&facts)) {
    *error = "payload too short";
    return false;
  }
  for (std::uint32_t i = 0; i < facts; ++i) {
    std::string key;
    std::string value;
    if (!r.get_string(&key) || !r.get_string(&value)) {
      *error = "payload too short for its facts";
      return false;
    }
    state->facts[std::move(key)] = std::move(value);
  }
  if (r.remaining() != 0) {
    *error = "trailing bytes in the payload";
    return false;
  }
  return true;
}

}  // namespace raft
