#include "sim/fault_injector.h"

#include <algorithm>

namespace raft::sim {

const std::vector<std::string>& all_fault_names() {
  static const std::vector<std::string> names = {
      "drop",  "partition", "oneway",   "isolate", "bridge",  "flap",  "crash",
      "pause", "skew",      "slowdisk", "torn",    "figure8", "churn", "snapshot"};
  return names;
}

bool parse_faults(const std::string& list, std::set<std::string>* faults, std::string* error) {
  faults->clear();
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string name = list.substr(start, end - start);
    start = end + 1;
    if (name.empty() || name == "none") continue;
    if (name == "all") {
      faults->insert(all_fault_names().begin(), all_fault_names().end());
      continue;
    }
    const auto& names = all_fault_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      *error = "unknown fault '" + name + "'";
      return false;
    }
    faults->insert(name);
  }
  return true;
}

void fault_set_options(const std::set<std::string>& faults, SimOptions* options) {
  if (faults.count("drop")) options->network = NetworkOptions::unreliable();
  if (faults.count("skew")) options->clock_skew = 0.2;
  if (faults.count("slowdisk") || faults.count("torn")) {
    options->disk_delay_min = milliseconds(0);
    options->disk_delay_max = milliseconds(8);
  }
  if (faults.count("torn")) options->torn_writes = true;
  // Spare servers for membership churn to add (they start outside the configuration).
  if (faults.count("churn")) options->extra_nodes = 2;
  if (faults.count("snapshot")) {
    // Small thresholds and chunks, so snapshots, compactions and multi-chunk installs happen
    // many times a run. Drawn from the seed (not the cluster's SimRandom, which the cluster
    // does not exist yet to own), so a seed keeps its meaning.
    SimRandom r(options->seed ^ 0x51a95407ull);
    options->snapshot_threshold = static_cast<Index>(r.uniform(5, 40));
    options->snapshot_trailing = static_cast<Index>(r.uniform(0, 10));
    options->max_snapshot_chunk = r.uniform(256, 4096);
  }
}

FaultInjector::FaultInjector(SimCluster& cluster, std::set<std::string> faults)
    : cluster_(cluster),
      random_(cluster.seed() ^ 0xfa0175c4ed01e5ull),
      churn_random_(cluster.seed() ^ 0xc4a2e0517ull),
      figure8_random_(cluster.seed() ^ 0xf19e8ull),
      faults_(std::move(faults)),
      resume_at_(static_cast<std::size_t>(cluster.size()), -1),
      restart_at_(static_cast<std::size_t>(cluster.size()), -1) {
  for (int i = 0; i < cluster_.size(); ++i) {
    initial_voters_ += is_voter(cluster_.configuration(i), cluster_.id(i)) ? 1 : 0;
  }
  for (const char* action :
       {"partition", "oneway", "isolate", "bridge", "flap", "crash", "pause"}) {
    if (faults_.count(action)) actions_.push_back(action);
  }
  if (faults_.count("crash")) actions_.push_back("restart");
  if (!actions_.empty()) {
    // Heal about as often as anything else breaks, so that operations complete.
    const std::size_t n = actions_.size();
    for (std::size_t i = 0; i < std::max<std::size_t>(2, n / 2); ++i) actions_.push_back("heal");
  }
  next_action_ = cluster_.now() + milliseconds(200);
  next_churn_ = cluster_.now() + milliseconds(300);
}

void FaultInjector::step() {
  const SimTime now = cluster_.now();
  for (int i = 0; i < cluster_.size(); ++i) {
    auto& at = resume_at_[static_cast<std::size_t>(i)];
    if (at >= 0 && now >= at) {
      at = -1;
      if (cluster_.paused(i)) cluster_.resume(i);
    }
  }
  for (int i = 0; i < cluster_.size(); ++i) {
    auto& at = restart_at_[static_cast<std::size_t>(i)];
    if (at >= 0 && now >= at) {
      at = -1;
      if (!cluster_.alive(i)) cluster_.restart(i);
    }
  }
  if (flap_from_ >= 0) flap_step();
  if (faults_.count("figure8")) figure8_step();
  // Membership churn runs on its own schedule, under whatever else is going on.
  if (faults_.count("churn") && now >= next_churn_) {
    churn();
    next_churn_ = now + churn_random_.uniform_signed(milliseconds(200), milliseconds(1500));
  }
  if (actions_.empty() || now < next_action_) return;
  act();
  // Faults last long enough for an election (100-200 ms plus a round trip) to happen.
  next_action_ = now + random_.uniform_signed(milliseconds(100), milliseconds(1200));
}

