// Membership: configurations from the log (in force once appended), single-server changes
// with the safety rules of dissertation ch. 4 (one uncommitted change at a time, and only
// after the leader committed an entry of its term), catch-up before a new voter votes, and
// a removed leader handing over before it steps down.
#include <stdexcept>

#include "core/consensus.h"

namespace raft::core {

namespace {

pb::Configuration parse_configuration(const pb::Entry& e) {
  pb::Configuration c;
  if (!c.ParseFromString(e.data())) {
    throw std::logic_error(
        fmt::format("configuration entry {}@{} does not parse", e.index(), e.term()));
  }
  return c;
}

}  // namespace

void Consensus::load_configurations(const pb::Configuration& base) {
  configs_.reset(log_.first_index() - 1, base);
  Index next = log_.first_index();
  const Index last = log_.last_index();
  while (next <= last) {
    auto batch = log_.slice(next, last + 1, 64ull << 20);
    if (!batch.ok()) {
      throw std::logic_error("cannot read the log at start: " + batch.status().to_string());
    }
    for (const pb::Entry& e : *batch) {
      if (e.type() == pb::ENTRY_CONF_CHANGE) configs_.append(e.index(), parse_configuration(e));
    }
    next += batch->size();
  }
  configs_.commit_to(log_.committed());
  apply_latest_configuration();
}

void Consensus::apply_latest_configuration() {
  voters_.clear();
  members_.clear();
  staging_.clear();
  for (const auto& s : configs_.latest().servers()) {
    members_.insert(s.id());
    if (s.suffrage() == pb::VOTER) voters_.insert(s.id());
    if (s.suffrage() == pb::STAGING) staging_.insert(s.id());
  }
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (members_.count(it->first) == 0 && it->first != id_) {
      if (it->first == lead_transferee_) abort_leader_transfer();
      it = progress_.erase(it);
    } else {
      it->second.set_voter(voters_.count(it->first) > 0);
      ++it;
    }
  }
  for (const auto& member : members_) {
    if (progress_.count(member) > 0) continue;
    auto [it, inserted] = progress_.emplace(
        member,
        Progress(log_.last_index() + 1, config_.max_inflight_msgs, voters_.count(member) > 0));
    it->second.set_recent_active(true);
    it->second.start_catchup(log_.last_index(), leader_ticks_);
  }
  // Read requests are confirmed by a quorum of the configuration in force.
  confirm_reads();
}

void Consensus::note_appended(const std::vector<pb::Entry>& entries, Index from, bool truncated) {
  bool changed = false;
  if (truncated && configs_.latest_index() >= from) {
    configs_.truncate_from(from);
    changed = true;
  }
  for (const pb::Entry& e : entries) {
    if (e.index() < from || e.type() != pb::ENTRY_CONF_CHANGE) continue;
    configs_.append(e.index(), parse_configuration(e));
    changed = true;
  }
  if (changed) {
    apply_latest_configuration();
    log(LogLevel::kInfo, "configuration at {} in force: {}", configs_.latest_index(),
        describe(configs_.latest()));
  }
}

Status Consensus::check_can_change_configuration() const {
  if (log_.term_or_zero(log_.committed()) != term_) {
    return Status(
        ErrorCode::kConfChangeInProgress,
        fmt::format("{} has not yet committed an entry of its term {}; retry", id_, term_));
  }
  if (configs_.latest_index() > log_.committed()) {
    return Status(ErrorCode::kConfChangeInProgress,
                  fmt::format("the configuration change at index {} is not committed yet",
                              configs_.latest_index()));
  }
  return {};
}

Result<Index> Consensus::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::kLeader) return Status::not_leader(lead_);
  if (!lead_transferee_.empty()) {
    return Status(ErrorCode::kTransferInProgress,
                  fmt::format("leadership is being transferred to {}", lead_transferee_));
  }
  if (Status s = check_can_change_configuration(); !s.ok()) return s;
  if (change.prev_index != 0 && change.prev_index != configs_.latest_index()) {
    return Status(ErrorCode::kStaleConfiguration,
                  fmt::format("the configuration is at index {} now, not {}",
                              configs_.latest_index(), change.prev_index));
  }
  auto next = apply_conf_change(configs_.latest(), change);
  if (!next.ok()) return next.status();
  if (next->SerializeAsString() == configs_.latest().SerializeAsString()) {
    return configs_.latest_index();  // nothing to change
  }
  log(LogLevel::kInfo, "proposing {} {}: {}", to_string(change.type), change.id, describe(*next));
  append_entry(pb::ENTRY_CONF_CHANGE, next->SerializeAsString());
  return log_.last_index();
}

void Consensus::maybe_promote_staging() {
  if (staging_.empty() || !lead_transferee_.empty()) return;
  for (const NodeId& id : staging_) {
    auto it = progress_.find(id);
    if (it == progress_.end()) continue;
    const int good =
        it->second.check_catchup(log_.last_index(), leader_ticks_, config_.election_tick);
    if (good < config_.catchup_rounds || !check_can_change_configuration().ok()) continue;
    pb::Configuration next = configs_.latest();
    for (auto& s : *next.mutable_servers()) {
      if (s.id() == id) s.set_suffrage(pb::VOTER);
    }
    log(LogLevel::kInfo, "{} caught up (match {}); promoting it to voter", id, it->second.match());
    append_entry(pb::ENTRY_CONF_CHANGE, next.SerializeAsString());
    return;  // one change at a time
  }
}

void Consensus::maybe_step_down_removed() {
  if (role_ != Role::kLeader || promotable() || configs_.latest_index() > log_.committed()) {
    return;
  }
  NodeId best;
  Index best_match = 0;
  for (const auto& [id, pr] : progress_) {
    if (id == id_ || !pr.is_voter()) continue;
    if (best.empty() || pr.match() > best_match) {
      best = id;
      best_match = pr.match();
    }
  }
  if (!best.empty() && best_match == log_.last_index()) {
    log(LogLevel::kInfo, "no longer a voter; handing leadership to {} and stepping down", best);
    send_timeout_now(best);
    become_follower(term_, "");
    return;
  }
  if (!best.empty() && !removal_transfer_tried_) {
    // Catch the best voter up first; handle_append_response finishes the hand-over.
    removal_transfer_tried_ = true;
    lead_transferee_ = best;
    election_elapsed_ = 0;
    send_append(best);
    return;
  }
  if (lead_transferee_.empty()) {
    log(LogLevel::kInfo, "no longer a voter; stepping down");
    become_follower(term_, "");
  }
}

}  // namespace raft::core
