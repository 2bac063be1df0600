// Progress: the leader's replication state for one peer (figure 2's nextIndex/matchIndex,
// plus the probe/replicate flow control of etcd's raft). Owned by Consensus, leader only.
#pragma once

#include "core/inflights.h"
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
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }
  Inflights& inflights() { return inflights_; }
  const Inflights& inflights() const { return inflights_; }

  // Probe: one message at a time, until an acknowledgement tells the peer's position.
  void become_probe();
  // Replicate: the position is known, messages are pipelined.
  void become_replicate();
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

 private:
  Index match_ = 0;
  Index next_;
  ProgressState state_ = ProgressState::kProbe;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  Inflights inflights_;
  bool is_voter_;
};

}  // namespace raft::core