void FaultInjector::act() {
  SimRandom& r = random_;
  const int n = cluster_.size();
  const std::string& action =
      actions_[static_cast<std::size_t>(r.index(static_cast<int>(actions_.size())))];
  if (action == "heal") {
    cluster_.heal();
    flap_from_ = -1;
  } else if (action == "partition") {
    std::vector<std::vector<int>> groups(2);
    for (int i = 0; i < n; ++i) groups[static_cast<std::size_t>(r.index(2))].push_back(i);
    cluster_.partition(groups);
  } else if (action == "oneway") {
    const int links = 1 + r.index(n);
    for (int k = 0; k < links; ++k) {
      const int from = r.index(n), to = r.index(n);
      if (from != to) cluster_.block_link(from, to);
    }
  } else if (action == "isolate") {
    if (auto leader = cluster_.leader()) cluster_.disconnect(*leader);
  } else if (action == "bridge") {
    if (n >= 3) {
      // The bridge is a voter (a spare server outside the configuration bridges nothing).
      std::vector<int> voters;
      const pb::Configuration conf = newest_configuration();
      for (int i = 0; i < n; ++i) {
        if (is_voter(conf, cluster_.id(i))) voters.push_back(i);
      }
      const int bridge =
          voters.empty()
              ? r.index(n)
              : voters[static_cast<std::size_t>(r.index(static_cast<int>(voters.size())))];
      std::vector<int> a, b;
      for (int i = 0; i < n; ++i) {
        if (i == bridge) continue;
        (a.size() <= b.size() ? a : b).push_back(i);
      }
      cluster_.bridge(a, b, bridge);
    }
  } else if (action == "flap") {
    flap_from_ = r.index(n);
    flap_to_ = (flap_from_ + 1 + r.index(n - 1)) % n;
    flap_until_ = cluster_.now() + r.uniform_signed(milliseconds(300), milliseconds(1500));
    flap_next_ = cluster_.now();
  } else if (action == "crash") {
    // Keep a majority up, so that crashes alone never stop the cluster.
    int down = 0;
    for (int i = 0; i < n; ++i) down += cluster_.alive(i) ? 0 : 1;
    // Half the time the leader: the figure-8 pattern (a leader dies with entries on a few).
    const auto leader = cluster_.leader();
    const int victim = leader && r.chance(0.5) ? *leader : r.index(n);
    if (cluster_.alive(victim) && down + 1 <= max_down() && keeps_quorum(victim)) {
      cluster_.crash(victim);
      // Unless a "restart" comes first, the server is back within a few seconds: the quorum
      // kept above is one of the newest configuration, which may never commit, and a server
      // down for the rest of the run could then stop the cluster for good.
      restart_at_[static_cast<std::size_t>(victim)] =
          cluster_.now() + r.uniform_signed(milliseconds(500), milliseconds(4000));
    }
  } else if (action == "restart") {
    std::vector<int> down;
    for (int i = 0; i < n; ++i) {
      if (!cluster_.alive(i)) down.push_back(i);
    }
    if (!down.empty())
      cluster_.restart(down[static_cast<std::size_t>(r.index(static_cast<int>(down.size())))]);
  } else if (action == "pause") {
    const auto leader = cluster_.leader();
    const int victim = leader && r.chance(0.5) ? *leader : r.index(n);
    if (cluster_.alive(victim) && !cluster_.paused(victim)) {
      cluster_.pause(victim);
      resume_at_[static_cast<std::size_t>(victim)] =
          cluster_.now() + r.uniform_signed(milliseconds(50), milliseconds(1500));
    }
  }
}

int FaultInjector::max_down() const {
  // A minority of the initial voters (spare servers do not raise it).
  return (static_cast<int>(initial_voters_) - 1) / 2;
}

pb::Configuration FaultInjector::newest_configuration() const {
  pb::Configuration newest;
  Index newest_index = 0;
  bool found = false;
  for (int i = 0; i < cluster_.size(); ++i) {
    if (!cluster_.alive(i)) continue;
    const NodeStatus st = cluster_.node(i).raw().status();
    if (!found || st.configuration_index > newest_index) {
      newest = st.configuration;
      newest_index = st.configuration_index;
      found = true;
    }
  }
  return newest;
}

bool FaultInjector::keeps_quorum(int victim) const {
  // With membership churn the voters change: a crash must leave a majority of the newest
  // configuration's voters up, or the cluster would stall until the crashed ones restart.
  const pb::Configuration conf = newest_configuration();
  std::size_t voters = 0, up = 0;
  for (int i = 0; i < cluster_.size(); ++i) {
    if (!is_voter(conf, cluster_.id(i))) continue;
    ++voters;
    if (i != victim && cluster_.alive(i)) ++up;
  }
  return voters == 0 || up >= voters / 2 + 1;
}

