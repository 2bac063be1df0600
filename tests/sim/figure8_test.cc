// Figure 8 of the Raft paper (after the 6.824 tests TestFigure82C and TestFigure8Unreliable2C):
// leaders are repeatedly crashed (or cut off) right after accepting proposals, so entries of
// old terms are left on some nodes; a leader must never count replicas of an old-term entry
// to commit it. The invariant checker watches every event; at the end the whole cluster comes
// back and one last command must commit. Each TEST_CASE sweeps a range of seeds.
//
// Longer sweeps: RAFT_SIM_SEEDS=<n> runs n seeds per TEST_CASE instead of 100, starting at
// the case's first seed plus RAFT_SIM_SEED_OFFSET (default 0). To replay one failing seed s,
// run one case with RAFT_SIM_SEEDS=1 RAFT_SIM_SEED_OFFSET=<s - first seed of the case>.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

constexpr int kNodes = 5;
constexpr int kIterations = 1000;

std::string random_command(SimCluster& c) {
  return fmt::format("{}", c.random().uniform(0, 1u << 30));
}

// Sleeps like the 6.824 test: usually a little, sometimes up to half an election timeout.
void pause(SimCluster& c) {
  if (c.random().chance(0.1)) {
    c.run_for(static_cast<SimTime>(
        c.random().uniform(0, static_cast<std::uint64_t>(c.election_timeout() / 2))));
  } else {
    c.run_for(static_cast<SimTime>(c.random().uniform(0, milliseconds(13))));
  }
}

void run_figure8_with(std::uint64_t seed, bool slow_disk) {
  SimOptions options = sim_options(kNodes, seed);
  if (slow_disk) {
    options.disk_delay_min = milliseconds(1);
    options.disk_delay_max = milliseconds(8);
  }
  SimCluster c(options);
  c.one(random_command(c), 1, true);
  int up = kNodes;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    int leader = -1;
    for (int i = 0; i < kNodes; ++i) {
      if (c.alive(i) && c.propose(i, random_command(c)).ok()) leader = i;
    }
    pause(c);
    if (leader != -1) {
      c.crash(leader);
      --up;
    }
    if (up < 3) {
      const int s = c.random().index(kNodes);
      if (!c.alive(s)) {
        c.restart(s);
        ++up;
      }
    }
  }
  for (int i = 0; i < kNodes; ++i) {
    if (!c.alive(i)) c.restart(i);
  }
  c.one(random_command(c), kNodes, true);
}

void run_figure8(std::uint64_t seed) { run_figure8_with(seed, false); }
void run_figure8_slow_disk(std::uint64_t seed) { run_figure8_with(seed, true); }

void run_figure8_unreliable_with(std::uint64_t seed, bool slow_disk) {
  SimOptions options = sim_options(kNodes, seed, NetworkOptions::unreliable());
  if (slow_disk) {
    options.disk_delay_min = milliseconds(1);
    options.disk_delay_max = milliseconds(8);
  }
  SimCluster c(options);
  c.one(random_command(c), 1, true);
  int up = kNodes;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    if (iteration == kIterations / 5) {
      // Long reordering from here on: a third of the messages take up to 2 s.
      NetworkOptions reordering = NetworkOptions::unreliable();
      reordering.long_delay_probability = 0.33;
      reordering.long_delay_max = seconds(2);
      c.set_network(reordering);
    }
    int leader = -1;
    for (int i = 0; i < kNodes; ++i) {
      if (c.propose(i, random_command(c)).ok() && c.connected(i)) leader = i;
    }
    pause(c);
    if (leader != -1 && c.random().chance(0.5)) {
      c.disconnect(leader);
      --up;
    }
    if (up < 3) {
      const int s = c.random().index(kNodes);
      if (!c.connected(s)) {
        c.connect(s);
        ++up;
      }
    }
  }
  for (int i = 0; i < kNodes; ++i) {
    if (!c.connected(i)) c.connect(i);
  }
  c.one(random_command(c), kNodes, true);
}

void run_figure8_unreliable(std::uint64_t seed) { run_figure8_unreliable_with(seed, false); }
void run_figure8_unreliable_slow_disk(std::uint64_t seed) {
  run_figure8_unreliable_with(seed, true);
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::stoull(value) : fallback;
}

void sweep(void (*scenario)(std::uint64_t), std::uint64_t first, std::uint64_t count) {
  first += env_or("RAFT_SIM_SEED_OFFSET", 0);
  count = env_or("RAFT_SIM_SEEDS", count);
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    INFO("seed " << seed);
    REQUIRE_NOTHROW(scenario(seed));
  }
}

TEST_CASE("figure 8: no old-term entry is committed by counting replicas (seeds 1-100)",
          "[sim][figure8]") {
  sweep(run_figure8, 1, 100);
}

TEST_CASE("figure 8: no old-term entry is committed by counting replicas (seeds 101-200)",
          "[sim][figure8]") {
  sweep(run_figure8, 101, 100);
}

TEST_CASE("figure 8 with slow disks: crashes lose in-flight writes safely (seeds 1-100)",
          "[sim][figure8]") {
  sweep(run_figure8_slow_disk, 1, 100);
}

TEST_CASE("figure 8 on an unreliable network stays safe and recovers (seeds 1-100)",
          "[sim][figure8]") {
  sweep(run_figure8_unreliable, 1, 100);
}

TEST_CASE("figure 8 on an unreliable network stays safe and recovers (seeds 101-200)",
          "[sim][figure8]") {
  sweep(run_figure8_unreliable, 101, 100);
}

TEST_CASE("figure 8 on an unreliable network with slow disks stays safe (seeds 1-100)",
          "[sim][figure8]") {
  sweep(run_figure8_unreliable_slow_disk, 1, 100);
}

}  // namespace
}  // namespace raft::sim
