// FaultInjector: the random fault schedule of a scenario run. Every so often (100-1200 ms of
// simulated time) it picks one of the enabled faults and applies it to the cluster: random
// symmetric partitions, one-way link cuts, isolating the leader, a bridge topology, a
// flapping link, crashes and restarts, pauses; and, often, a heal so the cluster makes
// progress between faults. "figure8" crashes a newly elected leader within 20 ms, about
// half the time, and restarts crashed nodes quickly: the shape of the Raft paper's figure 8
// (a leader dies right after replicating older entries, before its own term's entry). Network
// loss/duplication/reordering, clock skew, slow disks, torn writes and snapshots (small
// thresholds and chunks) are properties of the run,
// set in SimOptions (see fault_set_options()). Owned by the scenario runner. The schedule
// has random streams of its own, drawn from the seed: what the nodes do (how many messages
// they send, so how many random numbers the network draws) does not move it, so a seed
// keeps its fault schedule when the protocol changes. (Reactive faults, such as figure8's
// crash of a new leader, still follow what the cluster does.)
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"

namespace raft::sim {

// The fault names raft-sim accepts (--faults a,b,c or "all" or "none").
const std::vector<std::string>& all_fault_names();
// Parses a comma-separated list; on an unknown name returns false and names it in *error.
bool parse_faults(const std::string& list, std::set<std::string>* faults, std::string* error);
// Sets the run-wide fault properties (drop, skew, slowdisk, torn) in `options`.
void fault_set_options(const std::set<std::string>& faults, SimOptions* options);

class FaultInjector {
 public:
  FaultInjector(SimCluster& cluster, std::set<std::string> faults);

  // Applies the next fault when its time has come; call often.
  void step();
  // Ends every fault: network healed, paused nodes resumed, crashed nodes restarted.
  void heal_all();

 private:
  void act();
  void flap_step();
  void churn();
  // How many servers may be down at once.
  int max_down() const;
  // Whether crashing `victim` leaves a majority of the newest configuration's voters up.
  bool keeps_quorum(int victim) const;
  pb::Configuration newest_configuration() const;

  SimCluster& cluster_;
  // The schedule's own streams (see above): timed actions and flaps, churn, figure8.
  SimRandom random_;
  SimRandom churn_random_;
  SimRandom figure8_random_;
  std::set<std::string> faults_;
  std::vector<std::string> actions_;  // the enabled actions, "heal" included
  SimTime next_action_ = 0;
  // A flapping link: toggled every few ms until flap_until_.
  int flap_from_ = -1, flap_to_ = -1;
  SimTime flap_until_ = 0, flap_next_ = 0;
  // Paused nodes and when they resume.
  std::vector<SimTime> resume_at_;
  // figure8: the leader last seen, a pending crash of a new leader, quick restarts.
  void figure8_step();
  int seen_leader_ = -1;
  Term seen_term_ = 0;
  int doomed_ = -1;
  SimTime doom_at_ = 0;
  std::vector<SimTime> restart_at_;
  std::size_t initial_voters_ = 0;
  SimTime next_churn_ = 0;
};

}  // namespace raft::sim
