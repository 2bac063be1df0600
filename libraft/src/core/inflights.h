// Inflights: the bounded window of AppendEntries messages sent to one follower and not yet
// acknowledged, remembered by the last index each one carried. Owned by a Progress.
#pragma once

#include <cstddef>
#include <deque>

#include "raft/types.h"

namespace raft::core {

class Inflights {
 public:
  explicit Inflights(std::size_t capacity) : capacity_(capacity) {}

  bool full() const { return indexes_.size() >= capacity_; }
  std::size_t count() const { return indexes_.size(); }
  // Records a message whose last entry is `last_index` (indexes increase).
  void add(Index last_index) { indexes_.push_back(last_index); }
  // Acknowledges every message whose last index is <= index.
  void free_le(Index index) {
    while (!indexes_.empty() && indexes_.front() <= index) indexes_.pop_front();
  }
  void free_first_one() {
    if (!indexes_.empty()) indexes_.pop_front();
  }
  void reset() { indexes_.clear(); }

 private:
  std::size_t capacity_;
  std::deque<Index> indexes_;
};

}  // namespace raft::core
