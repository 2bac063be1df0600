// RawNode: the deterministic Raft consensus core, driven by its host.
//
// A RawNode has no threads, sockets, clocks, files or hidden randomness. The host feeds it
// time (tick), network input (step) and requests (propose, read_index, campaign,
// transfer_leadership), and drains its output as Ready batches (see ready.h for the
// persistence contract):
//
//   while (running) {
//     wait for a tick, a message or a request, and hand it to the node;
//     if (!node.has_ready()) continue;
//     raft::Ready rd = node.ready();
//     send(rd.messages);
//     for (auto& rs : rd.read_states) serve_once_applied(rs);  // no persistence needed
//     log.append(rd.entries); if (rd.hard_state) log.set_hard_state(*rd.hard_state); fsync;
//     send(rd.persisted_messages);
//     for (auto& e : rd.committed_entries) apply(e);
//     node.advance();
//   }
//
// The host owns the RawNode and the LogReader it reads; one thread at a time may call it.
// Every call between ready() and advance() is allowed; has_ready() is false until advance().
#pragma once

#include <map>
#include <memory>
#include <string>

#include "raft/config.h"
#include "raft/configuration.h"
#include "raft/log_storage.h"
#include "raft/raft.pb.h"
#include "raft/ready.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

namespace core {
class Consensus;
}

// How the leader is replicating to one peer.
enum class ProgressState {
  kProbe,      // position unknown: one AppendEntries at a time until one is accepted
  kReplicate,  // position known: AppendEntries pipelined, bounded by max_inflight_msgs
  kSnapshot,   // needs compacted entries: InstallSnapshot chunks, one at a time
};
std::string_view to_string(ProgressState state);

// The leader's view of one peer.
struct PeerProgress {
  Index match = 0;  // highest index known to be durable on the peer
  Index next = 0;   // next index to send
  ProgressState state = ProgressState::kProbe;
  std::size_t inflight = 0;  // AppendEntries messages not yet acknowledged
  bool recent_active = false;
  std::uint64_t snapshot_offset = 0;  // kSnapshot: bytes the peer has acknowledged
};

// How RawNode::read_index proves that the leader still leads when it takes a read point.
enum class ReadMode {
  // ReadIndex (dissertation 6.4): a heartbeat round acknowledged by a quorum of voters.
  kReadIndex,
  // Leader lease (dissertation 6.4.1, Config::lease_read): no round while the lease holds;
  // otherwise a kReadIndex read. Leader only.
  kLease,
};
std::string_view to_string(ReadMode mode);

// A snapshot of a node's state, for tests, metrics and operators.
struct NodeStatus {
  NodeId id;
  Role role = Role::kFollower;
  Term term = 0;
  NodeId vote;
  NodeId leader;
  Index commit = 0;
  Index applied = 0;
  Index last_index = 0;
  Term last_term = 0;
  NodeId transfer_target;  // leader only: ongoing leadership transfer, or empty
  // The newest configuration in this node's log (in force: it may not be committed yet), and
  // the index of the entry that carried it (0: the initial configuration).
  pb::Configuration configuration;
  Index configuration_index = 0;
  // Whether this node is part of its newest configuration (false for a node waiting to be
  // added, or one that was removed).
  bool in_configuration = false;
  std::map<NodeId, PeerProgress> progress;  // leader only, including itself
};

