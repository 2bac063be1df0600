// Ready: one batch of work the consensus core hands its host, and the persistence contract.
//
// The host takes a Ready from RawNode::ready(), acts on it in this order, then calls
// RawNode::advance():
//
//   1. `messages` may be sent at once, before anything is persisted. They are the leader's
//      AppendEntries, heartbeats, TimeoutNow and read answers, and a follower's forwarded read
//      requests, which depend only on state that was already durable (dissertation 10.2.1:
//      the leader writes its own log in parallel with replication; the core counts the
//      leader's own copy only after advance()). In a Ready whose `hard_state` changes the
//      term or the vote, they are all in `persisted_messages` instead: a leader elected alone
//      (the only voter) has its new term in that Ready, not yet on disk. `read_states` too may
//      be acted on at once: they depend on no persistence (see ReadState).
//   2. Write `snapshot_chunks` (a follower receiving a snapshot from the leader: each chunk
//      goes at its offset of the partial snapshot; offset 0 starts a new one). If `snapshot`
//      is set, the partial snapshot is complete: make it durable, restore the state machine
//      from it and reset the log to it (every entry dropped; first index = snapshot index +
//      1; the configuration is the snapshot's). Then append `entries` to the log (replacing
//      any conflicting suffix) and store `hard_state` if set, then make all of it durable.
//      `must_sync` says whether an fsync is needed at all (it is false when only the commit
//      index changed).
//   3. Only then send `persisted_messages`: votes and append acknowledgements promise that
//      what they acknowledge is on disk.
//   4. Apply `committed_entries` to the state machine, in order, exactly once. They are
//      already durable (the core hands out only entries that were persisted or are in this
//      Ready's `entries`, so step 2 comes first), and all of them follow `snapshot`, if set.
//      ENTRY_NORMAL entries are commands; ENTRY_CONF_CHANGE entries carry the configuration
//      now committed (the host keeps it: a snapshot taken at index i records the configuration
//      of the last one applied up to i); ENTRY_NOOP entries only advance the applied index.
//   5. Call advance(). The next ready() will not repeat anything in this one.
//
// Every message in a Ready carries the node's current term or a newer one (pre-votes): a
// message generated in an older term and overtaken by a term change before ready() is
// dropped, because its promise (a vote, an acknowledgement) was never made durable.
//
// A Ready is a plain value owned by the host.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// Volatile state, for the host's information only (never persisted).
struct SoftState {
  NodeId leader;  // empty when unknown
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// Part of a snapshot a follower receives from its leader (InstallSnapshot).
struct SnapshotChunk {
  pb::SnapshotMetadata metadata;  // the snapshot the chunk belongs to
  std::uint64_t offset = 0;       // where `data` goes in it
  std::string data;
};

// A read request (RawNode::read_index) that became safe, or failed. Linearizable reads
// (dissertation 6.4): once the host's state machine has applied `index` (on the node that
// asked), reading it returns a state at least as new as every write that completed before
// read_index() was called. The index is already committed, so a ReadState does not wait for
// anything in its Ready to be persisted. A lease read (ReadMode::kLease) within the leader's
// lease comes back in the next Ready with no round of messages; the guarantee is the same,
// under the lease's clock assumption (Config::lease_read).
struct ReadState {
  std::string context;  // as given to read_index()
  // ok: the read may be served once the state machine has applied `index`.
  // kNotLeader (leader lost, or the forwarded-to leader refused): retry.
  Index index = 0;
  Status status;
  // Status has no ==: the codes and leader hints are compared, not the messages.
  bool operator==(const ReadState& other) const {
    return context == other.context && index == other.index &&
           status.code() == other.status.code() &&
           status.leader_hint() == other.status.leader_hint();
  }
};

struct Ready {
  std::optional<SoftState> soft_state;           // set when leader or role changed
  std::optional<pb::HardState> hard_state;       // set when term, vote or commit changed
  std::vector<pb::Entry> entries;                // to append and make durable
  std::vector<pb::Message> messages;             // may be sent before persisting
  std::vector<pb::Message> persisted_messages;   // send only after persisting
  std::vector<pb::Entry> committed_entries;      // to apply, in order
  std::vector<SnapshotChunk> snapshot_chunks;    // to write, in order (before `snapshot`)
  std::optional<pb::SnapshotMetadata> snapshot;  // a received snapshot to install
  std::vector<ReadState> read_states;            // read requests answered, in request order
  bool must_sync = false;  // true when entries, a snapshot or term/vote changed (fsync)

  bool empty() const {
    return !soft_state && !hard_state && entries.empty() && messages.empty() &&
           persisted_messages.empty() && committed_entries.empty() && snapshot_chunks.empty() &&
           !snapshot && read_states.empty();
  }
};

}  // namespace raft
