// The simulator with SimOptions::storage = disk: each node keeps its raft state in a
// DurableStorage over its own FaultInjectingFileSystem, so crashes are power losses and
// restarts run the real recovery code (sim_cluster.h, "Storage").
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

SimOptions disk_options(int num_nodes, std::uint64_t seed) {
  SimOptions o = sim_options(num_nodes, seed);
  o.storage = StorageKind::kDisk;
  o.disk_segment_size = 4096;  // many segments
  return o;
}

// The data of the entry at `index` in node i's durable log ("" when absent).
std::string durable_data(const SimCluster& c, int i, Index index) {
  auto entries = c.log(i).entries(index, index + 1, std::numeric_limits<std::uint64_t>::max());
  if (!entries.ok() || entries.value().empty()) return {};
  return entries.value().front().data();
}

int count_lines(const SimCluster& c, const std::string& needle) {
  int n = 0;
  for (const std::string& line : c.trace_lines()) n += line.find(needle) != std::string::npos;
  return n;
}

TEST_CASE("on disk storage a crashed node recovers its log and term from its file system",
          "[sim][disk]") {
  SimCluster c(disk_options(3, 7001));
  const Index first = c.one("a", 3, true);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  const Term term = c.hard_state(follower).term();
  const Index last = c.log(follower).last_index();
  c.crash(follower);
  // The node rebooted at once: its log came back from the segments on "disk".
  CHECK(c.log(follower).last_index() >= last);
  CHECK(c.hard_state(follower).term() == term);
  CHECK(durable_data(c, follower, first) == "a");
  // Its state machine was volatile: nothing is applied until it replays the log.
  CHECK(c.node(follower).applied_index() == 0);
  c.restart(follower);
  const Index second = c.one("b", 3, true);
  CHECK(c.node(follower).command_at(first) == std::optional<std::string>("a"));
  CHECK(c.node(follower).command_at(second) == std::optional<std::string>("b"));
}

TEST_CASE("on disk storage every node crashing and restarting keeps every committed entry",
          "[sim][disk]") {
  SimCluster c(disk_options(3, 7002));
  std::vector<Index> indexes;
  for (int k = 0; k < 5; ++k) indexes.push_back(c.one(fmt::format("v{}", k), 3, true));
  for (int i = 0; i < 3; ++i) c.crash(i);
  for (int i = 0; i < 3; ++i) c.restart(i);
  indexes.push_back(c.one("after", 3, true));
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 5; ++k) {
      CHECK(c.node(i).command_at(indexes[static_cast<std::size_t>(k)]) ==
            std::optional<std::string>(fmt::format("v{}", k)));
    }
  }
}

TEST_CASE("on disk storage crashes that tear writes in flight keep the cluster safe and live",
          "[sim][disk]") {
  SimOptions o = disk_options(3, 7003);
  o.disk_delay_min = milliseconds(2);
  o.disk_delay_max = milliseconds(10);
  o.torn_writes = true;
  o.keep_trace_lines = true;
  SimCluster c(o);
  int torn = 0;
  for (int round = 0; round < 30; ++round) {
    const int leader = c.check_one_leader();
    std::vector<std::string> batch;
    for (int k = 0; k < 5; ++k) batch.push_back(fmt::format("r{}-{}", round, k));
    (void)c.propose_batch(leader, batch);
    c.run_for(milliseconds(3));
    // Crash a node with a write in flight (the leader's own, or a follower's).
    for (int k = 0; k < 3; ++k) {
      const int victim = (leader + round + k) % 3;
      if (c.write_in_flight(victim) != nullptr) {
        c.restart(victim);
        break;
      }
    }
    torn = count_lines(c, "torn at call");
  }
  // The checker ran after every event; the cluster still agrees.
  c.one("final", 3, true);
  CHECK(torn >= 5);
}

