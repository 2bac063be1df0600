#include "sim/sim_node.h"

#include <fmt/format.h>

#include <utility>

namespace raft::sim {

SimNode::SimNode(NodeId id, const pb::Configuration& configuration)
    : id_(std::move(id)),
      storage_(std::make_unique<MemoryStorage>()),
      applied_configuration_(configuration) {
  // A server outside the initial configuration starts with none: it waits to be added.
  if (configuration.servers_size() > 0) storage_->set_configuration(configuration);
}

Status SimNode::start(Config config) {
  config.id = id_;
  config.applied = applied_index();
  auto created = RawNode::create(config, storage_.get());
  if (!created.ok()) return created.status();
  raw_ = std::move(created).value();
  ++incarnation_;
  return Status::ok_status();
}

void SimNode::crash() {
  raw_.reset();
  partial_metadata_.reset();
  partial_data_.clear();
}

void SimNode::apply(const pb::Entry& entry) {
  applied_.push_back(entry);
  if (entry.type() == pb::ENTRY_CONF_CHANGE) {
    pb::Configuration c;
    // The core parsed it when it was appended; a failure here means the entry was mangled.
    if (c.ParseFromString(entry.data())) applied_configuration_ = std::move(c);
  }
}

const pb::Entry* SimNode::applied_at(Index index) const {
  if (index == 0 || index > applied_index()) return nullptr;
  return &applied_[static_cast<std::size_t>(index - 1)];
}

std::optional<std::string> SimNode::command_at(Index index) const {
  const pb::Entry* e = applied_at(index);
  if (e == nullptr || e->type() != pb::ENTRY_NORMAL) return std::nullopt;
  return e->data();
}

std::string SimNode::encode_entries(const std::vector<pb::Entry>& entries) {
  pb::Message container;
  container.mutable_entries()->Reserve(static_cast<int>(entries.size()));
  for (const pb::Entry& e : entries) *container.add_entries() = e;
  return container.SerializeAsString();
}

Result<std::vector<pb::Entry>> SimNode::decode_entries(const std::string& data) {
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

Status SimNode::take_snapshot(Index trailing) {
  const Index applied = applied_index();
  if (applied == 0 || applied <= storage_->snapshot().index()) return Status::ok_status();
  Status st = storage_->create_snapshot(applied, applied_configuration_, encode_entries(applied_));
  if (!st.ok()) return st;
  const Index compact_to = applied > trailing ? applied - trailing : 0;
  if (compact_to + 1 > storage_->first_index()) return storage_->compact(compact_to);
  return Status::ok_status();
}

Status SimNode::write_snapshot_chunk(const SnapshotChunk& chunk) {
  if (chunk.offset == 0) {
    partial_metadata_ = chunk.metadata;
    partial_data_.clear();
  } else if (!partial_metadata_ || partial_metadata_->index() != chunk.metadata.index() ||
             partial_metadata_->term() != chunk.metadata.term() ||
             chunk.offset != partial_data_.size()) {
    return Status(
        ErrorCode::kCorruption,
        fmt::format("snapshot chunk {}@{} at offset {} does not continue the partial "
                    "snapshot (it holds {} bytes of snapshot {})",
                    chunk.metadata.index(), chunk.metadata.term(), chunk.offset,
                    partial_data_.size(), partial_metadata_ ? partial_metadata_->index() : 0));
  }
  partial_data_ += chunk.data;
  return Status::ok_status();
}

Status SimNode::install_snapshot(const pb::SnapshotMetadata& metadata) {
  if (!partial_metadata_ || partial_metadata_->index() != metadata.index() ||
      partial_metadata_->term() != metadata.term() || partial_data_.size() != metadata.size()) {
    return Status(
        ErrorCode::kCorruption,
        fmt::format("snapshot {}@{} ({} bytes) to install, but the partial snapshot "
                    "holds {} bytes of snapshot {}",
                    metadata.index(), metadata.term(), metadata.size(), partial_data_.size(),
                    partial_metadata_ ? partial_metadata_->index() : 0));
  }
  auto entries = decode_entries(partial_data_);
  if (!entries.ok()) return entries.status();
  if (entries->size() != metadata.index()) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("snapshot {} holds {} entries", metadata.index(), entries->size()));
  }
  storage_->apply_snapshot(metadata, std::move(partial_data_));
  partial_metadata_.reset();
  partial_data_.clear();
  applied_ = std::move(entries).value();
  applied_configuration_ = metadata.configuration();
  return Status::ok_status();
}

}  // namespace raft::sim
