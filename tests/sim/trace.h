// Trace: the record of everything that happened in a simulation run. Every event is folded
// into a running FNV-1a 64-bit hash (the same seed must give the same hash), the last few
// events are kept for failure messages, and — when asked — every event is kept as a text line
// for debugging. Owned by SimCluster.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raft.pb.h"
#include "sim/sim_time.h"

namespace raft::sim {

enum class TraceKind {
  kTick,
  kDeliver,
  kDrop,
  kCrash,
  kRestart,
  kPropose,
  kTransfer,
  kCampaign,
  kNetwork,
  kPersist,
  // Appended after the original kinds, so the hashes of runs that use none of them keep
  // their values.
  kPause,       // a node is stopped (SIGSTOP)
  kResume,      // a paused node continues (SIGCONT)
  kBuffer,      // a message reached a paused node and waits in its socket buffer
  kClock,       // a node's tick interval, drawn once with clock skew (value: microseconds)
  kTornWrite,   // a crash tore an in-flight disk write (n_entries kept, value: hard state kept)
  kConfChange,  // a membership change proposed (index: its entry, value: the status code)
  kSnapshot,    // a node snapshotted its state machine (index) and compacted its log
  kRestore,     // a node installed a snapshot from its leader (index)
  kReadIndex,   // a read requested on a node (note: context, value: the status code)
  kReadState,   // a node handed out a ReadState (note: context, index, value: status code)
};

std::string_view to_string(TraceKind kind);

// One event. `node` is where it happened (the receiver of a message); `peer` is the sender of
// a message, or -1. `value` is kind-specific (a proposal's resulting index, ...).
struct TraceRecord {
  SimTime time = 0;
  TraceKind kind = TraceKind::kTick;
  int node = -1;
  int peer = -1;
  pb::MessageType type = pb::MSG_UNKNOWN;
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  std::uint64_t log_term = 0;
  std::uint64_t commit = 0;
  std::uint64_t n_entries = 0;
  bool reject = false;
  std::uint64_t value = 0;
  std::string note;
};

class Trace {
 public:
  explicit Trace(bool keep_lines);

  void record(TraceRecord record);
  // Convenience for message events (deliver / drop): fills the message fields.
  void record_message(SimTime time, TraceKind kind, int to, int from, const pb::Message& message,
                      std::string note = {});

  std::uint64_t hash() const { return hash_; }
  std::uint64_t events() const { return events_; }
  // Every event as a line (empty unless keep_lines).
  const std::vector<std::string>& lines() const { return lines_; }
  // The last few events, one per line, for failure messages.
  std::string recent() const;

  static std::string format(const TraceRecord& record);

 private:
  static constexpr std::size_t kRecentEvents = 40;

  void mix(std::uint64_t value);
  void mix(std::string_view bytes);

  bool keep_lines_;
  std::uint64_t hash_;
  std::uint64_t events_ = 0;
  std::vector<std::string> lines_;
  std::deque<TraceRecord> recent_;
};

}  // namespace raft::sim
