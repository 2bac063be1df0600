// Metrics: kvserver's counters and histograms, rendered in the Prometheus text format
// (version 0.0.4) for GET /metrics. Thread-safe: HTTP and Raft threads record, any thread
// renders.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace kv {

class Metrics {
 public:
  // One answered HTTP request: `route` is the route pattern ("/store/{key}"), `code` the
  // status sent.
  void count_request(std::string_view route, int code);
  // Time from receiving a write until the state machine applied it.
  void observe_apply(std::chrono::nanoseconds latency);
  // Time a linearizable read waited for its read point.
  void observe_read_index(std::chrono::nanoseconds latency);

  // The whole exposition: the metrics above plus the Raft gauges taken from `raft_stats`
  // (raft::Raft::stats(); empty while Raft is not running).
  std::string render(const std::map<std::string, std::string>& raft_stats) const;

 private:
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

  struct Histogram {
    void observe(std::chrono::nanoseconds latency);
    void render(std::string& out, std::string_view name, std::string_view help) const;
    std::array<std::atomic<std::uint64_t>, kBuckets.size()> counts{};  // cumulative later
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_ns{0};
  };

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  Histogram apply_;
  Histogram read_index_;
};

}  // namespace kv
