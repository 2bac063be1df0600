#include "sim/scenario.h"

#include <fmt/format.h>

#include "lincheck/linearizability_checker.h"
#include "sim/fault_injector.h"
#include "sim/kv_workload.h"
#include "sim/sim_cluster.h"
#include "sim/sim_failure.h"

namespace raft::sim {

namespace {

// Liveness bounds once every fault is healed (simulated time).
constexpr SimTime kLeaderBound = seconds(10);
constexpr SimTime kDrainBound = seconds(30);

void set_bug(const std::string& bug, InjectedBugs* bugs, WorkloadOptions* workload) {
  if (bug == "commit-old-term") bugs->commit_old_term_by_counting = true;
  if (bug == "vote-without-log-check") bugs->vote_without_log_check = true;
  if (bug == "forget-to-persist-vote") bugs->forget_to_persist_vote = true;
  if (bug == "apply-before-commit") bugs->apply_before_commit = true;
  if (bug == "read-index-without-quorum") bugs->read_index_without_quorum = true;
  if (bug == "lease-ignores-expiry") bugs->lease_read_ignores_expiry = true;
  if (bug == "leader-local-read") workload->leader_local_read = true;
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

const std::vector<std::string>& bug_names() {
  static const std::vector<std::string> names = {
      "commit-old-term",     "vote-without-log-check", "forget-to-persist-vote",
      "apply-before-commit", "leader-local-read",      "read-index-without-quorum",
      "lease-ignores-expiry"};
  return names;
}

bool valid_bug(const std::string& name) {
  for (const auto& n : bug_names()) {
    if (n == name) return true;
  }
  return false;
}

bool valid_storage(const std::string& name) { return name == "memory" || name == "disk"; }

std::string replay_command(const ScenarioOptions& o) {
  std::string cmd = fmt::format(
      "raft-sim --from {} --seeds 1 --nodes {} --faults {} --ops {} --clients {} --keys {}", o.seed,
      o.nodes, join(o.faults), o.ops, o.clients, o.keys);
  if (!o.bug.empty()) cmd += " --bug " + o.bug;
  if (!o.check_quorum) cmd += " --no-check-quorum";
  if (o.storage != "memory") cmd += " --storage " + o.storage;
  if (o.read_index_fraction != ScenarioOptions{}.read_index_fraction) {
    cmd += fmt::format(" --read-index-fraction {}", o.read_index_fraction);
  }
  if (o.lease_read_fraction != ScenarioOptions{}.lease_read_fraction) {
    cmd += fmt::format(" --lease-read-fraction {}", o.lease_read_fraction);
  }
  return cmd + " --trace";
}

ScenarioResult run_scenario(const ScenarioOptions& options) {
  SimOptions sim;
  sim.num_nodes = options.nodes;
  sim.seed = options.seed;
  sim.keep_trace_lines = options.trace;
  sim.check_quorum = options.check_quorum;
  if (options.storage == "disk") {
    sim.storage = StorageKind::kDisk;
    // Segment sizes from a few records to many, preallocated or grown: drawn from the seed,
    // not the cluster's SimRandom, so memory runs keep their meaning.
    SimRandom r(options.seed ^ 0xd15c5ull);
    sim.disk_segment_size = std::uint64_t{1} << r.uniform(10, 16);
    sim.disk_preallocate = r.chance(0.5);
  }
  fault_set_options(options.faults, &sim);
  // Half of the runs send one entry per AppendEntries: deep pipelines, and a new leader's
  // no-op travelling apart from the older entries before it (figure 8 needs that).
  if (SimRandom(options.seed ^ 0x5eedull).chance(0.5)) sim.max_size_per_msg = 1;
  WorkloadOptions workload_options;
  workload_options.clients = options.clients;
  workload_options.keys = options.keys;
  workload_options.total_ops = options.ops;
  workload_options.read_index_fraction = options.read_index_fraction;
  workload_options.lease_read_fraction = options.lease_read_fraction;
  sim.lease_read = options.check_quorum && options.lease_read_fraction > 0;
  set_bug(options.bug, &sim.bugs, &workload_options);

  ScenarioResult result;
  SimCluster cluster(sim);
  KvWorkload workload(cluster, workload_options);
  FaultInjector faults(cluster, options.faults);
  cluster.set_apply_observer(
      [&workload](int node, const pb::Entry& e) { workload.on_apply(node, e); });
  cluster.set_restore_observer([&workload](int node, Index) { workload.on_restore(node); });
  cluster.set_read_observer(
      [&workload](int node, const ReadState& read) { workload.on_read_state(node, read); });

  auto finish = [&](bool ok, std::string check, std::string failure) {
    result.ok = ok;
    result.check = std::move(check);
    result.failure = std::move(failure);
    result.completed = workload.completed();
    result.read_index_reads = workload.read_index_reads();
    result.lease_reads = workload.lease_reads();
    result.unknown = workload.unknown();
    result.simulated_ms = cluster.now() / milliseconds(1);
    result.trace_hash = cluster.trace_hash();
    if (options.trace) result.trace = cluster.trace_lines();
    return result;
  };

  try {
    // Phase 1: clients work while faults come and go.
    const SimTime phase1_end = cluster.now() + milliseconds(100) * options.ops + seconds(5);
    while (cluster.now() < phase1_end && !(workload.all_issued() && workload.idle())) {
      cluster.run_for(milliseconds(1));
      faults.step();
      workload.step();
    }
    // Phase 2: every fault ends; the cluster must elect a leader and answer every client.
    faults.heal_all();
    workload.enter_final_phase();
    if (!cluster.run_until([&] { return cluster.leader().has_value(); }, kLeaderBound)) {
      return finish(false, "liveness",
                    fmt::format("no leader within {} ms after every fault healed\n{}",
                                kLeaderBound / milliseconds(1), cluster.context()));
    }
    const SimTime drain_end = cluster.now() + kDrainBound;
    while (!workload.idle() && cluster.now() < drain_end) {
      cluster.run_for(milliseconds(1));
      workload.step();
    }
    if (!workload.idle()) {
      return finish(false, "liveness",
                    fmt::format("operations still unanswered {} ms after every fault healed:\n{}",
                                kDrainBound / milliseconds(1), workload.describe_pending()));
    }
  } catch (const SimFailure& e) {
    return finish(false, "invariant", e.what());
  }

  auto check = lincheck::check_linearizable(workload.history(), 20'000'000);
  if (!check.linearizable) {
    return finish(false, "linearizability",
                  fmt::format("the history of key {} is not linearizable:\n{}", check.key,
                              check.explanation));
  }
  if (check.timed_out) {
    return finish(
        false, "linearizability",
        fmt::format("the check of key {} exceeded its search budget (history too concurrent)",
                    check.key));
  }
  return finish(true, "", "");
}

}  // namespace raft::sim
