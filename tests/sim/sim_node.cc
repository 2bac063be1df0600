#include "sim/sim_node.h"

#include <utility>

namespace raft::sim {

SimNode::SimNode(NodeId id, const pb::Configuration& configuration)
    : id_(std::move(id)), storage_(std::make_unique<MemoryStorage>()) {
  storage_->set_configuration(configuration);
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

void SimNode::crash() { raw_.reset(); }

const pb::Entry* SimNode::applied_at(Index index) const {
  if (index == 0 || index > applied_index()) return nullptr;
  return &applied_[static_cast<std::size_t>(index - 1)];
}

std::optional<std::string> SimNode::command_at(Index index) const {
  const pb::Entry* e = applied_at(index);
  if (e == nullptr || e->type() != pb::ENTRY_NORMAL) return std::nullopt;
  return e->data();
}

}  // namespace raft::sim
