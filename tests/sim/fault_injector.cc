#include "sim/fault_injector.h"

#include <algorithm>

namespace raft::sim {

const std::vector<std::string>& all_fault_names() {
  static const std::vector<std::string> names = {"drop",   "partition", "oneway", "isolate",
                                                 "bridge", "flap",      "crash",  "pause",
                                                 "skew",   "slowdisk",  "torn",   "figure8"};
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
}

FaultInjector::FaultInjector(SimCluster& cluster, std::set<std::string> faults)
    : cluster_(cluster),
      faults_(std::move(faults)),
      resume_at_(static_cast<std::size_t>(cluster.size()), -1),
      restart_at_(static_cast<std::size_t>(cluster.size()), -1) {
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
  if (flap_from_ >= 0) flap_step();
  if (faults_.count("figure8")) figure8_step();
  if (actions_.empty() || now < next_action_) return;
  act();
  // Faults last long enough for an election (100-200 ms plus a round trip) to happen.
  next_action_ = now + cluster_.random().uniform_signed(milliseconds(100), milliseconds(1200));
}

void FaultInjector::act() {
  SimRandom& r = cluster_.random();
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
      const int bridge = r.index(n);
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
    if (cluster_.alive(victim) && down + 1 <= (n - 1) / 2) cluster_.crash(victim);
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

void FaultInjector::flap_step() {
  const SimTime now = cluster_.now();
  if (now >= flap_until_) {
    cluster_.unblock_link(flap_from_, flap_to_);
    cluster_.unblock_link(flap_to_, flap_from_);
    flap_from_ = -1;
    return;
  }
  if (now < flap_next_) return;
  flap_next_ = now + cluster_.random().uniform_signed(milliseconds(5), milliseconds(60));
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
  SimRandom& r = cluster_.random();
  const int n = cluster_.size();
  for (int i = 0; i < n; ++i) {
    auto& at = restart_at_[static_cast<std::size_t>(i)];
    if (at >= 0 && now >= at) {
      at = -1;
      if (!cluster_.alive(i)) cluster_.restart(i);
    }
  }
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
    if (cluster_.alive(victim) && down + 1 <= (n - 1) / 2) {
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
