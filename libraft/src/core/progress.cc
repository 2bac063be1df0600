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

bool Progress::is_paused() const {
  switch (state_) {
    case ProgressState::kProbe:
      return probe_sent_;
    case ProgressState::kReplicate:
      return inflights_.full();
  }
  return false;
}

void Progress::on_heartbeat_response() {
  probe_sent_ = false;
  if (state_ == ProgressState::kReplicate && inflights_.full()) inflights_.free_first_one();
}

bool Progress::maybe_update(Index n) {
  bool updated = false;
  if (match_ < n) {
    match_ = n;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, n + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
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

}  // namespace raft::core