class RawNode {
 public:
  // Builds a node from the durable state in `log` (hard state, configuration, entries).
  // `log` is not owned and must outlive the node.
  static Result<std::unique_ptr<RawNode>> create(const Config& config, const LogReader* log);
  ~RawNode();
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  // Advances the logical clock by one tick (elections, heartbeats, CheckQuorum, transfer
  // timeouts).
  void tick();
  // Starts an election now (PreVote first when configured). Error if this node cannot vote.
  Status campaign();
  // Appends `data` as a new entry if this node is leader and returns its index. Proposals
  // made between two ready() calls leave in one AppendEntries per follower.
  // Errors: kNotLeader (leader_hint() names the leader when known), kTransferInProgress.
  Result<Index> propose(std::string data);
  // Hands the node a message received from a peer. Messages from older terms are dropped
  // (with an answer where that helps the sender catch up); vote requests are answered
  // whatever this node's configuration says of the candidate (configurations differ while
  // a change travels), except while a leader is known within the election timeout.
  // Errors: kInvalidArgument for a message not addressed to this node or of unknown type,
  // kCorruption if the message would contradict committed state (the node refuses it).
  // The rvalue overload moves the message's entries into the log instead of copying them.
  Status step(const pb::Message& message);
  Status step(pb::Message&& message);
  // Leader only: hands leadership to `target` once it is caught up (TimeoutNow); aborts
  // after an election timeout. Proposals are refused while a transfer runs.
  Status transfer_leadership(const NodeId& target);
  // Leader only: appends the configuration that `change` makes (see configuration.h) and
  // returns its index; it is in force at once, and done when that index commits. A server
  // added as a voter joins as STAGING and the leader promotes it by itself once caught up.
  // A leader that removes or demotes itself leads until the change commits, then hands
  // leadership to the most up-to-date voter and steps down.
  // Errors: kNotLeader; kConfChangeInProgress (an earlier change is not committed, or this
  // leader has not yet committed an entry of its term: retry); kStaleConfiguration
  // (prev_index guard); kNotFound (unknown server); kInvalidArgument (no voter would be
  // left, empty id or address); kTransferInProgress.
  Result<Index> propose_conf_change(const ConfChange& change);
  // Asks for a linearizable read point. `context` identifies the request (unique per pending
  // request; the host's choice). On the leader: once a quorum of voters has acknowledged a
  // heartbeat sent after this call, a ReadState {context, index = commit index at the time
  // of the call} is handed out in a Ready. A leader that has not yet committed an entry of
  // its own term waits for that first (the index is then its commit index at that moment).
  // A single-voter cluster answers at once. On a follower: the request is forwarded to the
  // leader (MSG_READ_INDEX) and the leader's answer comes back as a ReadState. Errors
  // (returned at once): kNotLeader when no leader is known (leader_hint empty). Requests
  // pending when the node loses leadership, or refused by the leader, come back as
  // ReadStates with status kNotLeader.
  //
  // Batching: every request taken between two ready() calls shares one heartbeat round.
  // Answers come in request order. A leader with a leadership transfer in progress still
  // serves kReadIndex reads (it leads until the target's election, which the quorum check detects).
  // A forwarded request or its answer may be lost on the network (or dropped when the
  // follower's term moves on): the host must time out a request it got no ReadState for,
  // and retry with a new context.
  //
  // ReadMode::kLease (a leader lease read, Config::lease_read): on a leader whose lease
  // holds, the ReadState {context, commit index} is handed out in the next Ready, with no
  // message sent. The lease holds when Config::lease_read is on, the leader has committed
  // an entry of its term, no leadership transfer is in progress, it has sent no TimeoutNow
  // in this term (the target's election ignores the followers' lease), and its tick count
  // is below S + election_tick - 1 - lease_drift_ticks, where S is the tick at which the
  // newest heartbeat round that a quorum of voters (itself included) acknowledged was sent
  // (send time: an acknowledgement that arrives late extends nothing; see config.h for the
  // clock assumption). Otherwise the request becomes a kReadIndex read, so a lease read never
  // answers what a ReadIndex read would not. A lease read may be answered before kReadIndex
  // requests taken earlier that still wait for their round. On a non-leader a kLease read is
  // refused at once: kNotLeader, leader_hint() naming the leader when known (it is not
  // forwarded: the host sends the client to the leader).
  Status read_index(std::string context, ReadMode mode = ReadMode::kReadIndex);

  bool has_ready() const;
  Ready ready();
  // Tells the node that the last Ready was acted upon in full (persisted, sent, applied).
  void advance();

  NodeStatus status() const;
  Role role() const;
  Term term() const;
  const NodeId& leader() const;
  const NodeId& id() const;

 private:
  explicit RawNode(std::unique_ptr<core::Consensus> consensus);
  std::unique_ptr<core::Consensus> consensus_;
};

}  // namespace raft
