// KvWorkload: simulated clients of the key-value store, and the history they record.
//
// Each client runs one operation at a time (put / get / delete / compare-and-set on a small
// set of keys, so operations contend), sends it to a random node (like a load balancer),
// follows "not leader" hints, and retries with the same sequence number on a
// timeout or leader change — against any node — until it gets an answer or its budget runs
// out (then the outcome is recorded as unknown). An answer is the result the node it last
// sent to computed when it applied the command. Reads go through the log, or (a share of
// them, read_index_fraction) through ReadIndex: the node that received the get asks for a
// read point (RawNode::read_index; a follower forwards it to its leader), waits until it has
// applied that index and answers from its local replica (a share of those, lease_read_fraction,
// as leader lease reads, sent to the leader). All are linearizable; the
// `leader_local_read` bug answers them from the local state of a node that believes it
// leads, which a deposed leader must not do.
//
// Owned by the scenario runner; it keeps one KvStateMachine per node, fed by the cluster's
// apply observer. All randomness comes from the cluster's SimRandom, so runs replay.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lincheck/kv_history.h"
#include "sim/kv_command.h"
#include "sim/kv_state_machine.h"
#include "sim/sim_cluster.h"

namespace raft::sim {

struct WorkloadOptions {
  int clients = 4;
  int keys = 4;
  int total_ops = 200;
  // A try that brings no answer in this time is retried on another node.
  SimTime attempt_timeout = milliseconds(300);
  // An operation unanswered after this long is abandoned as "outcome unknown" (not in the
  // final phase, where clients retry until answered).
  SimTime op_budget = milliseconds(4000);
  // Bug switch: answer reads from the local state of a node that believes it leads.
  bool leader_local_read = false;
  // The share of gets served by ReadIndex on the node that received them, in [0, 1]; the
  // others go through the log (drawn per get from a generator of its own, seeded from the
  // run's seed, so that with 0 a seed's run is what it was before ReadIndex existed).
  double read_index_fraction = 0.5;
  // The share of those ReadIndex gets that ask for a leader lease read instead
  // (RawNode::read_index with ReadMode::kLease: answered at once by a leader within its
  // lease, refused with a leader hint by a follower); drawn from a generator of its own.
  double lease_read_fraction = 0.5;
};

class KvWorkload {
 public:
  KvWorkload(SimCluster& cluster, const WorkloadOptions& options);

  // Lets every client act (issue, retry, give up); call often (e.g. every simulated ms).
  void step();
  // The cluster's apply observer.
  void on_apply(int node, const pb::Entry& entry);
  // The cluster's restore observer: node's state machine was replaced by a snapshot, so its
  // replica is rebuilt from the node's applied log (which the snapshot restored).
  void on_restore(int node);
  // The cluster's read observer: a read point (or a refusal) for a ReadIndex get.
  void on_read_state(int node, const ReadState& read);
  // From now on clients stop starting operations and retry pending ones without limit.
  void enter_final_phase() { final_phase_ = true; }

  bool all_issued() const { return issued_ >= options_.total_ops; }
  // No operation is waiting for an answer.
  bool idle() const;
  int completed() const { return completed_; }
  // Gets answered through ReadIndex.
  int read_index_reads() const { return read_index_reads_; }
  // Of which gets answered through a leader lease read (at once or after a fallback round).
  int lease_reads() const { return lease_reads_; }
  int unknown() const { return unknown_; }
  const std::vector<lincheck::KvOp>& history() const { return history_; }
  // The pending operations, one per line (for a liveness failure message).
  std::string describe_pending() const;

 private:
  struct Pending {
    KvCommand command;
    lincheck::KvOp op;
    int node = -1;             // where the current try was proposed
    SimTime try_deadline = 0;  // retry elsewhere after this
    SimTime give_up_at = 0;
    bool queued_at_paused = false;  // sent to a paused node: handled when it resumes
    // A get served by ReadIndex: the context of the current try, and its read point once
    // known (the get is answered when `node` has applied it).
    bool via_read_index = false;
    bool lease = false;  // a ReadIndex get asking for a lease read
    int tries = 0;
    std::string read_context;
    std::optional<Index> read_point;
  };
  struct Client {
    std::uint64_t id = 0;
    std::uint64_t seq = 0;
    int target = 0;  // the node believed to lead
    SimTime next_action = 0;
    std::optional<Pending> pending;
    std::vector<std::string> seen;  // values seen, for compare-and-set expectations
  };

  void start_operation(Client& c);
  void try_propose(Client& c);
  void try_read_index(Client& c);
  // A node refused a try (no leader there): go where its hint points, or anywhere, soon.
  void redirect(Client& c, const Status& refusal);
  // Answers the ReadIndex gets waiting on `node` whose read point it has applied.
  void serve_reads(int node);
  void finish(Client& c, const KvResult& result);
  void abandon(Client& c);
  int random_node();

  SimCluster& cluster_;
  WorkloadOptions options_;
  std::vector<Client> clients_;
  std::vector<KvStateMachine> machines_;
  std::vector<lincheck::KvOp> history_;
  int issued_ = 0;
  int completed_ = 0;
  int read_index_reads_ = 0;
  int lease_reads_ = 0;
  SimRandom read_choice_;   // which gets use ReadIndex
  SimRandom lease_choice_;  // which of those ask for a lease read
  int unknown_ = 0;
  bool final_phase_ = false;
};

}  // namespace raft::sim
