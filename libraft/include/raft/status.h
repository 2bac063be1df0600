// Status and Result<T>: how errors cross libraft's public API (no exceptions escape).
// Plain values; any thread may use them.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

#include "raft/types.h"

namespace raft {

enum class ErrorCode {
  kOk = 0,
  kNotLeader,        // only the leader may do this; leader_hint() names it when known
  kProposalDropped,  // the leader refused a proposal (e.g. leadership transfer running)
  kTransferInProgress,
  kCompacted,    // the requested log position was compacted away
  kUnavailable,  // the requested log position does not exist (yet)
  kInvalidArgument,
  kIoError,
  kCorruption,
  kNotFound,
  kTimeout,
  kShutdown,
  // A membership change is refused for now: another one is not yet committed, or the leader
  // has not yet committed an entry of its own term. Retry later.
  kConfChangeInProgress,
  // A membership change guarded by a configuration index found a newer configuration.
  kStaleConfiguration,
  kAlreadyExists,  // e.g. bootstrapping a node that already has state
  // A command was appended on a leader that lost leadership, and a new leader overwrote
  // it: it will never be applied.
  kLeadershipLost,
  // The server at an address is not the one expected: its handshake names another id or
  // another cluster (e.g. a join with the wrong node id).
  kWrongPeer,
};

std::string_view to_string(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, NodeId leader_hint = {})
      : code_(code), message_(std::move(message)), leader_hint_(std::move(leader_hint)) {}

  static Status ok_status() { return Status(); }
  // kNotLeader with the leader the caller should go to ("" when none is known).
  static Status not_leader(NodeId leader);

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const NodeId& leader_hint() const { return leader_hint_; }
  // "ok", or "<code>: <message>".
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  NodeId leader_hint_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace raft
