// Consensus: the Raft protocol state machine behind RawNode (figure 2 of the Raft paper plus
// PreVote, CheckQuorum, leadership transfer and ReadIndex from the dissertation).
//
// Role logic is split by role: consensus.cc holds what every role shares (terms, votes,
// ticks, message dispatch, Ready assembly), step_leader.cc / step_candidate.cc /
// step_follower.cc what each role does with a message, read_index.cc linearizable reads. Owned by
// RawNode; single-threaded; no I/O: everything leaves through Ready.
#pragma once

#include <fmt/format.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/configuration_history.h"
#include "core/progress.h"
#include "core/quorum.h"
#include "core/raft_log.h"
#include "core/rng.h"
#include "raft/config.h"
#include "raft/log_storage.h"
#include "raft/raw_node.h"
#include "raft/ready.h"

namespace raft::core {

class Consensus {
 public:
  Consensus(const Config& config, const LogReader* storage, const InitialState& initial);

  void tick();
  Status campaign();
  Result<Index> propose(std::string data);
  // The message's entries may be moved out (see RawNode::step).
  Status step(pb::Message& m);
  Status transfer_leadership(const NodeId& target);
  Result<Index> propose_conf_change(const ConfChange& change);
  Status read_index(std::string context, ReadMode mode);

  bool has_ready() const;
  Ready ready();
  void advance();

