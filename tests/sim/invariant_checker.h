// InvariantChecker: the Raft safety properties, checked incrementally while a simulation runs
// (SimCluster calls it at each step of draining a Ready, and after every event). A violation
// throws SimFailure with a description, the seed and the recent events (from `context`).
//
// Checked:
//  - election safety: at most one leader per term, over the whole run;
//  - log matching: an (index, term) pair always names the same entry with the same
//    predecessor term, on every node and for all time (by induction, two logs that share an
//    entry agree on everything before it); terms never decrease along a log;
//  - committed prefixes: every node's durable commit index never decreases, never exceeds its
//    durable log, and the durable entries up to it are the same on every node (and are never
//    overwritten afterwards);
//  - leader completeness: a new leader's log holds every entry known to be committed;
//  - leader append-only: a leader never truncates its own log while it stays leader;
//  - state machine safety: entries are applied in index order, each exactly once, never
//    beyond the node's durable commit, and every node applies the same entry at an index;
//  - one vote per term: the durable vote never changes within a term, terms never decrease;
//  - durability before promises: a granted vote is sent only once that vote is durable, and
//    an accepting append response only once the entries it acknowledges are durable;
//  - snapshots: a restored state machine holds exactly the committed entries up to the
//    snapshot index (it never goes back), and a log is compacted only below what was
//    checked as committed.
// Compacted logs: entries below a node's first index are never read; what they held was
// checked when it was committed (or restored from a snapshot). Membership changes need no
// special case: every property above holds across configurations (single-server changes),
// for nodes outside the configuration too. The longest log seen (max_log_length()) lets
// tests check that snapshots keep logs bounded.
// Storages: the checker reads a node's durable state through a DurableView (its LogReader
// and durable hard state), so it checks MemoryStorage and DurableStorage alike. With a
// storage that saves the commit index only now and then (DurableStorage; see
// set_commit_volatile()), a durable commit may go back across a restart, never below what
// the node then applied (its snapshot) and never within one life; the committed entries a
// node held durably must survive its crashes (on_restart()).
// Owned by SimCluster; holds no pointers into nodes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace raft::sim {

// What the checker reads of a node's durable state: its log and its durable hard state.
// Borrows both; build one per call.
struct DurableView {
  DurableView(const LogReader& l, const pb::HardState& hs) : log(l), hard_state(hs) {}
  // NOLINTNEXTLINE(google-explicit-constructor): a MemoryStorage is such a view.
  DurableView(const MemoryStorage& s) : log(s), hard_state(s.hard_state()) {}
  const LogReader& log;
  const pb::HardState& hard_state;
};

class InvariantChecker {
 public:
  // `context` describes the run (seed, time, recent events) for failure messages.
  InvariantChecker(std::vector<NodeId> ids, std::function<std::string()> context);

  // Whether `node` is an established leader: it was already leader of its current term after
  // an earlier event. Sample it when taking a Ready; entries of such a Ready must only extend
  // the log (leader append-only).
  bool established_leader(int node, const RawNode& raw) const;
  // Before a Ready's entries are appended to `node`'s storage; `from_established_leader` is
  // established_leader() sampled when the Ready was taken.
  void before_append(int node, bool from_established_leader, const DurableView& storage,
                     const std::vector<pb::Entry>& entries);
  // When `node` hands the network a message (any time: before or after persisting).
  void before_send(int node, const DurableView& storage, const pb::Message& message);
  // After a Ready's entries and hard state were made durable.
  void after_persist(int node, const DurableView& storage);
  // When a committed entry is applied (after it was persisted).
  void on_apply(int node, const DurableView& storage, const pb::Entry& entry);
  // After an event was processed on a live node (its Ready drained). `log_durable`: no write
  // of the node is in flight, so its storage holds its whole log (leader completeness is
  // checked on the durable log, so a new leader is checked once its writes land).
  void after_event(int node, const RawNode& raw, const DurableView& storage,
                   bool log_durable = true);
  // A crash ends the node's leadership, whatever it believed.
  void on_crash(int node);
  // The storage keeps the commit index only now and then (DurableStorage): after a restart
  // the durable commit may be lower than before the crash (see above). Off by default.
  void set_commit_volatile(bool volatile_commit) { commit_volatile_ = volatile_commit; }
  // `node` recovered its storage after a crash, and its state machine restarts at `applied`
  // (its newest snapshot, or 0): the durable term and vote did not go back, every committed
  // entry it held durably is still there, and the durable commit is at least `applied`.
  void on_restart(int node, const DurableView& storage, Index applied);
  // `node` installed a snapshot (`storage` already reset to it) and replaced its state
  // machine by `entries` (those at 1..metadata.index()): they must be the committed ones.
  void on_restore(int node, const DurableView& storage, const pb::SnapshotMetadata& metadata,
                  const std::vector<pb::Entry>& entries);

  const std::map<Term, NodeId>& leaders_by_term() const { return leader_by_term_; }
  // Highest index known (to some node, durably) to be committed.
  Index max_committed() const;
  // The most entries any node's durable log held at once (last - first + 1), over the run.
  Index max_log_length() const { return max_log_length_; }

 private:
  struct Fingerprint {
    Term term = 0;
    pb::EntryType type = pb::ENTRY_NORMAL;
    std::uint64_t data_hash = 0;
    Term prev_term = 0;  // only meaningful in entry_ids_
    Term seen_in_term =
        0;  // only in committed_: durable term of the first node to see it committed
  };
  struct NodeState {
    Index checked_commit = 0;  // durable commit already compared with committed_
    Index life_commit = 0;     // durable commit since the node's last restart
    Index last_applied = 0;
    Term leader_term = 0;           // term in which the node was last seen leader; 0 if not leader
    bool completeness_due = false;  // leader completeness of leader_term not yet checked
    Term hard_term = 0;
    NodeId hard_vote;
  };

  [[noreturn]] void fail(int node, const std::string& what) const;
  static Fingerprint fingerprint(const pb::Entry& entry);
  // Compares `entry` with the committed entry at its index, recording it if new.
  void check_committed(int node, const pb::Entry& entry, const char* what);
  std::string describe(const pb::Entry& entry) const;
  void check_leader_completeness(int node, Term term, const DurableView& storage);

  std::vector<NodeId> ids_;
  std::function<std::string()> context_;
  std::vector<NodeState> nodes_;
  std::map<Term, NodeId> leader_by_term_;
  std::map<Index, Fingerprint> committed_;
  std::map<std::pair<Index, Term>, Fingerprint> entry_ids_;
  Index max_log_length_ = 0;
  bool commit_volatile_ = false;
};

}  // namespace raft::sim
