// InstallSnapshot: a leader whose log no longer holds what a follower needs sends its newest
// snapshot in chunks of at most Config::max_snapshot_chunk bytes, one at a time. The follower
// acknowledges each chunk with the next offset it expects, so a lost chunk is resent from
// that offset and a slow install never starts over from zero (no RPC timeout restarts it).
// The completed snapshot goes to the host in a Ready (snapshot.h contract in ready.h), and
// the follower then answers like an accepted append up to the snapshot's index.
#include <algorithm>

#include "core/consensus.h"

namespace raft::core {

bool Consensus::start_snapshot(const NodeId& to, Progress& pr) {
  auto meta = log_.storage()->snapshot_metadata();
  if (!meta.ok()) {
    log(LogLevel::kWarn, "{} needs compacted entries from {}, but there is no snapshot: {}", to,
        pr.next(), meta.status().to_string());
    return false;
  }
  if (meta->index() + 1 < log_.first_index()) {
    log(LogLevel::kWarn, "{} needs compacted entries, but the snapshot at {} is older than the log",
        to, meta->index());
    return false;
  }
  log(LogLevel::kInfo,
      "{} needs entries from {} that were compacted; sending snapshot {}@{} ({} bytes)", to,
      pr.next(), meta->index(), meta->term(), meta->size());
  pr.become_snapshot(*meta);
  return send_snapshot_chunk(to, pr);
}

bool Consensus::send_snapshot_chunk(const NodeId& to, Progress& pr) {
  auto data = log_.storage()->read_snapshot(pr.pending_snapshot(), pr.snapshot_offset(),
                                            config_.max_snapshot_chunk);
  if (!data.ok() && data.status().code() == ErrorCode::kNotFound) {
    // A newer snapshot replaced it: start over with that one.
    auto meta = log_.storage()->snapshot_metadata();
    if (meta.ok() && meta->index() != pr.pending_snapshot().index()) {
      log(LogLevel::kInfo, "snapshot {} for {} was replaced; sending snapshot {} instead",
          pr.pending_snapshot().index(), to, meta->index());
      pr.become_snapshot(*meta);
      data = log_.storage()->read_snapshot(pr.pending_snapshot(), 0, config_.max_snapshot_chunk);
    }
  }
  if (!data.ok()) {
    log(LogLevel::kWarn, "cannot read snapshot {} for {}: {}", pr.pending_snapshot().index(), to,
        data.status().to_string());
    pr.become_probe();
    pr.sent_probe();  // retried at the next heartbeat response
    return false;
  }
  pb::Message m = make_message(pb::MSG_SNAPSHOT, to);
  *m.mutable_snapshot() = pr.pending_snapshot();
  m.set_offset(pr.snapshot_offset());
  m.set_data(std::move(*data));
  pr.sent_snapshot_chunk(leader_ticks_);
  send(std::move(m));
  return true;
}

void Consensus::handle_snapshot_response(const pb::Message& m, Progress& pr) {
  pr.set_recent_active(true);
  if (pr.state() != ProgressState::kSnapshot ||
      m.snapshot().index() != pr.pending_snapshot().index() ||
      m.snapshot().term() != pr.pending_snapshot().term()) {
    return;  // about a transfer that is over
  }
  // A duplicate acknowledgement (of a chunk sent twice) moves nothing; a rejection names the
  // offset the follower really expects (it may have restarted and lost what it had).
  if (!m.reject() && m.offset() <= pr.snapshot_offset()) return;
  pr.set_snapshot_offset(std::min<std::uint64_t>(m.offset(), pr.pending_snapshot().size()));
  send_snapshot_chunk(m.from(), pr);
}

void Consensus::retry_snapshot_chunk(const NodeId& to, Progress& pr) {
  // The chunk in flight or its answer may be lost. Resend it once it has been out for half
  // an election timeout (not at every heartbeat: a slow disk must not get duplicates).
  const std::int64_t wait = std::max(1, config_.election_tick / 2);
  if (leader_ticks_ - pr.snapshot_sent_at() < wait) return;
  pr.set_snapshot_offset(pr.snapshot_offset());
  send_snapshot_chunk(to, pr);
}

void Consensus::handle_snapshot(const pb::Message& m) {
  const pb::SnapshotMetadata& meta = m.snapshot();
  auto answer_append = [&](Index index) {
    pb::Message resp = make_message(pb::MSG_APPEND_RESP, m.from());
    resp.set_index(index);
    send(std::move(resp));
  };
  auto answer_chunk = [&](std::uint64_t offset, bool reject) {
    pb::Message resp = make_message(pb::MSG_SNAPSHOT_RESP, m.from());
    resp.mutable_snapshot()->set_index(meta.index());
    resp.mutable_snapshot()->set_term(meta.term());
    resp.set_offset(offset);
    resp.set_reject(reject);
    send(std::move(resp));
  };
  if (meta.index() <= log_.committed()) {
    // We already have (and committed) everything it covers.
    incoming_.reset();
    answer_append(log_.committed());
    return;
  }
  if (log_.unstable().snapshot()) {
    // A completed snapshot waits for the host to install it: the chunks of another one must
    // not travel in the same Ready (the host would start the new one's partial file before
    // installing the old). The leader resends this chunk later.
    log(LogLevel::kDebug, "ignored a chunk of snapshot {}: snapshot {} is not installed yet",
        meta.index(), log_.unstable().snapshot()->index());
    return;
  }
  if (log_.match_term(meta.index(), meta.term())) {
    // Our log already holds its last entry: commit up to it instead of installing it. Checked
    // at every chunk, not only the first: appends keep arriving while chunks do (reordered,
    // or duplicated, by the network), and an install would drop the entries past the
    // snapshot that this node has appended and acknowledged since.
    incoming_.reset();
    log_.commit_to(meta.index());
    answer_append(meta.index());
    return;
  }
  const bool same = incoming_ && incoming_->from == m.from() && incoming_->term == m.term() &&
                    incoming_->metadata.index() == meta.index() &&
                    incoming_->metadata.term() == meta.term();
  if (!same) {
    if (m.offset() != 0) {
      answer_chunk(0, true);  // start over: we hold nothing of this snapshot
      return;
    }
    incoming_ = IncomingSnapshot{meta, m.from(), m.term(), 0};
    log(LogLevel::kInfo, "receiving snapshot {}@{} ({} bytes) from {}", meta.index(), meta.term(),
        meta.size(), m.from());
  }
  if (m.offset() != incoming_->next_offset) {
    // A duplicate (below) or a chunk after a lost one (above): say what we expect.
    answer_chunk(incoming_->next_offset, m.offset() > incoming_->next_offset);
    return;
  }
  if (m.offset() + m.data().size() > meta.size() || (m.data().empty() && meta.size() > 0)) {
    log(LogLevel::kWarn, "snapshot chunk at {} of {} bytes does not fit a {}-byte snapshot",
        m.offset(), m.data().size(), meta.size());
    incoming_.reset();
    answer_chunk(0, true);
    return;
  }
  snapshot_chunks_.push_back(SnapshotChunk{meta, m.offset(), m.data()});
  incoming_->next_offset += m.data().size();
  if (incoming_->next_offset < meta.size()) {
    answer_chunk(incoming_->next_offset, false);
    return;
  }
  // Complete: the log restarts after the snapshot; the host installs it with the next Ready.
  log(LogLevel::kInfo, "received snapshot {}@{}; installing it", meta.index(), meta.term());
  incoming_.reset();
  log_.restore(meta);
  configs_.reset(meta.index(), meta.configuration());
  apply_latest_configuration();
  answer_append(meta.index());
}

}  // namespace raft::core