  NodeStatus status() const;
  Role role() const { return role_; }
  Term term() const { return term_; }
  const NodeId& leader() const { return lead_; }
  const NodeId& id() const { return id_; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  // --- roles (consensus.cc) ---
  void become_follower(Term term, const NodeId& lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void start_campaign(CampaignType type);
  // Records a vote from `from` and returns the outcome so far.
  VoteResult poll(const NodeId& from, bool granted);
  bool promotable() const { return voters_.count(id_) > 0; }
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void reset_randomized_election_timeout();
  void tick_election();
  void tick_heartbeat();
  void handle_vote_request(const pb::Message& m);
  Status step_checked(pb::Message& m);

  // --- membership (membership.cc) ---
  // Reads the configuration entries of the durable log (at start).
  void load_configurations(const pb::Configuration& base);
  // Makes the newest configuration of configs_ the one in force (voters, progress).
  void apply_latest_configuration();
  // Entries from index `from` on were written to the log (after a truncation there when
  // `truncated`): records the configurations among them.
  void note_appended(const std::vector<pb::Entry>& entries, Index from, bool truncated);
  Status check_can_change_configuration() const;
  void maybe_promote_staging();
  // A leader that is no longer a voter, once that is committed: hand over and step down.
  void maybe_step_down_removed();

  // --- snapshots (snapshot.cc) ---
  bool start_snapshot(const NodeId& to, Progress& pr);
  bool send_snapshot_chunk(const NodeId& to, Progress& pr);
  void handle_snapshot(const pb::Message& m);
  void handle_snapshot_response(const pb::Message& m, Progress& pr);
  void retry_snapshot_chunk(const NodeId& to, Progress& pr);

  // --- per role (step_*.cc) ---
  void step_leader(const pb::Message& m);
  void step_candidate(pb::Message& m);
  void step_follower(pb::Message& m);

  // --- follower side of replication (step_follower.cc) ---
  void handle_append(pb::Message& m);  // moves the entries out of m
  void handle_heartbeat(const pb::Message& m);

  // --- leader side of replication (step_leader.cc) ---
  void handle_append_response(const pb::Message& m, Progress& pr);
  void handle_heartbeat_response(const pb::Message& m, Progress& pr);
  bool maybe_send_append(const NodeId& to, bool send_if_empty);
  void send_append(const NodeId& to) { maybe_send_append(to, true); }
  void bcast_append();
  void bcast_heartbeat();
  void send_timeout_now(const NodeId& to);
  bool maybe_commit();
  bool quorum_active();
  void abort_leader_transfer();
  void append_entry(pb::EntryType type, std::string data);

  // --- ReadIndex (read_index.cc) ---
  // A read request the leader holds: taken at `seq`, it is confirmed once a quorum of voters
  // echoed a heartbeat of read sequence `seq` or later (each was sent after it was taken).
  struct PendingRead {
    std::string context;
    NodeId from;            // who asked: this node, or a follower that forwarded it
    Index index = 0;        // the read point: the commit index when the request was taken
    std::uint64_t seq = 0;  // the heartbeat round that confirms it
  };
  // Leader: takes a request of this node or of a follower.
  void take_read(std::string context, const NodeId& from);
  // Leader: sets the read point of `read` and queues it for the next heartbeat round.
  void queue_read(PendingRead read);
  // Leader: answers, in order, the requests a quorum of voters has confirmed.
  void confirm_reads();
  // Hands out a ReadState (own request) or sends MSG_READ_INDEX_RESP (a follower's).
  void answer_read(const PendingRead& read, Status status);
  // Leader: once an entry of its term is committed, takes the requests that waited for it.
  void release_waiting_reads();
  // Leadership lost: fails every pending request; a follower's is answered with a reject
  // only if the term stays (a message of an older term would be dropped anyway).
  void fail_pending_reads(bool same_term);
  // Non-leader: refuses a forwarded request.
  void refuse_read_index(const pb::Message& m);
  // Non-leader: the leader's answer to a request this node forwarded.
  void handle_read_index_response(const pb::Message& m);
  bool committed_in_term() const { return log_.term_or_zero(log_.committed()) == term_; }
  // Leader: the highest read round a quorum of voters acknowledged (the leader counting itself).
  std::uint64_t quorum_read_ack() const;
  // Leader: whether the round that reads_ wait for may leave now: one round is in flight at
  // a time, the next leaving once a quorum answered the last, or a tick after it left.
  bool read_round_due() const;

  // --- leader lease (read_index.cc) ---
  // Leader: whether a lease read may be answered now without a round (see RawNode::read_index).
  bool lease_holds() const;
  // Leader: the tick at which the newest heartbeat round acknowledged by a quorum of voters
  // (the leader counting itself, at the current tick) was sent; nullopt if none is known.
  std::optional<std::int64_t> quorum_ack_send_tick() const;
  // Leader: the tick at which the heartbeat round `seq` was sent, if still remembered.
  std::optional<std::int64_t> round_send_tick(std::uint64_t seq) const;
  // Leader: a heartbeat round `seq` leaves now; forgets rounds too old to hold a lease.
  void note_round_sent(std::uint64_t seq);
  // Whether a vote request may be ignored because a leader is (or, just after a restart, may
  // be) alive: the follower lease the leader lease relies on.
  bool in_follower_lease() const;

  // --- output ---
  pb::Message make_message(pb::MessageType type, const NodeId& to) const;
  void send(pb::Message m);
  pb::HardState hard_state() const;
  // Removes messages whose term is older than the current one (see ready()).
  void drop_stale(std::vector<pb::Message>& msgs) const;
  SoftState soft_state() const { return SoftState{lead_, role_}; }

  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) const {
    if (level < logger_->min_level()) return;
    logger_->log(level, fmt::format("[{} term {}] {}", id_, term_,
                                    fmt::format(format, std::forward<Args>(args)...)));
  }

  const NodeId id_;
  const Config config_;
  Logger* logger_;
  Rng rng_;
  RaftLog log_;

  Term term_ = 0;
  NodeId vote_;
  NodeId lead_;
  Role role_ = Role::kFollower;

  ConfigurationHistory configs_;
  std::set<NodeId> voters_;
  std::set<NodeId> members_;             // voters and non-voters
  std::set<NodeId> staging_;             // non-voters to promote once caught up
  std::map<NodeId, Progress> progress_;  // leader only
  std::map<NodeId, bool> votes_;         // candidate / pre-candidate only
  NodeId lead_transferee_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::int64_t leader_ticks_ = 0;  // ticks as leader (catch-up rounds, snapshot retries)
  // A removed leader tried to hand over before stepping down (see maybe_step_down_removed).
  bool removal_transfer_tried_ = false;

  // Follower: the snapshot being received from the leader.
  struct IncomingSnapshot {
    pb::SnapshotMetadata metadata;
    NodeId from;
    Term term = 0;
    std::uint64_t next_offset = 0;
  };
  std::optional<IncomingSnapshot> incoming_;
  std::vector<SnapshotChunk> snapshot_chunks_;  // received, for the next Ready
  bool pending_bcast_ = false;  // proposals waiting to leave as one append per follower

  // Leader lease. Every heartbeat round has its own read sequence number; the leader keeps
  // the tick each recent round left at (leader_ticks_), oldest first.
  std::deque<std::pair<std::uint64_t, std::int64_t>> round_ticks_;
  // A TimeoutNow left in this term: its target's election ignores the follower lease, so no
  // lease holds for the rest of the term.
  bool timeout_now_sent_ = false;
  // Config::lease_read: a node that started with a durable term ignores vote requests during
  // its first election timeout (it may have acknowledged a leader's heartbeat before a crash).
  bool restart_guard_ = false;

  // ReadIndex. The sequence number only grows over the node's life; heartbeats carry it.
  std::deque<PendingRead> reads_;                   // leader: awaiting a quorum, in order
  std::vector<PendingRead> reads_awaiting_commit_;  // leader: before its first commit in term
  std::uint64_t read_seq_ = 0;                      // the last read round sent
  bool read_round_pending_ = false;     // reads_ wait for a round (sent at the next ready())
  std::int64_t read_round_tick_ = -1;   // leader_ticks_ when the last round left (-1: none)
  std::vector<ReadState> read_states_;  // for the next Ready

  std::vector<pb::Message> msgs_;                // may leave before persistence
  std::vector<pb::Message> msgs_after_persist_;  // leave after persistence

  // What the last Ready handed out, acknowledged by advance().
  SoftState prev_soft_;
  pb::HardState prev_hard_;
  bool ready_outstanding_ = false;
  std::optional<std::pair<Index, Term>> ready_last_entry_;
  Index ready_last_committed_ = 0;
  std::optional<Index> ready_snapshot_index_;
};

}  // namespace raft::core