TEST_CASE("on disk storage a snapshot installed from the leader survives a crash", "[sim][disk]") {
  SimOptions o = disk_options(3, 7004);
  o.snapshot_threshold = 10;
  o.max_snapshot_chunk = 512;
  SimCluster c(o);
  std::vector<std::pair<int, Index>> restores;
  c.set_restore_observer([&](int node, Index index) { restores.emplace_back(node, index); });
  c.one("x", 3, true);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.disconnect(follower);
  for (int k = 0; k < 40; ++k) c.one(fmt::format("p{}", k), 2, true);
  REQUIRE(c.log(leader).first_index() > c.log(follower).last_index() + 1);
  c.connect(follower);
  const Index last = c.one("back", 3, true);
  REQUIRE(!restores.empty());
  const Index installed = restores.back().second;
  REQUIRE(restores.back().first == follower);
  REQUIRE(installed > 10);
  c.crash(follower);
  // The reboot restored the state machine from the installed snapshot (or a newer one).
  auto meta = c.disk(follower).snapshot_metadata();
  REQUIRE(meta.ok());
  CHECK(meta->index() >= installed);
  CHECK(c.node(follower).applied_index() == meta->index());
  CHECK(c.log(follower).first_index() <= meta->index() + 1);
  c.restart(follower);
  c.one("after", 3, true);
  CHECK(c.node(follower).command_at(last) == std::optional<std::string>("back"));
}

TEST_CASE("on disk storage a restart starts the state machine from the newest snapshot",
          "[sim][disk]") {
  SimOptions o = disk_options(3, 7005);
  SimCluster c(o);
  for (int k = 0; k < 10; ++k) c.one(fmt::format("s{}", k), 3, true);
  const int node = (c.check_one_leader() + 2) % 3;
  REQUIRE(c.snapshot(node).ok());
  const Index snap = c.node(node).snapshot_index();
  REQUIRE(snap == c.node(node).applied_index());
  const Index later = c.one("later", 3, true);
  std::vector<Index> applied;
  c.set_apply_observer([&](int i, const pb::Entry& e) {
    if (i == node) applied.push_back(e.index());
  });
  c.crash(node);
  CHECK(c.node(node).applied_index() == snap);
  c.restart(node);
  c.run_until([&] { return c.node(node).applied_index() >= later; }, seconds(2));
  // Replayed from just after the snapshot, each entry once.
  REQUIRE(!applied.empty());
  CHECK(applied.front() == snap + 1);
  for (std::size_t k = 1; k < applied.size(); ++k) CHECK(applied[k] == applied[k - 1] + 1);
  CHECK(c.node(node).command_at(later) == std::optional<std::string>("later"));
}

TEST_CASE(
    "on disk storage with slow disks the state machine keeps applying while a snapshot "
    "is written",
    "[sim][disk]") {
  SimOptions o = disk_options(3, 7006);
  o.disk_delay_min = milliseconds(20);
  o.disk_delay_max = milliseconds(40);
  o.snapshot_threshold = 5;
  SimCluster c(o);
  // (node, index of the snapshot being written, entry applied meanwhile)
  int applied_during_write = 0;
  c.set_apply_observer([&](int i, const pb::Entry& e) {
    const SimNode& n = c.node(i);
    if (!n.snapshot_in_flight()) return;
    ++applied_during_write;
    // The captured view does not move: the entry comes after it.
    CHECK(e.index() > n.snapshot_in_flight_index());
  });
  for (int k = 0; k < 60; ++k) {
    const int leader = c.check_one_leader();
    (void)c.propose(leader, fmt::format("w{}", k));
    c.run_for(milliseconds(5));
  }
  c.one("end", 3, true);
  CHECK(applied_during_write > 0);
  for (int i = 0; i < 3; ++i) {
    // Each written snapshot holds exactly the entries up to its index.
    auto meta = c.disk(i).snapshot_metadata();
    REQUIRE(meta.ok());
    CHECK(meta->index() <= c.node(i).applied_index());
    c.crash(i);
    CHECK(c.node(i).applied_index() == meta->index());
    c.restart(i);
  }
  c.one("end2", 3, true);
}

}  // namespace
}  // namespace raft::sim
