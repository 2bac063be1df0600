// EventQueue: the simulator's pending events (node ticks, message deliveries, completed
// disk writes and snapshot writes), ordered by
// (time, sequence number) so that events at the same time run in the order they were
// scheduled — the order is total and the same for the same seed. Owned by SimCluster.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "raft/raft.pb.h"
#include "sim/sim_time.h"

namespace raft::sim {

enum class EventKind { kTick, kDeliver, kPersist, kSnapshotWrite };

struct Event {
  SimTime time = 0;
  std::uint64_t sequence = 0;
  EventKind kind = EventKind::kTick;
  int node = -1;                     // the node that ticks, or the receiver
  int from = -1;                     // the sender of a delivered message
  std::uint64_t incarnation = 0;     // kTick, kPersist, kSnapshotWrite: the node's life then
  std::uint64_t snapshot_index = 0;  // kSnapshotWrite: the snapshot captured
  pb::Message message;               // kDeliver
};

class EventQueue {
 public:
  void push(Event event) {
    event.sequence = next_sequence_++;
    heap_.push_back(std::move(event));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  bool empty() const { return heap_.empty(); }
  SimTime next_time() const { return heap_.front().time; }
  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event e = std::move(heap_.back());
    heap_.pop_back();
    return e;
  }
  std::size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.sequence > b.sequence;
    }
  };
  std::vector<Event> heap_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace raft::sim
