// The leader's side of the protocol: replication flow control, commit, heartbeats,
// CheckQuorum and leadership transfer (ReadIndex is in read_index.cc).
#include <algorithm>

#include "core/consensus.h"
#include "core/quorum.h"

namespace raft::core {

void Consensus::step_leader(const pb::Message& m) {
  if (m.type() == pb::MSG_READ_INDEX) {
    // A follower's forwarded read; whoever asks, the read point is sound.
    take_read(m.context(), m.from());
    return;
  }
  auto it = progress_.find(m.from());
  if (it == progress_.end()) {
    log(LogLevel::kDebug, "ignored {} from unknown peer {}", pb::MessageType_Name(m.type()),
        m.from());
    return;
  }
  Progress& pr = it->second;
  switch (m.type()) {
    case pb::MSG_APPEND_RESP:
      handle_append_response(m, pr);
      break;
    case pb::MSG_HEARTBEAT_RESP:
      handle_heartbeat_response(m, pr);
      break;
    case pb::MSG_SNAPSHOT_RESP:
      handle_snapshot_response(m, pr);
      break;
    default:
      break;  // votes were handled before; nothing else is addressed to a leader
  }
}

void Consensus::handle_append_response(const pb::Message& m, Progress& pr) {
  pr.set_recent_active(true);
  if (m.reject()) {
    // The follower's hint (reject_hint, log_term) names the last index that may match and
    // its term. Skipping every entry of ours with a larger term moves back a whole term per
    // round trip instead of one entry.
    Index next_probe = m.reject_hint();
    if (m.log_term() > 0) next_probe = log_.find_conflict_by_term(m.reject_hint(), m.log_term());
    if (pr.maybe_decrease_to(m.index(), next_probe)) {
      log(LogLevel::kDebug, "{} rejected append at {} (hint {}@{}); next {}", m.from(), m.index(),
          m.reject_hint(), m.log_term(), pr.next());
      if (pr.state() == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from());
    }
    return;
  }
  const bool was_paused = pr.is_paused();
  if (!pr.maybe_update(m.index())) {
    // Old news; still, a slot of the window may have freed up.
    pr.inflights().free_le(m.index());
    return;
  }
  if (pr.state() == ProgressState::kProbe) {
    pr.become_replicate();
  } else if (pr.state() == ProgressState::kSnapshot) {
    // The snapshot was installed (or the follower had what it covers): back to the log, if
    // the log still holds what comes next; if it was compacted further while the snapshot
    // travelled, the newest snapshot follows.
    if (pr.match() + 1 < log_.first_index()) {
      if (pr.match() >= pr.pending_snapshot().index()) start_snapshot(m.from(), pr);
      return;
    }
    log(LogLevel::kInfo, "{} is at {} after the snapshot; replicating the log", m.from(),
        pr.match());
    pr.become_replicate();
  } else {
    pr.inflights().free_le(m.index());
  }
  if (maybe_commit()) {
    bcast_append();
    maybe_step_down_removed();
    if (role_ != Role::kLeader) return;
  } else if (was_paused) {
    send_append(m.from());
  }
  // Fill the window with whatever else is waiting.
  while (maybe_send_append(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr.match() == log_.last_index()) {
    if (removal_transfer_tried_) {
      maybe_step_down_removed();  // hands over and steps down
      return;
    }
    log(LogLevel::kInfo, "{} caught up; sending TimeoutNow", m.from());
    send_timeout_now(m.from());
  }
}

void Consensus::handle_heartbeat_response(const pb::Message& m, Progress& pr) {
  pr.set_recent_active(true);
  if (pr.note_read_ack(m.read_seq())) confirm_reads();
  if (pr.state() == ProgressState::kSnapshot) {
    retry_snapshot_chunk(m.from(), pr);
    return;
  }
  pr.on_heartbeat_response();
  if (pr.match() < log_.last_index()) send_append(m.from());
}

bool Consensus::maybe_send_append(const NodeId& to, bool send_if_empty) {
  if (to == id_) return false;
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.is_paused()) return false;
  if (pr.state() == ProgressState::kSnapshot) return send_snapshot_chunk(to, pr);
  const Index prev = pr.next() - 1;
  auto prev_term = log_.term(prev);
  auto entries = log_.slice(pr.next(), log_.last_index() + 1, config_.max_size_per_msg);
  if (!prev_term.ok() || !entries.ok()) {
    const Status& error = !prev_term.ok() ? prev_term.status() : entries.status();
    if (error.code() == ErrorCode::kCompacted) return start_snapshot(to, pr);
    log(LogLevel::kWarn, "cannot replicate to {} from index {}: {}", to, pr.next(),
        error.to_string());
    return false;
  }
  if (entries->empty() && !send_if_empty) return false;
  pb::Message m = make_message(pb::MSG_APPEND, to);
  m.set_index(prev);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  if (!entries->empty()) {
    const Index last = entries->back().index();
    if (pr.state() == ProgressState::kReplicate) {
      pr.optimistic_update(last);
      pr.inflights().add(last);
    } else {
      pr.sent_probe();
    }
  } else if (pr.state() == ProgressState::kProbe) {
    pr.sent_probe();
  }
  for (auto& e : *entries) *m.add_entries() = std::move(e);
  send(std::move(m));
  return true;
}

void Consensus::bcast_append() {
  for (const auto& [id, pr] : progress_) {
    if (id != id_) send_append(id);
  }
}

void Consensus::bcast_heartbeat() {
  // Every heartbeat round is a read round of its own (a new read sequence number): it
  // confirms the read requests taken before it (see read_index.cc) and, once a quorum
  // acknowledged it, renews the leader lease from the tick it left at.
  ++read_seq_;
  read_round_pending_ = false;
  read_round_tick_ = leader_ticks_;
  note_round_sent(read_seq_);
  for (const auto& [id, pr] : progress_) {
    if (id == id_) continue;
    pb::Message m = make_message(pb::MSG_HEARTBEAT, id);
    // Never tell a follower to commit past what it is known to hold.
    m.set_commit(std::min(pr.match(), log_.committed()));
    m.set_read_seq(read_seq_);
    send(std::move(m));
  }
}

void Consensus::send_timeout_now(const NodeId& to) {
  // The target's election ignores the followers' lease: no lease holds for the rest of the
  // term, however late the message arrives.
  timeout_now_sent_ = true;
  send(make_message(pb::MSG_TIMEOUT_NOW, to));
}

bool Consensus::maybe_commit() {
  std::vector<Index> matches;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_voter()) matches.push_back(pr.match());
  }
  // Only an entry of the current term is committed by counting replicas (figure 8).
  const Index index = committed_index(std::move(matches));
  bool committed = false;
  if (config_.bugs.commit_old_term_by_counting && index > log_.committed() &&
      index <= log_.last_index()) {
    log_.commit_to(index);
    committed = true;
  } else {
    committed = log_.maybe_commit(index, term_);
  }
  if (committed) release_waiting_reads();
  return committed;
}

bool Consensus::quorum_active() {
  std::size_t active = 0;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_voter() && (id == id_ || pr.recent_active())) ++active;
  }
  return active >= majority(voters_.size());
}

void Consensus::abort_leader_transfer() { lead_transferee_.clear(); }

void Consensus::append_entry(pb::EntryType type, std::string data) {
  pb::Entry e;
  e.set_term(term_);
  e.set_index(log_.last_index() + 1);
  e.set_type(type);
  e.set_data(std::move(data));
  std::vector<pb::Entry> appended;
  appended.push_back(std::move(e));
  std::vector<pb::Entry> change;  // a configuration entry is noted after the append
  if (type == pb::ENTRY_CONF_CHANGE) change = appended;
  log_.append(std::move(appended));
  if (!change.empty()) note_appended(change, change.front().index(), false);
  // Broadcast once at the next ready(), so a burst of proposals leaves as one append.
  pending_bcast_ = true;
}

}  // namespace raft::core
