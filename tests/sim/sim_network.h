// SimNetwork: the simulated network between the nodes of a SimCluster. It decides, with the
// run's SimRandom, whether a message is dropped, duplicated or delayed (and by how much), and
// whether two nodes can talk at all (disconnected nodes, partitions and one-way blocked
// links). It also counts what the nodes send. It holds no messages: SimCluster owns the event
// queue. Owned by SimCluster.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "raft/raft.pb.h"
#include "sim/sim_random.h"
#include "sim/sim_time.h"

namespace raft::sim {

struct NetworkOptions {
  // Every delivered copy takes a delay uniform in [min_delay, max_delay]...
  SimTime min_delay = milliseconds(1);
  SimTime max_delay = milliseconds(5);
  // ...or, with this probability, a long delay uniform in [min_delay, long_delay_max], which
  // reorders messages heavily.
  double long_delay_probability = 0.0;
  SimTime long_delay_max = 0;
  double drop_probability = 0.0;
  double duplicate_probability = 0.0;

  // Small delays, no loss: messages may still overtake each other.
  static NetworkOptions reliable();
  // ~10% loss, 2% duplicates, delays up to 25 ms and 5% up to 400 ms (several election
  // timeouts), so messages arrive badly out of order.
  static NetworkOptions unreliable();
};

// What the nodes handed the network (counted when sent, whether or not delivered).
struct MessageStats {
  std::uint64_t total = 0;
  std::array<std::uint64_t, 16> by_type{};
  // Entries carried by MSG_APPEND messages.
  std::uint64_t entries_sent = 0;
  // MSG_APPEND messages that carried at least one entry.
  std::uint64_t appends_with_entries = 0;
  // MSG_APPEND_RESP messages with reject set, by sender (each is one failed AppendEntries
  // round trip: the leader has to back up and try again).
  std::vector<std::uint64_t> append_rejections;
  std::uint64_t dropped = 0;
  std::uint64_t duplicated = 0;

  std::uint64_t count(pb::MessageType type) const;
  std::uint64_t total_append_rejections() const;
};

// The fate of one sent message: how many copies arrive, and after which delays.
struct Route {
  int copies = 0;
  std::array<SimTime, 2> delays{};
};

class SimNetwork {
 public:
  SimNetwork(int num_nodes, NetworkOptions options);

  const NetworkOptions& options() const { return options_; }
  void set_options(const NetworkOptions& options) { options_ = options; }

  // A disconnected node neither sends nor receives anything.
  void disconnect(int node);
  void connect(int node);
  bool connected(int node) const { return connected_[static_cast<std::size_t>(node)]; }
  // Splits the nodes into groups; messages cross only within a group. A node listed in no
  // group is alone. Connection flags are unchanged.
  void partition(const std::vector<std::vector<int>>& groups);
  // One group again, every node connected and no link blocked.
  void heal();
  // One-way link faults: a blocked link drops every message from `from` to `to`, while
  // messages from `to` to `from` still cross (unless that link is blocked too).
  void block_link(int from, int to);
  void unblock_link(int from, int to);
  bool link_blocked(int from, int to) const;
  // Blocks every link between a node of `a` and a node of `b`, both ways, except links of
  // `bridge_node` (which may be listed in a group or not). Nothing else changes.
  void bridge(const std::vector<int>& a, const std::vector<int>& b, int bridge_node);
  // Whether a message from `from` reaches `to` now (both connected, same group, link not
  // blocked).
  bool can_communicate(int from, int to) const;

  // Counts a message a node sent.
  void count_sent(int from, const pb::Message& message);
  // Decides the fate of a message that may cross (random loss, duplication and delay).
  Route route(SimRandom& random);

  const MessageStats& stats() const { return stats_; }
  void reset_stats();

 private:
  SimTime delay(SimRandom& random) const;
  std::size_t link(int from, int to) const;

  NetworkOptions options_;
  std::size_t num_nodes_;
  std::vector<bool> connected_;
  std::vector<int> group_;
  // blocked_[link(from, to)]: the one-way link from -> to drops everything.
  std::vector<bool> blocked_;
  MessageStats stats_;
};

}  // namespace raft::sim
