// A leader that takes new snapshots while a multi-chunk transfer is under way keeps sending
// the one the transfer started with (storage keeps it readable while a transfer reads it, as
// a file a reader holds open survives its removal), so a lagging follower catches up even
// under steady writes instead of restarting from offset 0 at every new snapshot.
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

}  // namespace
}  // namespace raft::sim
