#include "sim/sim_state_machine.h"

#include <fmt/format.h>

#include <utility>

namespace raft::sim {
namespace {

// The view snapshot() returns: the applied entries as of snapshot(), shared and immutable.
class SimSnapshotView final : public StateMachineSnapshot {
 public:
  SimSnapshotView(std::shared_ptr<const std::vector<pb::Entry>> entries, Index count)
      : entries_(std::move(entries)), count_(count) {}

  Status write_to(SnapshotSink& sink) override {
    pb::Message chunk;
    std::size_t bytes = 0;
    for (Index k = 0; k < count_; ++k) {
      const pb::Entry& e = (*entries_)[static_cast<std::size_t>(k)];
      *chunk.add_entries() = e;
      bytes += e.ByteSizeLong();
      if (bytes >= SimStateMachine::kWriteChunkBytes) {
        if (Status s = sink.write(chunk.SerializeAsString()); !s.ok()) return s;
        chunk.Clear();
        bytes = 0;
      }
    }
    if (chunk.entries_size() > 0) return sink.write(chunk.SerializeAsString());
    return Status::ok_status();
  }

 private:
  std::shared_ptr<const std::vector<pb::Entry>> entries_;
  Index count_ = 0;  // how many entries were applied at snapshot()
};

}  // namespace

SimStateMachine::SimStateMachine(pb::Configuration configuration)
    : applied_(std::make_shared<std::vector<pb::Entry>>()),
      configuration_(std::move(configuration)) {}

std::string SimStateMachine::apply(const pb::Entry& entry) {
  // A view shares the vector: copy before changing it (copy on write), so the view keeps
  // exactly the entries applied before snapshot().
  if (applied_.use_count() > 1) applied_ = std::make_shared<std::vector<pb::Entry>>(*applied_);
  applied_->push_back(entry);
  if (entry.type() == pb::ENTRY_CONF_CHANGE) {
    pb::Configuration c;
    // The core parsed it when it was appended; a failure here means the entry was mangled.
    if (c.ParseFromString(entry.data())) configuration_ = std::move(c);
  }
  return std::string();
}

Result<std::unique_ptr<StateMachineSnapshot>> SimStateMachine::snapshot() {
  return std::unique_ptr<StateMachineSnapshot>(
      std::make_unique<SimSnapshotView>(applied_, last_applied()));
}

Status SimStateMachine::restore(const pb::SnapshotMetadata& metadata, SnapshotSource& source) {
  // The sim's states are small: the bytes are gathered, then parsed.
  std::string data;
  std::string chunk;
  for (;;) {
    if (Status s = source.read(kWriteChunkBytes, &chunk); !s.ok()) return s;
    if (chunk.empty()) break;
    data += chunk;
  }
  auto entries = decode_entries(data);
  if (!entries.ok()) return entries.status();
  if (entries->size() != metadata.index()) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("snapshot {} holds {} entries", metadata.index(), entries->size()));
  }
  applied_ = std::make_shared<std::vector<pb::Entry>>(std::move(entries).value());
  configuration_ = metadata.configuration();
  return Status::ok_status();
}

void SimStateMachine::reset(pb::Configuration configuration) {
  applied_ = std::make_shared<std::vector<pb::Entry>>();
  configuration_ = std::move(configuration);
}

const pb::Entry* SimStateMachine::applied_at(Index index) const {
  if (index == 0 || index > last_applied()) return nullptr;
  return &(*applied_)[static_cast<std::size_t>(index - 1)];
}

std::string SimStateMachine::encode_entries(const std::vector<pb::Entry>& entries) {
  pb::Message container;
  container.mutable_entries()->Reserve(static_cast<int>(entries.size()));
  for (const pb::Entry& e : entries) *container.add_entries() = e;
  return container.SerializeAsString();
}

Result<std::vector<pb::Entry>> SimStateMachine::decode_entries(const std::string& data) {
  pb::Message container;
  if (!container.ParseFromString(data)) {
    return Status(ErrorCode::kCorruption, "snapshot data does not parse");
  }
  std::vector<pb::Entry> entries(container.entries().begin(), container.entries().end());
  for (std::size_t k = 0; k < entries.size(); ++k) {
    if (entries[k].index() != k + 1) {
      return Status(ErrorCode::kCorruption,
                    fmt::format("snapshot entry {} has index {}", k + 1, entries[k].index()));
    }
  }
  return entries;
}

}  // namespace raft::sim
