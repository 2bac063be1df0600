#include "raft/config.h"

#include <fmt/format.h>

#include "raft/configuration.h"

namespace raft {

Status Config::validate() const {
  auto invalid = [](std::string msg) {
    return Status(ErrorCode::kInvalidArgument, std::move(msg));
  };
  if (Status s = validate_server_id(id, "config: id"); !s.ok()) return s;
  if (heartbeat_tick <= 0)
    return invalid(fmt::format("config: heartbeat_tick must be > 0, got {}", heartbeat_tick));
  if (election_tick <= heartbeat_tick)
    return invalid(
        fmt::format("config: election_tick ({}) must be greater than heartbeat_tick ({})",
                    election_tick, heartbeat_tick));
  if (lease_read && !check_quorum)
    return invalid("config: lease_read requires check_quorum (the follower lease it relies on)");
  if (lease_drift_ticks < 0)
    return invalid(
        fmt::format("config: lease_drift_ticks must be >= 0, got {}", lease_drift_ticks));
  if (lease_read && lease_drift_ticks >= election_tick - 1)
    return invalid(
        fmt::format("config: with lease_read, lease_drift_ticks ({}) must be below "
                    "election_tick - 1 ({}): the lease would be empty",
                    lease_drift_ticks, election_tick - 1));
  if (max_inflight_msgs == 0) return invalid("config: max_inflight_msgs must be > 0");
  if (max_snapshot_chunk == 0) return invalid("config: max_snapshot_chunk must be > 0");
  if (catchup_rounds < 1) return invalid("config: catchup_rounds must be >= 1");
  if (max_size_per_msg == 0) return invalid("config: max_size_per_msg must be > 0");
  if (max_committed_size_per_ready == 0)
    return invalid("config: max_committed_size_per_ready must be > 0");
  return {};
}

}  // namespace raft
