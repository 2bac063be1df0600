#include "sim/sim_node.h"

#include <fmt/format.h>

#include <utility>

#include "sim/sim_failure.h"
#include "common/snapshot_adapters.h"

namespace raft::sim {
namespace {

constexpr const char* kDir = "/node";

}  // namespace

// A snapshot captured by begin_snapshot(), waiting for finish_snapshot().
struct SimNode::PendingSnapshot {
  std::unique_ptr<StateMachineSnapshot> view;
  Index index = 0;
  Term term = 0;
  pb::Configuration configuration;
};

SimNode::SimNode(NodeId id, const pb::Configuration& configuration, StorageKind kind,
                 std::uint64_t fs_seed, DurableStorage::Options disk_options)
    : id_(std::move(id)), kind_(kind), disk_options_(disk_options) {
  if (kind_ == StorageKind::kMemory) {
    storage_ = std::make_unique<MemoryStorage>();
    // A server outside the initial configuration starts with none: it waits to be added.
    if (configuration.servers_size() > 0) storage_->set_configuration(configuration);
    initial_configuration_ = configuration;
    state_machine_.reset(initial_configuration_);
    return;
  }
  // Disk: the configuration is entry 1 of the log (applied like any configuration entry).
  fs_ = std::make_unique<FaultInjectingFileSystem>(fs_seed);
  auto opened = DurableStorage::open(*fs_, kDir, disk_options_);
  if (!opened.ok()) throw SimFailure(id_ + ": cannot open storage: " + opened.status().to_string());
  disk_ = std::move(opened).value();
  if (configuration.servers_size() > 0) {
    Status st = disk_->bootstrap(configuration);
    if (!st.ok()) throw SimFailure(id_ + ": cannot bootstrap: " + st.to_string());
  }
  auto initial = disk_->initial_state();
  if (!initial.ok()) throw SimFailure(id_ + ": " + initial.status().to_string());
  disk_hard_state_ = initial->hard_state;
}

SimNode::~SimNode() {
  // Writers, readers and the storage borrow the file system.
  pending_snapshot_.reset();
  raw_.reset();
  disk_.reset();
}

const LogReader& SimNode::log() const {
  if (kind_ == StorageKind::kMemory) return *storage_;
  return *disk_;
}

const pb::HardState& SimNode::hard_state() const {
  return kind_ == StorageKind::kMemory ? storage_->hard_state() : disk_hard_state_;
}

Index SimNode::snapshot_index() const {
  return kind_ == StorageKind::kMemory ? storage_->snapshot().index() : disk_snapshot_index_;
}

MemoryStorage& SimNode::storage() {
  if (!storage_) throw SimFailure(id_ + ": storage() is the memory storage; this node is on disk");
  return *storage_;
}

const MemoryStorage& SimNode::storage() const {
  if (!storage_) throw SimFailure(id_ + ": storage() is the memory storage; this node is on disk");
  return *storage_;
}

Status SimNode::start(Config config) {
  config.id = id_;
  config.applied = applied_index();
  auto created = RawNode::create(config, &log());
  if (!created.ok()) return created.status();
  raw_ = std::move(created).value();
  ++incarnation_;
  return Status::ok_status();
}

void SimNode::crash() {
  raw_.reset();
  partial_metadata_.reset();
  partial_data_.clear();
  pending_snapshot_.reset();
}

Status SimNode::persist(const Ready& rd) {
  Status st = disk_->persist(rd);
  if (st.ok() && rd.hard_state) {
    disk_hard_state_ = *rd.hard_state;
    // An installed snapshot raises the commit index to it (DurableStorage does the same).
  }
  if (st.ok() && rd.snapshot && disk_hard_state_.commit() < rd.snapshot->index()) {
    disk_hard_state_.set_commit(rd.snapshot->index());
  }
  return st;
}

void SimNode::crash_storage(FaultInjectingFileSystem::CrashMode mode, const Ready* write,
                            std::uint64_t crash_at) {
  fs_->set_crash_mode(mode);
  if (write != nullptr) {
    // The write was under way: the machine dies at one of its file operations (or after it
    // completed, if it had fewer).
    fs_->schedule_crash(crash_at);
    (void)disk_->persist(*write);
  }
  // Power is lost now if the write did not get that far: the next call crashes the machine,
  // so nothing the dropped objects do on their way out reaches the disk.
  if (!fs_->is_down()) {
    fs_->schedule_crash(1);
    (void)fs_->exists(kDir);
  }
  pending_snapshot_.reset();
  disk_.reset();
  state_machine_.reset(initial_configuration_);
  fs_->restart();
}

Status SimNode::reopen_storage() {
  auto opened = DurableStorage::open(*fs_, kDir, disk_options_);
  if (!opened.ok()) return opened.status();
  disk_ = std::move(opened).value();
  auto initial = disk_->initial_state();
  if (!initial.ok()) return initial.status();
  disk_hard_state_ = initial->hard_state;
  return restore_from_newest_snapshot();
}

Status SimNode::restore_from_newest_snapshot() {
  auto reader = disk_->open_newest_snapshot();
  if (!reader.ok()) {
    if (reader.status().code() != ErrorCode::kNotFound) return reader.status();
    disk_snapshot_index_ = 0;
    state_machine_.reset(initial_configuration_);
    return Status::ok_status();
  }
  const SnapshotMeta& meta = (*reader)->meta();
  pb::SnapshotMetadata metadata;
  metadata.set_index(meta.index);
  metadata.set_term(meta.term);
  *metadata.mutable_configuration() = meta.configuration;
  metadata.set_size(meta.size);
  SnapshotReaderSource source(**reader);
  if (Status st = state_machine_.restore(metadata, source); !st.ok()) return st;
  disk_snapshot_index_ = meta.index;
  return Status::ok_status();
}

std::optional<std::string> SimNode::command_at(Index index) const {
  const pb::Entry* e = applied_at(index);
  if (e == nullptr || e->type() != pb::ENTRY_NORMAL) return std::nullopt;
  return e->data();
}

bool SimNode::begin_snapshot() {
  const Index applied = applied_index();
  if (pending_snapshot_ || applied == 0 || applied <= snapshot_index()) return false;
  auto view = state_machine_.snapshot();
  if (!view.ok()) throw SimFailure(id_ + ": snapshot() failed: " + view.status().to_string());
  pending_snapshot_ = std::make_unique<PendingSnapshot>();
  pending_snapshot_->view = std::move(view).value();
  pending_snapshot_->index = applied;
  pending_snapshot_->term = applied_at(applied)->term();
  pending_snapshot_->configuration = applied_configuration();
  return true;
}

Index SimNode::snapshot_in_flight_index() const {
  return pending_snapshot_ ? pending_snapshot_->index : 0;
}

Status SimNode::finish_snapshot(Index trailing) {
  if (!pending_snapshot_) return Status::ok_status();
  std::unique_ptr<PendingSnapshot> snap = std::move(pending_snapshot_);
  const Index index = snap->index;
  if (index <= snapshot_index()) return Status::ok_status();  // a newer one was installed
  if (kind_ == StorageKind::kMemory) {
    StringSnapshotSink sink;
    if (Status st = snap->view->write_to(sink); !st.ok()) return st;
    Status st = storage_->create_snapshot(index, snap->configuration, std::move(sink.data()));
    if (!st.ok()) return st;
    const Index compact_to = index > trailing ? index - trailing : 0;
    if (compact_to + 1 > storage_->first_index()) return storage_->compact(compact_to);
    return Status::ok_status();
  }
  auto writer = disk_->begin_snapshot(index, snap->term, snap->configuration);
  if (!writer.ok()) return writer.status();
  SnapshotWriterSink sink(**writer);
  if (Status st = snap->view->write_to(sink); !st.ok()) return st;
  auto committed = (*writer)->commit();
  if (!committed.ok()) return committed.status();
  disk_snapshot_index_ = index;
  return disk_->compact(index, trailing);
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
  // A snapshot of our own being written is older than what the leader sent: drop it.
  pending_snapshot_.reset();
  if (kind_ == StorageKind::kDisk) {
    if (Status st = restore_from_newest_snapshot(); !st.ok()) return st;
    if (disk_snapshot_index_ != metadata.index()) {
      return Status(ErrorCode::kCorruption,
                    fmt::format("installed snapshot {} but the newest snapshot is at {}",
                                metadata.index(), disk_snapshot_index_));
    }
    return Status::ok_status();
  }
  if (!partial_metadata_ || partial_metadata_->index() != metadata.index() ||
      partial_metadata_->term() != metadata.term() || partial_data_.size() != metadata.size()) {
    return Status(
        ErrorCode::kCorruption,
        fmt::format("snapshot {}@{} ({} bytes) to install, but the partial snapshot "
                    "holds {} bytes of snapshot {}",
                    metadata.index(), metadata.term(), metadata.size(), partial_data_.size(),
                    partial_metadata_ ? partial_metadata_->index() : 0));
  }
  StringSnapshotSource source(partial_data_);
  if (Status st = state_machine_.restore(metadata, source); !st.ok()) return st;
  storage_->apply_snapshot(metadata, std::move(partial_data_));
  partial_metadata_.reset();
  partial_data_.clear();
  return Status::ok_status();
}

}  // namespace raft::sim
