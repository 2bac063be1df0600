// TestStateMachine and AppliedHistory (see test_state_machine.h). Snapshot format: "TSM1",
// then for each key in order: u32 key length, key, u32 value length, value (little endian).
#include "integration/test_state_machine.h"

#include <cstdio>
#include <string_view>

namespace raft::integration {
namespace {

constexpr std::string_view kMagic = "TSM1";
constexpr std::size_t kChunkBytes = 64 * 1024;

void put_u32(std::string* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads a u32 at *pos of `in` if there are 4 bytes; advances *pos.
bool get_u32(std::string_view in, std::size_t* pos, std::uint32_t* v) {
  if (in.size() - *pos < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i) {
    *v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[*pos + i])) << (8 * i);
  }
  *pos += 4;
  return true;
}

// The copy of the map taken at snapshot(), written out on the snapshot thread.
class MapSnapshot final : public StateMachineSnapshot {
 public:
  MapSnapshot(KvMap data, bool fail, std::shared_ptr<TestStateMachine::Gate> gate)
      : data_(std::move(data)), fail_(fail), gate_(std::move(gate)) {}

  Status write_to(SnapshotSink& sink) override {
    {
      std::unique_lock lock(gate_->mu);
      gate_->cv.wait(lock, [&] { return !gate_->held; });
    }
    if (fail_) return Status(ErrorCode::kIoError, "test state machine: snapshot write fails");
    std::string buffer(kMagic);
    for (const auto& [key, value] : data_) {
      put_u32(&buffer, static_cast<std::uint32_t>(key.size()));
      buffer += key;
      put_u32(&buffer, static_cast<std::uint32_t>(value.size()));
      buffer += value;
      if (buffer.size() >= kChunkBytes) {
        if (Status s = sink.write(buffer); !s.ok()) return s;
        buffer.clear();
      }
    }
    if (!buffer.empty()) return sink.write(buffer);
    return Status();
  }

 private:
  const KvMap data_;
  const bool fail_;
  const std::shared_ptr<TestStateMachine::Gate> gate_;
};

}  // namespace

std::string set_command(const std::string& key, const std::string& value) {
  return key + "=" + value;
}

std::string test_key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "k%06d", i);
  return buf;
}

std::string test_value(int i) { return "v" + std::to_string(i); }

void AppliedHistory::record(const NodeId& node, const pb::Entry& entry) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(entry.index(), entry.term(), entry.data());
  if (inserted) return;
  if (it->second.first != entry.term() || it->second.second != entry.data()) {
    violations_.push_back(node + " applied term " + std::to_string(entry.term()) + " data '" +
                          entry.data() + "' at index " + std::to_string(entry.index()) +
                          ", another node applied term " + std::to_string(it->second.first) +
                          " data '" + it->second.second + "'");
  }
}

std::vector<std::string> AppliedHistory::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

TestStateMachine::TestStateMachine(NodeId node, AppliedHistory* history)
    : node_(std::move(node)), history_(history) {}

std::string TestStateMachine::apply(const pb::Entry& entry) {
  const Index previous = applied_index_.load();
  if (entry.index() != previous + 1) {
    violation(node_ + ": index " + std::to_string(entry.index()) + " applied after " +
              std::to_string(previous) + " (expected " + std::to_string(previous + 1) + ")");
  }
  if (history_ != nullptr) history_->record(node_, entry);
  if (entry.type() == pb::ENTRY_NORMAL) {
    const std::string& command = entry.data();
    const std::size_t eq = command.find('=');
    std::lock_guard lock(mutex_);
    if (eq == std::string::npos) {
      data_[command] = "";
    } else {
      data_[command.substr(0, eq)] = command.substr(eq + 1);
    }
    commands_applied_.fetch_add(1);
  }
  if (entry.index() > previous) applied_index_.store(entry.index());
  return entry.type() == pb::ENTRY_NORMAL ? std::to_string(entry.index()) : std::string();
}

void TestStateMachine::hold_snapshot_writes(bool hold) {
  {
    std::lock_guard lock(gate_->mu);
    gate_->held = hold;
  }
  gate_->cv.notify_all();
}

Result<std::unique_ptr<StateMachineSnapshot>> TestStateMachine::snapshot() {
  std::lock_guard lock(mutex_);
  ++snapshots_taken_;
  return std::unique_ptr<StateMachineSnapshot>(
      std::make_unique<MapSnapshot>(data_, snapshot_writes_fail_.load(), gate_));
}

Status TestStateMachine::restore(const pb::SnapshotMetadata& metadata, SnapshotSource& source) {
  if (metadata.index() < applied_index_.load()) {
    violation(node_ + ": restore to index " + std::to_string(metadata.index()) +
              " after applying up to " + std::to_string(applied_index_.load()));
  }
  std::string bytes;
  for (;;) {
    std::string chunk;
    if (Status s = source.read(kChunkBytes, &chunk); !s.ok()) return s;
    if (chunk.empty()) break;
    bytes += chunk;
  }
  if (bytes.compare(0, kMagic.size(), kMagic) != 0) {
    return Status(ErrorCode::kCorruption, "test state machine snapshot: bad magic");
  }
  KvMap restored;
  std::size_t pos = kMagic.size();
  while (pos < bytes.size()) {
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    if (!get_u32(bytes, &pos, &key_size) || bytes.size() - pos < key_size) {
      return Status(ErrorCode::kCorruption, "test state machine snapshot: truncated key");
    }
    std::string key = bytes.substr(pos, key_size);
    pos += key_size;
    if (!get_u32(bytes, &pos, &value_size) || bytes.size() - pos < value_size) {
      return Status(ErrorCode::kCorruption, "test state machine snapshot: truncated value");
    }
    restored[std::move(key)] = bytes.substr(pos, value_size);
    pos += value_size;
  }
  {
    std::lock_guard lock(mutex_);
    data_ = std::move(restored);
  }
  applied_index_.store(metadata.index());
  restores_.fetch_add(1);
  return Status();
}

KvMap TestStateMachine::data() const {
  std::lock_guard lock(mutex_);
  return data_;
}

std::optional<std::string> TestStateMachine::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::size_t TestStateMachine::size() const {
  std::lock_guard lock(mutex_);
  return data_.size();
}

std::vector<std::string> TestStateMachine::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

void TestStateMachine::violation(std::string what) {
  std::lock_guard lock(mutex_);
  violations_.push_back(std::move(what));
}

}  // namespace raft::integration
