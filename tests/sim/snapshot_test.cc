// Snapshot scenarios (after the MIT 6.824 Raft tests 2D): nodes snapshot their state machine
// every few entries and compact their logs; followers that fall behind the compaction point
// catch up by InstallSnapshot, sent in chunks, over reliable and lossy networks, with crashes.
// A node's state machine is the list of entries it applied, so a snapshot restores all of
// them and the harness checks (one(), n_committed, the invariant checker) stay meaningful.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// 6.824's SnapShotInterval: a snapshot every 10 applied entries.
constexpr Index kSnapshotInterval = 10;

SimOptions snapshot_options(std::uint64_t seed,
                            const NetworkOptions& network = NetworkOptions::reliable()) {
  SimOptions o = sim_options(3, seed, network);
  o.snapshot_threshold = kSnapshotInterval;
  o.snapshot_trailing = 0;
  return o;
}

// A bound on any node's log length with snapshots every kSnapshotInterval entries: what is
// not yet snapshotted plus what is not yet committed (6.824's MAXLOGSIZE check). Without
// compaction the logs of these tests grow to hundreds of entries.
constexpr Index kMaxLogLength = 3 * kSnapshotInterval;

// Unique commands, so a test can tell which writes were applied and how often.
class Commands {
 public:
  std::string next() { return fmt::format("c{}", ++n_); }

 private:
  int n_ = 0;
};

// 6.824's snapcommon: each iteration cuts a victim off (disconnect and/or crash), writes
// enough to make the others snapshot past it, and brings it back; it must catch up (by
// InstallSnapshot when it fell behind a compaction). Returns how many snapshots were
// installed.
int snap_install(SimCluster& c, int iterations, bool disconnect, bool crash) {
  int installs = 0;
  c.set_restore_observer([&](int, Index) { ++installs; });
  Commands cmd;
  const int servers = c.size();
  c.one(cmd.next(), servers, true);
  int leader1 = c.check_one_leader();
  for (int i = 0; i < iterations; ++i) {
    int victim = (leader1 + 1) % servers;
    int sender = leader1;
    if (i % 3 == 1) {
      sender = (leader1 + 1) % servers;
      victim = leader1;
    }
    if (disconnect) {
      c.disconnect(victim);
      c.one(cmd.next(), servers - 1, true);
    }
    if (crash) {
      c.crash(victim);
      c.one(cmd.next(), servers - 1, true);
    }
    // Perhaps enough to get a snapshot (the sender may not be leader: then nothing).
    const auto nn =
        static_cast<int>(kSnapshotInterval / 2 + c.random().uniform(0, kSnapshotInterval - 1));
    for (int k = 0; k < nn; ++k) (void)c.propose(sender, cmd.next());
    if (!disconnect && !crash) {
      // Everyone caught up, so no InstallSnapshot is needed.
      c.one(cmd.next(), servers, true);
    } else {
      c.one(cmd.next(), servers - 1, true);
    }
    REQUIRE(c.invariants().max_log_length() <= kMaxLogLength);
    if (disconnect) {
      c.connect(victim);
      c.one(cmd.next(), servers, true);
      leader1 = c.check_one_leader();
    }
    if (crash) {
      c.restart(victim);
      c.connect(victim);
      c.one(cmd.next(), servers, true);
      leader1 = c.check_one_leader();
    }
  }
  return installs;
}

// Every node applied the same entries (n_committed fails on a mismatch) up to `index`.
void check_all_applied(const SimCluster& c, Index index) {
  for (Index k = 1; k <= index; ++k) CHECK(c.n_committed(k).count == c.size());
}

TEST_CASE("nodes snapshot and compact their logs while the cluster keeps agreeing",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8001; seed <= 8003; ++seed) {
    SimCluster c(snapshot_options(seed));
    snap_install(c, 30, false, false);
    const Index last = c.invariants().max_committed();
    for (int i = 0; i < c.size(); ++i) {
      CHECK(c.storage(i).snapshot().index() >= last - kSnapshotInterval);
      CHECK(c.storage(i).first_index() > last - kSnapshotInterval);
    }
    check_all_applied(c, c.node(0).storage().snapshot().index());
  }
}

