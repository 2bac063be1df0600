// Torn writes: a crash during a disk write leaves a strict prefix of the write's entries in the
// log (what survives once the storage layer cuts the torn record) and the hard state wholly
// old or wholly new; nothing of it was acknowledged, so the cluster stays safe.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

SimOptions torn_options(int nodes, std::uint64_t seed) {
  SimOptions options = sim_options(nodes, seed);
  options.disk_delay_min = milliseconds(5);
  options.disk_delay_max = milliseconds(10);
  options.torn_writes = true;
  return options;
}

std::vector<pb::Entry> durable_entries(const SimCluster& c, int i, Index lo, Index hi) {
  if (lo >= hi) return {};
  auto entries = c.storage(i).entries(lo, hi, kNoLimit);
  REQUIRE(entries.ok());
  return entries.value();
}

// Runs until node i has a write with at least `min_entries` entries in flight.
bool wait_for_write(SimCluster& c, int i, std::size_t min_entries, bool with_hard_state) {
  return c.run_until(
      [&] {
        const Ready* w = c.write_in_flight(i);
        return w != nullptr && w->entries.size() >= min_entries &&
               (!with_hard_state || w->hard_state.has_value());
      },
      seconds(1));
}

TEST_CASE("a torn write leaves a strict prefix of the in-flight entries in storage",
          "[sim][faults][torn]") {
  std::set<std::size_t> kept_counts;
  for (std::uint64_t seed = 7400; seed < 7440; ++seed) {
    INFO("seed " << seed);
    SimCluster c(torn_options(3, seed));
    c.one("first", 3, true);
    const int leader = c.check_one_leader();
    std::vector<std::string> batch;
    for (int k = 0; k < 8; ++k) batch.push_back(fmt::format("batch-{}", k));
    for (const auto& r : c.propose_batch(leader, batch)) REQUIRE(r.ok());
    REQUIRE(wait_for_write(c, leader, 2, false));
    const std::vector<pb::Entry> writing = c.write_in_flight(leader)->entries;
    const Index first = writing.front().index();
    REQUIRE(c.storage(leader).last_index() == first - 1);

    c.crash(leader);
    const Index last = c.storage(leader).last_index();
    REQUIRE(last >= first - 1);
    const auto kept = static_cast<std::size_t>(last - (first - 1));
    CHECK(kept < writing.size());  // strict: never the whole write
    const std::vector<pb::Entry> stored = durable_entries(c, leader, first, last + 1);
    REQUIRE(stored.size() == kept);
    for (std::size_t k = 0; k < kept; ++k) {
      CHECK(stored[k].SerializeAsString() == writing[k].SerializeAsString());
    }
    kept_counts.insert(kept);

    // Nothing was acknowledged, so the cluster carries on safely.
    c.one("second", 2, true);
    c.restart(leader);
    c.one("third", 3, true);
  }
  // The prefix really is random: empty, partial.
  CHECK(kept_counts.count(0) == 1);
  CHECK(kept_counts.size() >= 3);
}

TEST_CASE("a torn write keeps its hard state wholly or not at all", "[sim][faults][torn]") {
  int kept = 0;
  int lost = 0;
  for (std::uint64_t seed = 7450; seed < 7480; ++seed) {
    INFO("seed " << seed);
    SimCluster c(torn_options(3, seed));
    c.one("first", 3, true);
    const int leader = c.check_one_leader();
    const int follower = (leader + 1) % 3;
    REQUIRE(c.propose(leader, "second").ok());
    REQUIRE(wait_for_write(c, follower, 0, true));
    const pb::HardState old_hs = c.storage(follower).hard_state();
    const Ready write = *c.write_in_flight(follower);
    c.crash(follower);
    const pb::HardState hs = c.storage(follower).hard_state();
    if (hs.SerializeAsString() == old_hs.SerializeAsString()) {
      ++lost;
    } else {
      ++kept;
      // The new one, with its commit index clamped to the surviving log.
      CHECK(hs.term() == write.hard_state->term());
      CHECK(hs.vote() == write.hard_state->vote());
      CHECK(hs.commit() <= write.hard_state->commit());
      CHECK(hs.commit() >= old_hs.commit());
      CHECK(hs.commit() <= c.storage(follower).last_index());
    }
    c.restart(follower);
    c.one("third", 3, true);
  }
  CHECK(kept > 0);
  CHECK(lost > 0);
}

void crash_randomly_while_proposing(SimCluster& c) {
  c.one("start", 5, true);
  for (int iteration = 0; iteration < 40; ++iteration) {
    for (int i = 0; i < 5; ++i) {
      if (c.random().chance(0.3)) c.crash(i);
    }
    for (int i = 0; i < 5; ++i) {
      if (c.alive(i)) (void)c.propose_batch(i, {fmt::format("a{}", iteration), "b", "c"});
    }
    c.run_for(static_cast<SimTime>(c.random().uniform(0, 2 * c.election_timeout())));
    for (int i = 0; i < 5; ++i) {
      if (!c.alive(i) && c.random().chance(0.6)) c.restart(i);
    }
  }
  for (int i = 0; i < 5; ++i) {
    if (!c.alive(i)) c.restart(i);
  }
  c.one("end", 5, true);
}

TEST_CASE("random crashes that tear in-flight writes keep the cluster safe",
          "[sim][faults][torn]") {
  for (std::uint64_t seed = 7500; seed < 7520; ++seed) {
    INFO("seed " << seed);
    SimOptions options = sim_options(5, seed, NetworkOptions::unreliable());
    options.disk_delay_min = milliseconds(1);
    options.disk_delay_max = milliseconds(8);
    options.torn_writes = true;
    SimCluster c(options);
    REQUIRE_NOTHROW(crash_randomly_while_proposing(c));
  }
}

}  // namespace
}  // namespace raft::sim
