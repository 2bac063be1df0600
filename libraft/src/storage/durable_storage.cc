#include "raft/durable_storage.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "raft/configuration.h"
#include "storage/file_snapshot_store.h"
#include "storage/file_stable_store.h"

namespace raft {

namespace {

constexpr const char* kCommitFact = "raft.commit";

pb::SnapshotMetadata to_metadata(const SnapshotMeta& meta) {
  pb::SnapshotMetadata m;
  m.set_index(meta.index);
  m.set_term(meta.term);
  *m.mutable_configuration() = meta.configuration;
  m.set_size(meta.size);
  return m;
}

Index parse_index(const std::string& s) {
  Index v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

Result<std::unique_ptr<DurableStorage>> DurableStorage::open(FileSystem& fs, const std::string& dir,
                                                             Options options) {
  if (Status s = fs.create_dirs(dir); !s.ok()) return s;
  auto log = SegmentedLog::open(fs, dir + "/log", options.log);
  if (!log.ok()) return log.status();
  auto stable = FileStableStore::open(fs, dir + "/stable");
  if (!stable.ok()) return stable.status();
  auto snapshots = FileSnapshotStore::open(fs, dir + "/snapshots",
                                           FileSnapshotStoreOptions{options.snapshots_retained});
  if (!snapshots.ok()) return snapshots.status();
  std::unique_ptr<DurableStorage> storage(
      new DurableStorage(dir, std::move(*log), std::move(*stable), std::move(*snapshots)));
  if (Status s = storage->recover(); !s.ok()) return s;
  return storage;
}

DurableStorage::DurableStorage(std::string dir, std::unique_ptr<SegmentedLog> log,
                               std::unique_ptr<StableStore> stable,
                               std::unique_ptr<SnapshotStore> snapshots)
    : dir_(std::move(dir)),
      log_(std::move(log)),
      stable_(std::move(stable)),
      snapshots_(std::move(snapshots)) {}

DurableStorage::~DurableStorage() = default;

Status DurableStorage::recover() {
  auto loaded = stable_->load();
  if (!loaded.ok()) return loaded.status();
  stable_state_ = std::move(*loaded);
  auto newest = newest_snapshot();
  if (!newest.ok()) return newest.status();
  if (*newest) {
    const SnapshotMeta& snap = **newest;
    // A received snapshot was committed, but the crash came before the log was reset to it:
    // finish the install. (A snapshot this node took itself covers entries the log holds.)
    auto t = log_->term(snap.index);
    const bool covered = t.ok() && *t == snap.term;
    if (!covered && snap.index + 1 >= log_->first_index()) {
      if (Status s = log_->restore(snap.index, snap.term); !s.ok()) return s;
    }
  }
  hard_state_.set_term(stable_state_.term);
  hard_state_.set_vote(stable_state_.vote);
  Index commit = 0;
  if (auto it = stable_state_.facts.find(kCommitFact); it != stable_state_.facts.end()) {
    commit = parse_index(it->second);
  }
  if (*newest) commit = std::max(commit, (*newest)->index);
  hard_state_.set_commit(std::min(commit, log_->last_index()));
  return {};
}

Result<std::optional<SnapshotMeta>> DurableStorage::newest_snapshot() const {
  auto list = snapshots_->list();
  if (!list.ok()) return list.status();
  if (list->empty()) return std::optional<SnapshotMeta>();
  return std::optional<SnapshotMeta>(list->front());
}

Result<InitialState> DurableStorage::initial_state() const {
  InitialState state;
  state.hard_state = hard_state_;
  auto newest = newest_snapshot();
  if (!newest.ok()) return newest.status();
  if (*newest) state.configuration = (*newest)->configuration;
  return state;
}

Result<std::vector<pb::Entry>> DurableStorage::entries(Index lo, Index hi,
                                                       std::uint64_t max_bytes) const {
  return log_->entries(lo, hi, max_bytes);
}
Result<Term> DurableStorage::term(Index i) const { return log_->term(i); }
Index DurableStorage::first_index() const { return log_->first_index(); }
Index DurableStorage::last_index() const { return log_->last_index(); }

Result<pb::SnapshotMetadata> DurableStorage::snapshot_metadata() const {
  auto newest = newest_snapshot();
  if (!newest.ok()) return newest.status();
  if (!*newest) return Status(ErrorCode::kUnavailable, "no snapshot yet");
  return to_metadata(**newest);
}

Result<std::string> DurableStorage::read_snapshot(const pb::SnapshotMetadata& metadata,
                                                  std::uint64_t offset,
                                                  std::uint64_t max_bytes) const {
  const std::string id = FileSnapshotStore::snapshot_id(metadata.term(), metadata.index());
  auto it = std::find_if(sending_.begin(), sending_.end(),
                         [&](const auto& reader) { return reader->meta().id == id; });
  std::unique_ptr<SnapshotReader> reader;
  if (it != sending_.end()) {
    reader = std::move(*it);
    sending_.erase(it);
  } else {
    auto opened = snapshots_->open(id);
    if (!opened.ok()) return opened.status();  // kNotFound once retention removed it
    reader = std::move(*opened);
  }
  std::string out;
  if (Status s = reader->read(offset, static_cast<std::size_t>(max_bytes), &out); !s.ok()) {
    return s;  // the reader is dropped
  }
  if (sending_.size() >= kMaxSendingReaders) sending_.erase(sending_.begin());
  sending_.push_back(std::move(reader));  // the most recently read is last
  return out;
}

bool DurableStorage::has_state() const {
  auto newest = newest_snapshot();
  return stable_state_.term != 0 || log_->last_index() != 0 || !newest.ok() || newest->has_value();
}

Status DurableStorage::bootstrap(const pb::Configuration& configuration) {
  if (has_state()) {
    return Status(ErrorCode::kAlreadyExists,
                  fmt::format("cannot bootstrap {}: it already holds raft state", dir_));
  }
  auto entry = make_bootstrap_entry(configuration);
  if (!entry.ok()) return entry.status();
  if (Status s = log_->append({*entry}); !s.ok()) return s;
  hard_state_.set_term(1);
  return save_stable();
}

Status DurableStorage::save_stable() {
  StableState next = stable_state_;
  next.term = hard_state_.term();
  next.vote = hard_state_.vote();
  next.facts[kCommitFact] = std::to_string(hard_state_.commit());
  if (Status s = stable_->save(next); !s.ok()) return s;
  stable_state_ = std::move(next);
  return {};
}

Status DurableStorage::persist(const Ready& rd) {
  for (const SnapshotChunk& chunk : rd.snapshot_chunks) {
    const pb::SnapshotMetadata& meta = chunk.metadata;
    if (chunk.offset == 0) {
      if (incoming_) (void)incoming_->abort();
      incoming_.reset();
      auto writer = snapshots_->create(meta.index(), meta.term(), meta.configuration());
      if (!writer.ok()) return writer.status();
      incoming_ = std::move(*writer);
      incoming_meta_ = meta;
      incoming_size_ = 0;
    } else if (!incoming_ || incoming_meta_.index() != meta.index() ||
               incoming_meta_.term() != meta.term() || chunk.offset != incoming_size_) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("snapshot chunk {}@{} at offset {} does not continue what was "
                                "received ({} bytes)",
                                meta.index(), meta.term(), chunk.offset, incoming_size_));
    }
    if (Status s = incoming_->write(chunk.data); !s.ok()) return s;
    incoming_size_ += chunk.data.size();
  }
  if (rd.snapshot) {
    const pb::SnapshotMetadata& meta = *rd.snapshot;
    if (!incoming_ || incoming_meta_.index() != meta.index() ||
        incoming_meta_.term() != meta.term() || incoming_size_ != meta.size()) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("snapshot {}@{} to install was not received whole", meta.index(),
                                meta.term()));
    }
    auto committed = incoming_->commit();
    incoming_.reset();
    if (!committed.ok()) return committed.status();
    // The snapshot is durable: only now may the log forget what it covers.
    if (Status s = log_->restore(meta.index(), meta.term()); !s.ok()) return s;
    if (hard_state_.commit() < meta.index()) hard_state_.set_commit(meta.index());
  }
  if (!rd.entries.empty()) {
    if (Status s = log_->append(rd.entries); !s.ok()) return s;
  }
  if (rd.hard_state) {
    const bool promise =
        rd.hard_state->term() != stable_state_.term || rd.hard_state->vote() != stable_state_.vote;
    hard_state_ = *rd.hard_state;
    if (promise) return save_stable();
  }
  return {};
}

