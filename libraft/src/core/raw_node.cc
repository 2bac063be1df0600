#include "raft/raw_node.h"

#include <fmt/format.h>

#include <stdexcept>

#include "core/consensus.h"

namespace raft {

std::string_view to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

std::string_view to_string(ReadMode mode) {
  switch (mode) {
    case ReadMode::kReadIndex:
      return "read-index";
    case ReadMode::kLease:
      return "lease";
  }
  return "unknown";
}

Result<std::unique_ptr<RawNode>> RawNode::create(const Config& config, const LogReader* log) {
  if (Status s = config.validate(); !s.ok()) return s;
  if (log == nullptr)
    return Status(ErrorCode::kInvalidArgument, "RawNode::create: log must not be null");
  auto initial = log->initial_state();
  if (!initial.ok()) return initial.status();
  if (initial->hard_state.commit() > log->last_index()) {
    return Status(ErrorCode::kCorruption, "hard state commit index is past the last log index");
  }
  if (config.applied + 1 < log->first_index()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("applied index {} is below the compacted log (first index {}): "
                              "restore the state machine from the snapshot first",
                              config.applied, log->first_index()));
  }
  try {
    return std::unique_ptr<RawNode>(
        new RawNode(std::make_unique<core::Consensus>(config, log, *initial)));
  } catch (const std::logic_error& e) {
    return Status(ErrorCode::kCorruption, std::string("RawNode::create: ") + e.what());
  }
}

RawNode::RawNode(std::unique_ptr<core::Consensus> consensus) : consensus_(std::move(consensus)) {}
RawNode::~RawNode() = default;

void RawNode::tick() { consensus_->tick(); }
Status RawNode::campaign() { return consensus_->campaign(); }
Result<Index> RawNode::propose(std::string data) { return consensus_->propose(std::move(data)); }
Status RawNode::step(const pb::Message& message) {
  pb::Message copy = message;
  return consensus_->step(copy);
}

Status RawNode::step(pb::Message&& message) { return consensus_->step(message); }
Status RawNode::transfer_leadership(const NodeId& target) {
  return consensus_->transfer_leadership(target);
}
Result<Index> RawNode::propose_conf_change(const ConfChange& change) {
  return consensus_->propose_conf_change(change);
}
Status RawNode::read_index(std::string context, ReadMode mode) {
  return consensus_->read_index(std::move(context), mode);
}
bool RawNode::has_ready() const { return consensus_->has_ready(); }
Ready RawNode::ready() { return consensus_->ready(); }
void RawNode::advance() { consensus_->advance(); }
NodeStatus RawNode::status() const { return consensus_->status(); }
Role RawNode::role() const { return consensus_->role(); }
Term RawNode::term() const { return consensus_->term(); }
const NodeId& RawNode::leader() const { return consensus_->leader(); }
const NodeId& RawNode::id() const { return consensus_->id(); }

}  // namespace raft