void FaultInjector::churn() {
  // One single-server change, proposed on the leader (refusals, e.g. while an earlier change
  // is uncommitted, are part of the test). The cluster keeps at least min(3, initial voters)
  // voters, so the crash faults (a minority of all servers at a time) leave a quorum most of
  // the time; any server may be added, removed, demoted or promoted, the leader included,
  // and removed servers keep running (with their stale state) and may be added back later.
  const auto leader = cluster_.leader();
  if (!leader) return;
  SimRandom& r = churn_random_;
  const pb::Configuration conf = cluster_.configuration(*leader);
  std::vector<int> voters, others, outside;
  for (int i = 0; i < cluster_.size(); ++i) {
    const pb::Server* s = find_server(conf, cluster_.id(i));
    if (s == nullptr) {
      outside.push_back(i);
    } else if (s->suffrage() == pb::VOTER) {
      voters.push_back(i);
    } else {
      others.push_back(i);
    }
  }
  auto pick = [&r](const std::vector<int>& from) {
    return from[static_cast<std::size_t>(r.index(static_cast<int>(from.size())))];
  };
  const std::size_t min_voters = std::min<std::size_t>(3, initial_voters_);
  ConfChange change;
  const int roll = r.index(100);
  if (roll < 35 && !outside.empty()) {
    const int who = pick(outside);
    change.type = r.chance(0.75) ? ConfChangeType::kAddVoter : ConfChangeType::kAddNonvoter;
    change.id = cluster_.id(who);
  } else if (roll < 50 && !others.empty()) {
    change.type = ConfChangeType::kAddVoter;  // promote a non-voter (it catches up first)
    change.id = cluster_.id(pick(others));
  } else if (roll < 85 && voters.size() > min_voters) {
    const int who = pick(voters);
    // The voters left must have a majority up, or the change would stall the cluster.
    std::size_t up = 0;
    for (int v : voters) up += v != who && cluster_.alive(v) ? 1 : 0;
    if (up < (voters.size() - 1) / 2 + 1) return;
    change.type = r.chance(0.7) ? ConfChangeType::kRemoveServer : ConfChangeType::kDemoteVoter;
    change.id = cluster_.id(who);
  } else if (!others.empty()) {
    change.type = ConfChangeType::kRemoveServer;
    change.id = cluster_.id(pick(others));
  } else {
    return;
  }
  change.address = change.id;
  (void)cluster_.propose_conf_change(*leader, change);
}

void FaultInjector::flap_step() {
  const SimTime now = cluster_.now();
  if (now >= flap_until_) {
    cluster_.unblock_link(flap_from_, flap_to_);
    cluster_.unblock_link(flap_to_, flap_from_);
    flap_from_ = -1;
    return;
  }
  if (now < flap_next_) return;
  flap_next_ = now + random_.uniform_signed(milliseconds(5), milliseconds(60));
  if (cluster_.link_blocked(flap_from_, flap_to_)) {
    cluster_.unblock_link(flap_from_, flap_to_);
    cluster_.unblock_link(flap_to_, flap_from_);
  } else {
    cluster_.block_link(flap_from_, flap_to_);
    cluster_.block_link(flap_to_, flap_from_);
  }
}

void FaultInjector::figure8_step() {
  const SimTime now = cluster_.now();
  SimRandom& r = figure8_random_;
  const int n = cluster_.size();
  if (auto leader = cluster_.leader()) {
    const Term term = cluster_.raw(*leader)->term();
    if (*leader != seen_leader_ || term != seen_term_) {
      seen_leader_ = *leader;
      seen_term_ = term;
      if (r.chance(0.7)) {
        doomed_ = *leader;
        doom_at_ = now + r.uniform_signed(0, milliseconds(100));
      }
    }
  }
  if (doomed_ >= 0 && now >= doom_at_) {
    const int victim = doomed_;
    doomed_ = -1;
    int down = 0;
    for (int i = 0; i < n; ++i) down += cluster_.alive(i) ? 0 : 1;
    if (cluster_.alive(victim) && down + 1 <= max_down() && keeps_quorum(victim)) {
      cluster_.crash(victim);
      restart_at_[static_cast<std::size_t>(victim)] =
          now + r.uniform_signed(milliseconds(10), milliseconds(300));
    }
  }
}

void FaultInjector::heal_all() {
  doomed_ = -1;
  std::fill(restart_at_.begin(), restart_at_.end(), -1);
  cluster_.heal();
  flap_from_ = -1;
  for (int i = 0; i < cluster_.size(); ++i) {
    resume_at_[static_cast<std::size_t>(i)] = -1;
    if (cluster_.paused(i)) cluster_.resume(i);
    if (!cluster_.alive(i)) cluster_.restart(i);
  }
}

}  // namespace raft::sim
