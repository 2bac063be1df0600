#include "raft/status.h"

#include <fmt/format.h>

namespace raft {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kNotLeader:
      return "not leader";
    case ErrorCode::kProposalDropped:
      return "proposal dropped";
    case ErrorCode::kTransferInProgress:
      return "leadership transfer in progress";
    case ErrorCode::kCompacted:
      return "compacted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kIoError:
      return "I/O error";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kShutdown:
      return "shut down";
    case ErrorCode::kConfChangeInProgress:
      return "configuration change in progress";
    case ErrorCode::kStaleConfiguration:
      return "configuration changed";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kLeadershipLost:
      return "leadership lost";
    case ErrorCode::kWrongPeer:
      return "wrong peer";
  }
  return "unknown error";
}

Status Status::not_leader(NodeId leader) {
  std::string msg = leader.empty()
                        ? std::string("this node is not the leader; no leader is known")
                        : fmt::format("this node is not the leader; the leader is {}", leader);
  return Status(ErrorCode::kNotLeader, std::move(msg), std::move(leader));
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", raft::to_string(code_), message_);
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kFollower:
      return "Follower";
    case Role::kPreCandidate:
      return "PreCandidate";
    case Role::kCandidate:
      return "Candidate";
    case Role::kLeader:
      return "Leader";
  }
  return "Unknown";
}

}  // namespace raft
