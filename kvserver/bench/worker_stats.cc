// WorkerStats: see worker_stats.h.
#include "worker_stats.h"

namespace kvbench {

void OpStats::merge(const OpStats& other) {
  latency.merge(other.latency);
  ok += other.ok;
  not_found += other.not_found;
  errors += other.errors;
}

void WorkerStats::merge(const WorkerStats& other) {
  reads.merge(other.reads);
  writes.merge(other.writes);
  for (const auto& [kind, count] : other.errors) errors[kind] += count;
  connect_failures += other.connect_failures;
  redirects += other.redirects;
  reconnects += other.reconnects;
}

}  // namespace kvbench
