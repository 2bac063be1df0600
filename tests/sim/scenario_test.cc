// The randomized scenario runner (what raft-sim runs): bounded seed sweeps under every fault
// for CI, replay of a seed event for event, and proof that each injected protocol bug is
// caught by the checks within a bounded number of seeds.
#include "sim/scenario.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "sim/fault_injector.h"

using raft::sim::run_scenario;
using raft::sim::ScenarioOptions;
using raft::sim::ScenarioResult;

namespace {

ScenarioOptions options(std::uint64_t seed, int nodes, const std::string& faults) {
  ScenarioOptions o;
  o.seed = seed;
  o.nodes = nodes;
  std::string error;
  REQUIRE(raft::sim::parse_faults(faults, &o.faults, &error));
  return o;
}

// RAFT_SIM_SWEEP_SCALE multiplies the number of seeds of the sweeps (default 1).
std::uint64_t scaled(std::uint64_t seeds) {
  const char* scale = std::getenv("RAFT_SIM_SWEEP_SCALE");
  return scale ? seeds * std::strtoull(scale, nullptr, 10) : seeds;
}

void sweep(std::uint64_t from, std::uint64_t seeds, int nodes, const std::string& faults,
           bool check_quorum = true, const std::string& storage = "memory") {
  for (std::uint64_t seed = from; seed < from + scaled(seeds); ++seed) {
    auto o = options(seed, nodes, faults);
    o.check_quorum = check_quorum;
    o.storage = storage;
    ScenarioResult r = run_scenario(o);
    INFO("replay: " << raft::sim::replay_command(o));
    INFO(r.failure);
    REQUIRE(r.ok);
    // The run did real work: many operations were answered. (Over seeds 1-400 of 3, 5 and 7
    // nodes under every fault, runs answer 198 of 200 on average; the rare worst, where
    // figure8 kills one new leader after another, answer 94-115.)
    REQUIRE(r.completed >= o.ops * 2 / 5);
  }
}

// Runs seeds until one fails; returns that result (ok == true if none did).
ScenarioResult first_failure(const std::string& bug, const std::string& faults, int nodes,
                             std::uint64_t max_seeds, bool check_quorum = true) {
  for (std::uint64_t seed = 1; seed <= max_seeds; ++seed) {
    auto o = options(seed, nodes, faults);
    o.bug = bug;
    o.check_quorum = check_quorum;
    ScenarioResult r = run_scenario(o);
    if (!r.ok) return r;
  }
  return ScenarioResult{};
}

}  // namespace

// The CI sweep: about 1,000 seeds in all, split so ctest runs them in parallel. The long
// sweep is raft-sim --seeds 2000 (README).
TEST_CASE("scenario sweep: 5 nodes under every fault, seeds 1-100", "[scenario][sweep]") {
  sweep(1, 100, 5, "all");
}
TEST_CASE("scenario sweep: 5 nodes under every fault, seeds 101-200", "[scenario][sweep]") {
  sweep(101, 100, 5, "all");
}
TEST_CASE("scenario sweep: 5 nodes under every fault, seeds 201-300", "[scenario][sweep]") {
  sweep(201, 100, 5, "all");
}
TEST_CASE("scenario sweep: 5 nodes under every fault, seeds 301-400", "[scenario][sweep]") {
  sweep(301, 100, 5, "all");
}
TEST_CASE("scenario sweep: 3 nodes under every fault, seeds 1-100", "[scenario][sweep]") {
  sweep(1, 100, 3, "all");
}
TEST_CASE("scenario sweep: 3 nodes under every fault, seeds 101-200", "[scenario][sweep]") {
  sweep(101, 100, 3, "all");
}
TEST_CASE("scenario sweep: 7 nodes under every fault, seeds 1-100", "[scenario][sweep]") {
  sweep(1, 100, 7, "all");
}
TEST_CASE("scenario sweep: 5 nodes with crashes on slow, torn disks, seeds 1-100",
          "[scenario][sweep]") {
  sweep(1, 100, 5, "crash,slowdisk,torn,partition");
}
TEST_CASE("scenario sweep: 5 nodes with pauses, skew and one-way links, seeds 1-100",
          "[scenario][sweep]") {
  sweep(1, 100, 5, "pause,skew,oneway,bridge,flap,isolate");
}
TEST_CASE("scenario sweep: 5 nodes with figure-8 leader crashes, seeds 1-100",
          "[scenario][sweep]") {
  sweep(1, 100, 5, "figure8,drop");
}
TEST_CASE("scenario sweep: 5 nodes without CheckQuorum under every fault, seeds 1-100",
          "[scenario][sweep]") {
  sweep(1, 100, 5, "all", /*check_quorum=*/false);
}
TEST_CASE("scenario sweep: 5 nodes, every get by ReadIndex, under every fault, seeds 1-100",
          "[scenario][sweep][readindex]") {
  for (std::uint64_t seed = 1; seed <= scaled(100); ++seed) {
    auto o = options(seed, 5, "all");
    o.read_index_fraction = 1;
    ScenarioResult r = run_scenario(o);
    INFO("replay: " << raft::sim::replay_command(o));
    INFO(r.failure);
    REQUIRE(r.ok);
    REQUIRE(r.completed >= o.ops / 2);
  }
}

