// Progress: the leader's replication state for one peer (figure 2's nextIndex/matchIndex,
// plus the probe/replicate flow control of etcd's raft). Owned by Consensus, leader only.
#pragma once

#include <cstdint>

#include "core/inflights.h"
#include "raft/raft.pb.h"
#include "raft/raw_node.h"
#include "raft/types.h"

namespace raft::core {

class Progress {
 public:
  Progress(Index next, std::size_t max_inflight, bool is_voter)
      : next_(next), inflights_(max_inflight), is_voter_(is_voter) {}

  Index match() const { return match_; }
  Index next() const { return next_; }
  ProgressState state() const { return state_; }
  bool is_voter() const { return is_voter_; }
  void set_voter(bool voter) { is_voter_ = voter; }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }
  // ReadIndex: the highest read sequence number the peer echoed in a heartbeat response.
  std::uint64_t read_ack() const { return read_ack_; }
  // Returns whether `seq` is news.
  bool note_read_ack(std::uint64_t seq) {
    if (seq <= read_ack_) return false;
    read_ack_ = seq;
    return true;
  }
  Inflights& inflights() { return inflights_; }
  const Inflights& inflights() const { return inflights_; }

  // Probe: one message at a time, until an acknowledgement tells the peer's position.
  void become_probe();
  // Replicate: the position is known, messages are pipelined.
  void become_replicate();
  // Snapshot: the peer needs entries that were compacted; `metadata` is sent in chunks, one
  // at a time, from the offset the peer acknowledged.
  void become_snapshot(const pb::SnapshotMetadata& metadata);
  const pb::SnapshotMetadata& pending_snapshot() const { return pending_snapshot_; }
  std::uint64_t snapshot_offset() const { return snapshot_offset_; }
  // A chunk left at leader tick `now` (pauses the peer until it is answered).
  void sent_snapshot_chunk(std::int64_t now) {
    probe_sent_ = true;
    snapshot_sent_at_ = now;
  }
  std::int64_t snapshot_sent_at() const { return snapshot_sent_at_; }
  // The peer expects the byte at `offset` next (kSnapshot); unpauses.
  void set_snapshot_offset(std::uint64_t offset) {
    snapshot_offset_ = offset;
    probe_sent_ = false;
  }
  // No more appends to this peer until a response (or a heartbeat response) arrives.
  bool is_paused() const;
  // An append is on its way; in probe state this pauses the peer.
  void sent_probe() { probe_sent_ = true; }
  // A heartbeat response arrived: a probe may be retried, a full window drains one slot.
  void on_heartbeat_response();
  // The peer acknowledged entries up to n. Returns false if that is old news.
  bool maybe_update(Index n);
  // Replicate state: entries up to n were sent.
  void optimistic_update(Index n) { next_ = n + 1; }
  // The peer rejected an append whose previous index was `rejected`; `hint` is the highest
  // index that may match. Returns false if the rejection is stale.
  bool maybe_decrease_to(Index rejected, Index hint);

  // Catch-up rounds of a STAGING server (dissertation 4.2.1). A round ends when the peer's
  // match reaches the leader's last index as of the round's start; `now` counts leader
  // ticks. Returns how many rounds in a row took at most `max_round` ticks.
  int check_catchup(Index leader_last, std::int64_t now, std::int64_t max_round);
  void start_catchup(Index leader_last, std::int64_t now) {
    catchup_target_ = leader_last;
    catchup_start_ = now;
    catchup_good_rounds_ = 0;
  }

 private:
  Index match_ = 0;
  Index next_;
  ProgressState state_ = ProgressState::kProbe;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  Inflights inflights_;
  bool is_voter_;
  pb::SnapshotMetadata pending_snapshot_;
  std::uint64_t snapshot_offset_ = 0;
  std::int64_t snapshot_sent_at_ = 0;
  Index catchup_target_ = 0;
  std::int64_t catchup_start_ = 0;
  int catchup_good_rounds_ = 0;
  std::uint64_t read_ack_ = 0;
};

}  // namespace raft::core
