// Config: the parameters of one consensus core (RawNode). Owned by the caller; copied at
// construction. Times are in ticks: the host decides how long a tick is (e.g. 100 ms).
#pragma once

#include <cstdint>

#include "raft/logger.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

// Deliberate protocol bugs, switched on only by tests, to prove that the simulator's checks
// catch real mistakes (a checker that never fails checks nothing). All off by default; never
// set them in a real deployment.
struct InjectedBugs {
  // Commit an entry of an earlier term by counting replicas (the figure-8 mistake). Note:
  // a new leader's no-op travels right behind the older entries, so their early commit
  // becomes legal one message later; random runs almost never hit the window, and the
  // scripted figure 8 on the simulator (tests/sim/figure8_bug_test.cc) catches it.
  bool commit_old_term_by_counting = false;
  // Grant a vote without checking that the candidate's log is at least as up to date.
  bool vote_without_log_check = false;
  // Answer a vote without making it durable (the hard state is written without it).
  bool forget_to_persist_vote = false;
  // Follower treats every entry it appended as committed, and applies it.
  bool apply_before_commit = false;
  // ReadIndex: the leader answers a read as soon as it has committed an entry of its term,
  // without the heartbeat round that confirms it still leads (a deposed leader serves stale
  // reads).
  bool read_index_without_quorum = false;
  // Lease reads: once it has committed an entry of its term, the leader serves lease reads
  // locally however long ago a quorum last acknowledged it (a leader cut off from its peers
  // serves stale reads until CheckQuorum deposes it).
  bool lease_read_ignores_expiry = false;

  bool any() const {
    return commit_old_term_by_counting || vote_without_log_check || forget_to_persist_vote ||
           apply_before_commit || read_index_without_quorum || lease_read_ignores_expiry;
  }
};

struct Config {
  // This node's id. Required.
  NodeId id;
  // A follower that hears nothing from a leader for a random time in
  // [election_tick, 2 * election_tick) ticks starts an election.
  int election_tick = 10;
  // A leader sends heartbeats every heartbeat_tick ticks. Must be < election_tick.
  int heartbeat_tick = 1;
  // Run a PreVote round before a real election, so a node that was cut off does not disrupt
  // the cluster with a higher term when it comes back (dissertation 9.6).
  bool pre_vote = true;
  // A leader that has not heard from a majority within an election timeout steps down; a
  // follower that heard from a leader within the election timeout ignores vote requests.
  bool check_quorum = true;
  // Leader lease reads (RawNode::read_index with ReadMode::kLease; dissertation 6.4.1).
  // Requires check_quorum, and must be set on every voter of the cluster: it also keeps a
  // voter that restarts with a durable term from granting (pre-)votes during its first
  // election timeout, as if it had just heard from a leader (before the crash it may have
  // acknowledged a heartbeat the leader's lease counts on). Off: kLease reads fall back to
  // ReadIndex rounds.
  //
  // The lease: a heartbeat round a quorum of voters acknowledged (the leader counting
  // itself) was sent at leader tick S; every voter that acknowledged it ignores vote requests
  // for election_tick of its own ticks after receiving it, so no other leader can be elected
  // before that. The leader serves lease reads while its tick count is below
  //   S + election_tick - 1 - lease_drift_ticks
  // (- 1: a follower's first tick may come right after the heartbeat). This assumes the
  // nodes' clocks run at nearly the same rate: a tick of the leader may last at most
  // (election_tick - 1) / (election_tick - 1 - lease_drift_ticks) ticks of a follower. A
  // process that stops (GC, SIGSTOP, a stalled thread) must not lose ticks: its host has to
  // catch up on the ticks it missed before asking for a lease read.
  bool lease_read = false;
  // The clock-drift margin of the lease, in ticks: >= 0, and with lease_read below
  // election_tick - 1.
  int lease_drift_ticks = 1;
  // Upper bound on the bytes of entries in one AppendEntries message (at least one entry is
  // always sent).
  std::uint64_t max_size_per_msg = 1 << 20;
  // Upper bound on AppendEntries messages in flight to one follower (pipelining window).
  std::size_t max_inflight_msgs = 256;
  // Upper bound on the bytes of committed entries handed out in one Ready.
  std::uint64_t max_committed_size_per_ready = 64ull << 20;
  // Upper bound on the bytes of snapshot data in one InstallSnapshot chunk.
  std::uint64_t max_snapshot_chunk = 1 << 20;
  // A STAGING server (AddVoter) is promoted to voter after this many consecutive catch-up
  // rounds each took less than an election timeout (a round: reach the leader's last index as
  // of the round's start; dissertation 4.2.1).
  int catchup_rounds = 3;
  // The index the state machine has already applied (after a restart). Committed entries at
  // or below it are never handed out again.
  Index applied = 0;
  // Seeds the core's private PRNG (randomized election timeouts). The same seed and the same
  // inputs give the same behaviour.
  std::uint64_t random_seed = 0;
  // Not owned; nullptr means null_logger().
  Logger* logger = nullptr;
  // Test-only: see InjectedBugs.
  InjectedBugs bugs;

  Status validate() const;
};

}  // namespace raft
