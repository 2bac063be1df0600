// BenchConfig's names: see bench_config.h.
#include "bench_config.h"

namespace kvbench {

const char* target_name(Target target) { return target == Target::kEtcd ? "etcd" : "kvserver"; }

const char* consistency_name(Consistency consistency) {
  switch (consistency) {
    case Consistency::kLinearizable:
      return "linearizable";
    case Consistency::kLeader:
      return "leader";
    case Consistency::kStale:
      return "stale";
  }
  return "?";
}

}  // namespace kvbench
