#include "sim/sim_network.h"

#include <algorithm>

namespace raft::sim {

NetworkOptions NetworkOptions::reliable() { return NetworkOptions{}; }

NetworkOptions NetworkOptions::unreliable() {
  NetworkOptions options;
  options.min_delay = milliseconds(1);
  options.max_delay = milliseconds(25);
  options.long_delay_probability = 0.05;
  options.long_delay_max = milliseconds(400);
  options.drop_probability = 0.10;
  options.duplicate_probability = 0.02;
  return options;
}

std::uint64_t MessageStats::count(pb::MessageType type) const {
  const auto i = static_cast<std::size_t>(type);
  return i < by_type.size() ? by_type[i] : 0;
}

std::uint64_t MessageStats::total_append_rejections() const {
  std::uint64_t sum = 0;
  for (auto n : append_rejections) sum += n;
  return sum;
}

SimNetwork::SimNetwork(int num_nodes, NetworkOptions options)
    : options_(options),
      num_nodes_(static_cast<std::size_t>(num_nodes)),
      connected_(num_nodes_, true),
      group_(num_nodes_, 0),
      blocked_(num_nodes_ * num_nodes_, false) {
  stats_.append_rejections.assign(static_cast<std::size_t>(num_nodes), 0);
}

void SimNetwork::disconnect(int node) { connected_[static_cast<std::size_t>(node)] = false; }

void SimNetwork::connect(int node) { connected_[static_cast<std::size_t>(node)] = true; }

void SimNetwork::partition(const std::vector<std::vector<int>>& groups) {
  // Unlisted nodes get a group of their own (numbered after the listed groups).
  int next_alone = static_cast<int>(groups.size());
  for (auto& g : group_) g = next_alone++;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    for (int node : groups[gi]) group_[static_cast<std::size_t>(node)] = static_cast<int>(gi);
  }
}

void SimNetwork::heal() {
  for (auto& g : group_) g = 0;
  for (std::size_t i = 0; i < connected_.size(); ++i) connected_[i] = true;
  std::fill(blocked_.begin(), blocked_.end(), false);
}

std::size_t SimNetwork::link(int from, int to) const {
  return static_cast<std::size_t>(from) * num_nodes_ + static_cast<std::size_t>(to);
}

void SimNetwork::block_link(int from, int to) { blocked_[link(from, to)] = true; }

void SimNetwork::unblock_link(int from, int to) { blocked_[link(from, to)] = false; }

bool SimNetwork::link_blocked(int from, int to) const { return blocked_[link(from, to)]; }

void SimNetwork::bridge(const std::vector<int>& a, const std::vector<int>& b, int bridge_node) {
  for (int x : a) {
    for (int y : b) {
      if (x == bridge_node || y == bridge_node || x == y) continue;
      block_link(x, y);
      block_link(y, x);
    }
  }
}

bool SimNetwork::can_communicate(int from, int to) const {
  const auto f = static_cast<std::size_t>(from);
  const auto t = static_cast<std::size_t>(to);
  return connected_[f] && connected_[t] && group_[f] == group_[t] && !blocked_[link(from, to)];
}

void SimNetwork::count_sent(int from, const pb::Message& message) {
  ++stats_.total;
  const auto type = static_cast<std::size_t>(message.type());
  if (type < stats_.by_type.size()) ++stats_.by_type[type];
  if (message.type() == pb::MSG_APPEND && message.entries_size() > 0) {
    ++stats_.appends_with_entries;
    stats_.entries_sent += static_cast<std::uint64_t>(message.entries_size());
  }
  if (message.type() == pb::MSG_APPEND_RESP && message.reject()) {
    ++stats_.append_rejections[static_cast<std::size_t>(from)];
  }
}

SimTime SimNetwork::delay(SimRandom& random) const {
  if (options_.long_delay_probability > 0 && random.chance(options_.long_delay_probability)) {
    return random.uniform_signed(options_.min_delay,
                                 std::max(options_.min_delay, options_.long_delay_max));
  }
  return random.uniform_signed(options_.min_delay,
                               std::max(options_.min_delay, options_.max_delay));
}

Route SimNetwork::route(SimRandom& random) {
  Route r;
  if (options_.drop_probability > 0 && random.chance(options_.drop_probability)) {
    ++stats_.dropped;
    return r;
  }
  r.copies = 1;
  r.delays[0] = delay(random);
  if (options_.duplicate_probability > 0 && random.chance(options_.duplicate_probability)) {
    ++stats_.duplicated;
    r.copies = 2;
    r.delays[1] = delay(random);
  }
  return r;
}

void SimNetwork::reset_stats() {
  const std::size_t n = stats_.append_rejections.size();
  stats_ = MessageStats{};
  stats_.append_rejections.assign(n, 0);
}

}  // namespace raft::sim
