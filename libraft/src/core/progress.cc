#include "core/progress.h"

#include <algorithm>

namespace raft::core {

void Progress::become_probe() {
  state_ = ProgressState::kProbe;
  probe_sent_ = false;
  inflights_.reset();
  next_ = match_ + 1;
}

void Progress::become_replicate() {
  state_ = ProgressState::kReplicate;
  probe_sent_ = false;
  inflights_.reset();
  next_ = match_ + 1;
}

void Progress::become_snapshot(const pb::SnapshotMetadata& metadata) {
  state_ = ProgressState::kSnapshot;
  probe_sent_ = false;
  inflights_.reset();
  pending_snapshot_ = metadata;
  snapshot_offset_ = 0;
}

bool Progress::is_paused() const {
  switch (state_) {
    case ProgressState::kProbe:
    case ProgressState::kSnapshot:
      return probe_sent_;
    case ProgressState::kReplicate:
      return inflights_.full();
  }
  return false;
}

void Progress::on_heartbeat_response() {
  // A chunk of a snapshot is retried by the leader on its own schedule (see snapshot.cc).
  if (state_ == ProgressState::kSnapshot) return;
  probe_sent_ = false;
  if (state_ == ProgressState::kReplicate && inflights_.full()) inflights_.free_first_one();
}

bool Progress::maybe_update(Index n) {
  bool updated = false;
  if (match_ < n) {
    match_ = n;
    updated = true;
    // A chunk of a snapshot in flight keeps the peer paused until it is answered (a late
    // acknowledgement of an older append must not send a second copy).
    if (state_ != ProgressState::kSnapshot) probe_sent_ = false;
  }
  next_ = std::max(next_, n + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  // A snapshot is on its way: a rejection of an earlier append changes nothing.
  if (state_ == ProgressState::kSnapshot) return false;
  if (state_ == ProgressState::kReplicate) {
    // Stale if the rejected append is below what is already known to match.
    if (rejected <= match_) return false;
    next_ = match_ + 1;
    return true;
  }
  // Probe: only the rejection of the append we sent last counts.
  if (next_ - 1 != rejected) return false;
  next_ = std::max(std::min(rejected, hint + 1), match_ + 1);
  probe_sent_ = false;
  return true;
}

int Progress::check_catchup(Index leader_last, std::int64_t now, std::int64_t max_round) {
  if (match_ < catchup_target_) {
    // A round running for longer than allowed already failed.
    if (now - catchup_start_ > max_round) catchup_good_rounds_ = 0;
    return catchup_good_rounds_;
  }
  if (now - catchup_start_ <= max_round) {
    ++catchup_good_rounds_;
  } else {
    catchup_good_rounds_ = 0;
  }
  catchup_target_ = leader_last;
  catchup_start_ = now;
  return catchup_good_rounds_;
}

}  // namespace raft::core
