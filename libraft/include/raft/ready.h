// Ready: one batch of work the consensus core hands its host, and the persistence contract.
//
// The host takes a Ready from RawNode::ready(), acts on it in this order, then calls
// RawNode::advance():
//
//   1. `messages` may be sent at once, before anything is persisted. They are the leader's
//      AppendEntries, heartbeats and TimeoutNow, which depend only on state that was already
//      durable (dissertation 10.2.1: the leader writes its own log in parallel with
//      replication; the core counts the leader's own copy only after advance()).
//   2. Append `entries` to the log (replacing any conflicting suffix) and store `hard_state`
//      if set, then make both durable (one fsync). `must_sync` says whether an fsync is
//      needed at all (it is false when only the commit index changed).
//   3. Only then send `persisted_messages`: votes and append acknowledgements promise that
//      what they acknowledge is on disk.
//   4. Apply `committed_entries` to the state machine, in order, exactly once. They are
//      already durable (the core hands out only entries that were persisted or are in this
//      Ready's `entries`, so step 2 comes first).
//   5. Call advance(). The next ready() will not repeat anything in this one.
//
// Every message in a Ready carries the node's current term or a newer one (pre-votes): a
// message generated in an older term and overtaken by a term change before ready() is
// dropped, because its promise (a vote, an acknowledgement) was never made durable.
//
// A Ready is a plain value owned by the host.
#pragma once

#include <optional>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace raft {

// Volatile state, for the host's information only (never persisted).
struct SoftState {
  NodeId leader;  // empty when unknown
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  std::optional<SoftState> soft_state;          // set when leader or role changed
  std::optional<pb::HardState> hard_state;      // set when term, vote or commit changed
  std::vector<pb::Entry> entries;               // to append and make durable
  std::vector<pb::Message> messages;            // may be sent before persisting
  std::vector<pb::Message> persisted_messages;  // send only after persisting
  std::vector<pb::Entry> committed_entries;     // to apply, in order
  bool must_sync = false;  // true when entries or term/vote changed (fsync needed)

  bool empty() const {
    return !soft_state && !hard_state && entries.empty() && messages.empty() &&
           persisted_messages.empty() && committed_entries.empty();
  }
};

}  // namespace raft
