// BenchReport: kvbench's results — operations per second and latency percentiles for reads
// and writes, error counts — as an aligned table for people or one JSON line for scripts.
//
// JSON keys (flat, so that a shell script can pick them with grep): target, endpoints,
// clients, threads, duration_s, warmup_s, write_ratio, value_size, keys, consistency, then
// for op in read, write: <op>_ops, <op>_ops_per_s, <op>_errors, <op>_not_found,
// <op>_mean_ms, <op>_p50_ms, <op>_p90_ms, <op>_p99_ms, <op>_p999_ms, <op>_max_ms; then
// total_ops_per_s, total_errors, connect_failures, redirects, reconnects, and "errors": an
// object of counts by kind ("http 503", "timeout", ...).
//
// Ownership and threads: a plain object built by main after the workers stopped.
#pragma once

#include <ostream>
#include <string>

#include "bench_config.h"
#include "worker_stats.h"

namespace kvbench {

class BenchReport {
 public:
  BenchReport(const BenchConfig& config, const WorkerStats& stats)
      : config_(config), stats_(stats) {}

  void print_table(std::ostream& out) const;
  std::string json_line() const;

 private:
  const BenchConfig& config_;
  const WorkerStats& stats_;
};

}  // namespace kvbench
