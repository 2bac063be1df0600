// BenchConfig: what kvbench was asked to do, parsed from its command line (kvbench.cc) and
// read by the clients and the report.
//
// Ownership and threads: a plain value, built once before the worker threads start and then
// only read (by every thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "endpoint.h"

namespace kvbench {

enum class Target { kKvserver, kEtcd };
enum class Consistency { kLinearizable, kLeader, kStale };

const char* target_name(Target target);
const char* consistency_name(Consistency consistency);

struct BenchConfig {
  Target target = Target::kKvserver;
  std::vector<Endpoint> endpoints;
  int clients = 16;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 2;
  double write_ratio = 0.5;
  std::size_t value_size = 100;
  std::uint64_t keys = 1000;
  Consistency consistency = Consistency::kLinearizable;
  bool prefill = false;
  std::uint64_t seed = 1;
  std::chrono::milliseconds request_timeout{10'000};
  int max_redirects = 3;
  bool json = false;
};

}  // namespace kvbench