Result<std::unique_ptr<SnapshotWriter>> DurableStorage::begin_snapshot(
    Index index, Term term, const pb::Configuration& configuration) {
  return snapshots_->create(index, term, configuration);
}

Status DurableStorage::compact(Index index, Index trailing) {
  auto newest = newest_snapshot();
  if (!newest.ok()) return newest.status();
  if (!*newest) return Status(ErrorCode::kInvalidArgument, "compact: there is no snapshot");
  index = std::min(index, (*newest)->index);
  if (index <= trailing) return {};
  const Index point = index - trailing;
  if (point < log_->first_index()) return {};  // already compacted that far
  return log_->compact(std::min(point, log_->last_index()));
}

Result<std::unique_ptr<SnapshotReader>> DurableStorage::open_newest_snapshot() {
  auto newest = newest_snapshot();
  if (!newest.ok()) return newest.status();
  if (!*newest) return Status(ErrorCode::kNotFound, "no snapshot");
  return snapshots_->open((*newest)->id);
}

std::optional<std::string> DurableStorage::fact(const std::string& key) const {
  auto it = stable_state_.facts.find(key);
  if (it == stable_state_.facts.end()) return std::nullopt;
  return it->second;
}

Status DurableStorage::set_fact(const std::string& key, const std::string& value) {
  StableState next = stable_state_;
  next.facts[key] = value;
  if (Status s = stable_->save(next); !s.ok()) return s;
  stable_state_ = std::move(next);
  return {};
}

}  // namespace raft