TEST_CASE("a disconnected follower catches up by installing a snapshot", "[sim][snapshot]") {
  for (std::uint64_t seed = 8011; seed <= 8013; ++seed) {
    SimCluster c(snapshot_options(seed));
    const int installs = snap_install(c, 30, true, false);
    // Each iteration's victim missed more than a snapshot interval: most come back by
    // InstallSnapshot (some catch up from what the leader's log still holds).
    CHECK(installs >= 10);
  }
}

TEST_CASE("a disconnected follower catches up by snapshot over a lossy network",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8021; seed <= 8022; ++seed) {
    SimCluster c(snapshot_options(seed, NetworkOptions::unreliable()));
    const int installs = snap_install(c, 20, true, false);
    CHECK(installs >= 5);
  }
}

TEST_CASE("a crashed follower catches up by installing a snapshot after restart",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8031; seed <= 8033; ++seed) {
    SimCluster c(snapshot_options(seed));
    const int installs = snap_install(c, 30, false, true);
    CHECK(installs >= 10);
  }
}

TEST_CASE("crashed followers catch up by snapshot over a lossy network", "[sim][snapshot]") {
  for (std::uint64_t seed = 8041; seed <= 8043; ++seed) {
    SimOptions o = snapshot_options(seed, NetworkOptions::unreliable());
    // Slow disks too: snapshot installs wait for their write, and crashes tear them.
    o.disk_delay_max = milliseconds(5);
    o.torn_writes = true;
    SimCluster c(o);
    const int installs = snap_install(c, 20, false, true);
    CHECK(installs >= 5);
  }
}

TEST_CASE("after every node crashes and restarts, commit and applied state never go back",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8051; seed <= 8053; ++seed) {
    SimCluster c(snapshot_options(seed));
    Commands cmd;
    const int servers = c.size();
    c.one(cmd.next(), servers, true);
    for (int i = 0; i < 5; ++i) {
      const auto nn =
          static_cast<int>(kSnapshotInterval / 2 + c.random().uniform(0, kSnapshotInterval - 1));
      for (int k = 0; k < nn; ++k) c.one(cmd.next(), servers, true);
      const Index index1 = c.one(cmd.next(), servers, true);
      std::vector<Index> applied, commit;
      for (int j = 0; j < servers; ++j) {
        applied.push_back(c.node(j).applied_index());
        commit.push_back(c.storage(j).hard_state().commit());
        c.crash(j);
      }
      for (int j = 0; j < servers; ++j) c.restart(j);
      for (int j = 0; j < servers; ++j) {
        const NodeStatus st = c.raw(j)->status();
        CHECK(st.applied >= applied[static_cast<std::size_t>(j)]);
        CHECK(st.commit >= commit[static_cast<std::size_t>(j)]);
        CHECK(c.node(j).applied_index() == applied[static_cast<std::size_t>(j)]);
      }
      const Index index2 = c.one(cmd.next(), servers, true);
      CHECK(index2 > index1);
    }
  }
}

