// WorkerStats: what one worker thread's clients measured inside the measurement window —
// latency histograms and counts per operation type, errors by kind — and the merge of every
// thread's into the run's total.
//
// Ownership and threads: each worker thread owns one and is the only one to touch it while
// it runs; main merges them after joining the threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "latency_histogram.h"

namespace kvbench {

struct OpStats {
  LatencyHistogram latency;     // successful operations only
  std::uint64_t ok = 0;         // successes (404s included)
  std::uint64_t not_found = 0;  // reads answered 404 (kvserver) or with no kvs (etcd)
  std::uint64_t errors = 0;     // failed operations (not in `latency`)

  void merge(const OpStats& other);
};

struct WorkerStats {
  OpStats reads;
  OpStats writes;
  std::map<std::string, std::uint64_t> errors;  // "http 503", "timeout", ... (ops and connects)
  std::uint64_t connect_failures = 0;           // connects that failed (not operations)
  std::uint64_t redirects = 0;                  // 307s followed
  std::uint64_t reconnects = 0;                 // connections opened after the first

  void merge(const WorkerStats& other);
};

}  // namespace kvbench