TEST_CASE("a scenario replays event for event from its seed", "[scenario]") {
  auto o = options(7, 5, "all");
  o.trace = true;
  ScenarioResult a = run_scenario(o);
  ScenarioResult b = run_scenario(o);
  REQUIRE(a.ok);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.trace == b.trace);
  CHECK(a.trace.size() > 1000);
  o.seed = 8;
  CHECK(run_scenario(o).trace_hash != a.trace_hash);
}

TEST_CASE("a scenario without faults answers every operation", "[scenario]") {
  auto o = options(3, 5, "none");
  ScenarioResult r = run_scenario(o);
  REQUIRE(r.ok);
  CHECK(r.completed == o.ops);
  CHECK(r.unknown == 0);
  // Part of the gets went through ReadIndex (the default share), the others through the log;
  // part of the ReadIndex gets were leader lease reads.
  CHECK(r.read_index_reads > 0);
  CHECK(r.lease_reads > 0);
  CHECK(r.lease_reads < r.read_index_reads);
}

TEST_CASE("a scenario's replay command names a non-default lease read share", "[scenario]") {
  auto o = options(7, 5, "none");
  CHECK(raft::sim::replay_command(o).find("--lease-read-fraction") == std::string::npos);
  o.lease_read_fraction = 0;
  CHECK(raft::sim::replay_command(o).find("--lease-read-fraction 0") != std::string::npos);
}

TEST_CASE("a scenario's replay command names a non-default ReadIndex share", "[scenario]") {
  auto o = options(7, 5, "none");
  CHECK(raft::sim::replay_command(o).find("--read-index-fraction") == std::string::npos);
  o.read_index_fraction = 1;
  CHECK(raft::sim::replay_command(o).find("--read-index-fraction 1") != std::string::npos);
}

// The real log store (DurableStorage) over the fault-injecting file system: crashes are
// power losses, torn writes tear real files, and recovery is the real code's.
TEST_CASE("scenario sweep: 5 nodes on disk storage under every fault, seeds 1-60",
          "[scenario][sweep][disk]") {
  sweep(1, 60, 5, "all", /*check_quorum=*/true, "disk");
}

TEST_CASE("a disk scenario's replay command names the storage", "[scenario][disk]") {
  auto o = options(7, 5, "crash,torn");
  o.storage = "disk";
  CHECK(raft::sim::replay_command(o).find("--storage disk") != std::string::npos);
  o.storage = "memory";
  CHECK(raft::sim::replay_command(o).find("--storage") == std::string::npos);
}

TEST_CASE("a disk scenario replays event for event", "[scenario][disk]") {
  auto o = options(11, 5, "all");
  o.storage = "disk";
  const ScenarioResult a = run_scenario(o);
  const ScenarioResult b = run_scenario(o);
  REQUIRE(a.ok);
  CHECK(a.trace_hash == b.trace_hash);
}

TEST_CASE("bug switch: answering a vote without persisting it is caught on disk storage",
          "[scenario][bugs][disk]") {
  ScenarioResult r;
  for (std::uint64_t seed = 1; seed <= 300 && r.ok; ++seed) {
    auto o = options(seed, 3, "crash,partition,drop");
    o.bug = "forget-to-persist-vote";
    o.storage = "disk";
    r = run_scenario(o);
  }
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "invariant");
}

// A checker that never fails checks nothing: each classic bug must be caught.
// commit-old-term is not swept here: a new leader's no-op follows the older entries within
// one message, so their early commit turns legal at once and random runs (thousands of seeds
// tried, figure8 fault included) never hit the window. tests/sim/figure8_bug_test.cc forces
// the paper's figure 8 with partitions and catches it on every seed.

TEST_CASE("bug switch: granting a vote without the up-to-date check is caught",
          "[scenario][bugs]") {
  auto r = first_failure("vote-without-log-check", "crash,partition,drop", 5, 100);
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "invariant");
}

TEST_CASE("bug switch: answering a vote without persisting it is caught", "[scenario][bugs]") {
  auto r = first_failure("forget-to-persist-vote", "crash,partition,drop", 3, 300);
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "invariant");
}

TEST_CASE("bug switch: applying an entry before it is committed is caught", "[scenario][bugs]") {
  auto r = first_failure("apply-before-commit", "crash,partition,drop", 5, 100);
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "invariant");
}

TEST_CASE("bug switch: a leader answering ReadIndex without a quorum round is caught",
          "[scenario][bugs][readindex]") {
  // As for leader-local-read: without CheckQuorum a leader cut off from its peers keeps
  // answering (with it, random runs rarely hit the short stale window).
  auto r = first_failure("read-index-without-quorum", "isolate", 5, 100, /*check_quorum=*/false);
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "linearizability");
}

TEST_CASE("bug switch: a leader answering reads from local state is caught", "[scenario][bugs]") {
  // Without CheckQuorum a leader cut off from its peers keeps answering; with it, the stale
  // window shrinks to the lease a clock-drift bound would protect.
  auto r = first_failure("leader-local-read", "isolate", 5, 100, /*check_quorum=*/false);
  INFO(r.failure);
  REQUIRE_FALSE(r.ok);
  CHECK(r.check == "linearizability");
}