TEST_CASE("a restarted node starts from its snapshot and applies nothing twice",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8061; seed <= 8063; ++seed) {
    SimCluster c(snapshot_options(seed));
    // How often each node applied each index, over the whole run.
    std::vector<std::map<Index, int>> applications(static_cast<std::size_t>(c.size()));
    c.set_apply_observer([&](int node, const pb::Entry& e) {
      ++applications[static_cast<std::size_t>(node)][e.index()];
    });
    Commands cmd;
    const int servers = c.size();
    c.one(cmd.next(), servers, true);
    for (Index k = 0; k < kSnapshotInterval + 1; ++k) c.one(cmd.next(), servers, true);
    auto crash_and_restart_all = [&] {
      for (int j = 0; j < servers; ++j) c.crash(j);
      for (int j = 0; j < servers; ++j) {
        c.restart(j);
        // It starts past its snapshot: the compacted entries are not re-read or re-applied.
        CHECK(c.storage(j).snapshot().index() > 0);
        CHECK(c.raw(j)->status().applied == c.node(j).applied_index());
      }
    };
    crash_and_restart_all();
    // A single write, to get something written back to storage after the restart.
    c.one(cmd.next(), servers, true);
    crash_and_restart_all();
    c.one(cmd.next(), servers, true);
    for (const auto& per_node : applications) {
      for (const auto& [index, times] : per_node) {
        INFO("index " << index);
        CHECK(times == 1);
      }
    }
  }
}

TEST_CASE("a snapshot of many chunks over a lossy network completes without restarting",
          "[sim][snapshot]") {
  for (std::uint64_t seed = 8071; seed <= 8073; ++seed) {
    SimOptions o = sim_options(3, seed);
    o.snapshot_threshold = 20;
    o.max_snapshot_chunk = 64;
    SimCluster c(o);
    Commands cmd;
    c.one(cmd.next(), 3, true);
    const int leader = c.check_one_leader();
    const int victim = (leader + 1) % 3;
    c.disconnect(victim);
    for (int k = 0; k < 100; ++k) c.one(cmd.next() + std::string(30, 'x'), 2, true);
    const std::string victim_id = c.id(victim);
    int chunks = 0;
    int restarts = 0;
    c.set_delivery_observer([&](const pb::Message& m) {
      if (m.type() != pb::MSG_SNAPSHOT || m.to() != victim_id) return;
      ++chunks;
      if (m.offset() == 0) ++restarts;
    });
    int installs = 0;
    c.set_restore_observer([&](int, Index) { ++installs; });
    NetworkOptions lossy = NetworkOptions::reliable();
    lossy.drop_probability = 0.2;
    lossy.duplicate_probability = 0.05;
    c.set_network(lossy);
    c.connect(victim);
    const Index target = c.invariants().max_committed();
    REQUIRE(c.run_until([&] { return c.node(victim).applied_index() >= target; }, seconds(30)));
    CHECK(installs == 1);
    // The snapshot is ~100 entries of ~40 bytes: well over 60 chunks of 64 bytes. A lost
    // chunk is resent from where the follower is; starting over from offset 0 would take
    // dozens of restarts at this loss rate.
    INFO("chunks " << chunks << ", restarts " << restarts);
    CHECK(c.storage(leader).snapshot().size() > 60 * 64);
    CHECK(chunks >= 60);
    CHECK(restarts <= 3);
    c.set_network(NetworkOptions::reliable());
    c.one(cmd.next(), 3, true);
  }
}

TEST_CASE("logs stay bounded over a long run with snapshots on", "[sim][snapshot]") {
  SimOptions o = sim_options(5, 8081);
  o.snapshot_threshold = 20;
  o.snapshot_trailing = 5;
  SimCluster c(o);
  Commands cmd;
  for (int round = 0; round < 10; ++round) {
    const int victim = static_cast<int>(c.random().index(5));
    c.crash(victim);
    for (int k = 0; k < 30; ++k) c.one(cmd.next(), 4, true);
    c.restart(victim);
    for (int k = 0; k < 20; ++k) c.one(cmd.next(), 5, true);
  }
  CHECK(c.invariants().max_committed() >= 500);
  // Not yet snapshotted (< threshold) + trailing + a few in flight.
  CHECK(c.invariants().max_log_length() <= o.snapshot_threshold + o.snapshot_trailing + 5);
  for (int i = 0; i < 5; ++i) CHECK(c.storage(i).first_index() > 400);
}

}  // namespace
}  // namespace raft::sim
