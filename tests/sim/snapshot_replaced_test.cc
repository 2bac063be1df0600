// A leader that takes new snapshots while a multi-chunk transfer is under way keeps sending
// the one the transfer started with (storage keeps it readable while a transfer reads it, as
// a file a reader holds open survives its removal), so a lagging follower catches up even
// under steady writes instead of restarting from offset 0 at every new snapshot; so do two
// followers sent two different snapshots.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

TEST_CASE("a follower catches up by snapshot while the leader keeps writing and re-snapshotting",
          "[snapshot]") {
  for (std::uint64_t seed = 8091; seed <= 8093; ++seed) {
    SimOptions o = sim_options(3, seed);
    o.snapshot_threshold = 10;
    o.max_snapshot_chunk = 64;
    SimCluster c(o);
    c.one("a", 3, true);
    const int leader = c.check_one_leader();
    const int victim = (leader + 1) % 3;
    c.disconnect(victim);
    for (int k = 0; k < 300; ++k) c.one(fmt::format("c{}", k), 2, true);
    int restarts = 0;
    int installs = 0;
    const std::string victim_id = c.id(victim);
    c.set_delivery_observer([&](const pb::Message& m) {
      if (m.type() == pb::MSG_SNAPSHOT && m.to() == victim_id && m.offset() == 0) ++restarts;
    });
    c.set_restore_observer([&](int, Index) { ++installs; });
    c.connect(victim);
    // Clients keep writing, one command every 5 ms (a new snapshot every 50 ms).
    int writes = 0;
    const SimTime end = c.now() + seconds(10);
    while (c.now() < end && installs == 0) {
      if (auto l = c.leader()) (void)c.propose(*l, fmt::format("w{}", writes++));
      c.run_for(milliseconds(5));
    }
    INFO("seed " << seed << ": " << restarts << " transfers started, " << writes << " writes");
    CHECK(installs == 1);
    CHECK(restarts <= 3);
  }
}

TEST_CASE("two followers sent different snapshots both catch up while the leader re-snapshots",
          "[snapshot]") {
  // On disk storage: each transfer keeps its own reader open. With one reader shared by all
  // transfers, the two followers' reads closed each other's; once retention removed a
  // snapshot, its follower restarted on the newest, and neither transfer ever finished.
  for (std::uint64_t seed = 8091; seed <= 8093; ++seed) {
    SimOptions o = sim_options(5, seed);
    o.storage = StorageKind::kDisk;
    o.snapshot_threshold = 10;
    o.max_snapshot_chunk = 64;
    SimCluster c(o);
    c.one("a", 5, true);
    const int leader = c.check_one_leader();
    const int first = (leader + 1) % 5;
    const int second = (leader + 2) % 5;
    c.disconnect(first);
    c.disconnect(second);
    for (int k = 0; k < 300; ++k) c.one(fmt::format("c{}", k), 3, true);
    const std::string first_id = c.id(first);
    const std::string second_id = c.id(second);
    int restarts_first = 0;
    int restarts_second = 0;
    int installs_first = 0;
    int installs_second = 0;
    c.set_delivery_observer([&](const pb::Message& m) {
      if (m.type() != pb::MSG_SNAPSHOT || m.offset() != 0) return;
      if (m.to() == first_id) ++restarts_first;
      if (m.to() == second_id) ++restarts_second;
    });
    c.set_restore_observer([&](int n, Index) {
      if (n == first) ++installs_first;
      if (n == second) ++installs_second;
    });
    // The second reconnects 60 ms after the first, so the two are sent different snapshots.
    c.connect(first);
    const SimTime second_at = c.now() + milliseconds(60);
    bool second_connected = false;
    int writes = 0;
    const SimTime end = c.now() + seconds(20);
    while (c.now() < end && (installs_first == 0 || installs_second == 0)) {
      if (!second_connected && c.now() >= second_at) {
        c.connect(second);
        second_connected = true;
      }
      if (auto l = c.leader()) (void)c.propose(*l, fmt::format("w{}", writes++));
      c.run_for(milliseconds(5));
    }
    INFO("seed " << seed << ": transfers started " << restarts_first << " and " << restarts_second
                 << ", " << writes << " writes");
    CHECK(installs_first == 1);
    CHECK(installs_second == 1);
    CHECK(restarts_first <= 3);
    CHECK(restarts_second <= 3);
  }
}

}  // namespace
}  // namespace raft::sim
