#include "kvserver/metrics.h"

#include <fmt/format.h>

#include <cstdlib>

namespace kv {

void Metrics::count_request(std::string_view route, int code) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), code}];
}

void Metrics::observe_apply(std::chrono::nanoseconds latency) { apply_.observe(latency); }

void Metrics::observe_read_index(std::chrono::nanoseconds latency) { read_index_.observe(latency); }

void Metrics::Histogram::observe(std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      counts[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count.fetch_add(1, std::memory_order_relaxed);
  sum_ns.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
}

void Metrics::Histogram::render(std::string& out, std::string_view name,
                                std::string_view help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += counts[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBuckets[i], cumulative);
  }
  const std::uint64_t total = count.load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, total);
  out += fmt::format("{}_sum {}\n", name, static_cast<double>(sum_ns.load()) / 1e9);
  out += fmt::format("{}_count {}\n", name, total);
}

std::string Metrics::render(const std::map<std::string, std::string>& raft_stats) const {
  std::string out;
  auto gauge = [&](std::string_view name, std::string_view help, std::string_view key) {
    auto it = raft_stats.find(std::string(key));
    if (it == raft_stats.end()) return;
    char* end = nullptr;
    const double value = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str()) return;
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  gauge("kvserver_raft_term", "Current Raft term.", "term");
  gauge("kvserver_raft_commit_index", "Highest log index known committed.", "commit_index");
  gauge("kvserver_raft_applied_index", "Highest log index applied to the store.", "applied_index");
  gauge("kvserver_raft_last_log_index", "Index of the last log entry.", "last_log_index");
  gauge("kvserver_raft_last_snapshot_index", "Index covered by the newest snapshot.",
        "last_snapshot_index");
  gauge("kvserver_raft_peers", "Other servers in the configuration.", "num_peers");
  if (auto it = raft_stats.find("state"); it != raft_stats.end()) {
    out += "# HELP kvserver_raft_state 1 for this node's Raft state.\n";
    out += "# TYPE kvserver_raft_state gauge\n";
    for (const char* state : {"Follower", "Candidate", "Leader", "Shutdown"}) {
      out += fmt::format("kvserver_raft_state{{state=\"{}\"}} {}\n", state,
                         it->second == state ? 1 : 0);
    }
  }
  apply_.render(out, "kvserver_apply_latency_seconds",
                "Time from receiving a write to applying it on this (leader) node.");
  read_index_.render(out, "kvserver_read_index_latency_seconds",
                     "Time a linearizable read waited for its read point.");
  out += "# HELP kvserver_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE kvserver_http_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, count] : requests_) {
    out += fmt::format("kvserver_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", key.first,
                       key.second, count);
  }
  return out;
}

}  // namespace kv
