// Integration: leader election over loopback TCP, and what a node reports about itself
// (leader(), stats()).
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/cluster.h"
#include "storage/fault_injecting_file_system.h"

namespace raft::integration {
namespace {

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::uint64_t number(const std::map<std::string, std::string>& stats, const std::string& key) {
  auto it = stats.find(key);
  if (it == stats.end() || !is_number(it->second)) return 0;
  return std::stoull(it->second);
}

TEST_CASE("three nodes elect exactly one leader and the followers know it") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const NodeId leader_id = cluster.id(leader);

  const bool followers_know = wait_until(
      [&] {
        for (int i = 0; i < cluster.size(); ++i) {
          if (i == leader) continue;
          if (cluster.raft(i).state() != RaftState::kFollower) return false;
          if (cluster.raft(i).leader().id != leader_id) return false;
        }
        return true;
      },
      milliseconds(3000));
  REQUIRE(followers_know);

  int leaders = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    INFO("node " << cluster.id(i));
    if (cluster.raft(i).state() == RaftState::kLeader) ++leaders;
    const LeaderInfo info = cluster.raft(i).leader();
    CHECK(info.id == leader_id);
    CHECK(info.address == cluster.address(leader));
    CHECK(cluster.raft(i).stats().at("term") == cluster.raft(leader).stats().at("term"));
  }
  CHECK(leaders == 1);
}

TEST_CASE("stats() reports hashicorp's keys with sane values") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  Index last = 0;
  for (int i = 0; i < 20; ++i) {
    Result<ApplyResult> r = cluster.apply(set_command(test_key(i), test_value(i)));
    REQUIRE_OK(r.status());
    last = r->index;
  }
  REQUIRE(cluster.wait_converged(last));
  // Every node knows the commit index once a heartbeat carried it.
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < cluster.size(); ++i) {
          if (number(cluster.raft(i).stats(), "commit_index") < last) return false;
        }
        return true;
      },
      milliseconds(3000)));

  const char* keys[] = {"state",
                        "term",
                        "last_log_index",
                        "last_log_term",
                        "commit_index",
                        "applied_index",
                        "fsm_pending",
                        "last_snapshot_index",
                        "last_snapshot_term",
                        "latest_configuration",
                        "latest_configuration_index",
                        "num_peers",
                        "last_contact",
                        "protocol_version",
                        "id",
                        "leader",
                        "leader_addr"};
  for (int i = 0; i < cluster.size(); ++i) {
    const std::map<std::string, std::string> stats = cluster.raft(i).stats();
    INFO("node " << cluster.id(i));
    for (const char* key : keys) {
      INFO("key " << key);
      CHECK(stats.count(key) == 1);
    }
    const RaftState state = cluster.raft(i).state();
    CHECK(stats.at("state") == std::string(to_string(state)));
    // hashicorp/raft's spelling of its states.
    CHECK(stats.at("state") == (i == leader ? "Leader" : "Follower"));
    for (const char* key :
         {"term", "last_log_index", "last_log_term", "commit_index", "applied_index", "fsm_pending",
          "last_snapshot_index", "last_snapshot_term", "latest_configuration_index", "num_peers"}) {
      INFO("key " << key << " = '" << stats.at(key) << "'");
      CHECK(is_number(stats.at(key)));
    }
    CHECK(number(stats, "term") > 0);
    CHECK(number(stats, "last_log_term") == number(stats, "term"));
    CHECK(number(stats, "last_log_index") >= number(stats, "commit_index"));
    CHECK(number(stats, "commit_index") >= number(stats, "applied_index"));
    CHECK(number(stats, "applied_index") >= last);
    CHECK(number(stats, "applied_index") == cluster.fsm(i).applied_index());
    CHECK(number(stats, "latest_configuration_index") >= 1);
    CHECK(number(stats, "num_peers") == 2);
    CHECK(stats.at("id") == cluster.id(i));
    CHECK(stats.at("leader") == cluster.id(leader));
    CHECK(stats.at("leader_addr") == cluster.address(leader));
    CHECK_FALSE(stats.at("last_contact").empty());
    CHECK_FALSE(stats.at("protocol_version").empty());
    for (int j = 0; j < cluster.size(); ++j) {
      CHECK(stats.at("latest_configuration").find(cluster.id(j)) != std::string::npos);
      CHECK(stats.at("latest_configuration").find(cluster.address(j)) != std::string::npos);
    }
  }
}

TEST_CASE(
    "a follower held up past its election timeout does not campaign on the heartbeats "
    "that reached it meanwhile") {
  std::vector<std::unique_ptr<FaultInjectingFileSystem>> disks;  // outlive the cluster
  Cluster cluster;
  for (int i = 0; i < 3; ++i) {
    disks.push_back(std::make_unique<FaultInjectingFileSystem>(100 + i));
    cluster.use_file_system(i, disks.back().get());
  }
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);
  REQUIRE_OK(cluster.apply(set_command(test_key(1), test_value(1))).status());
  REQUIRE(cluster.wait_converged(1));

  // The follower's state changes from the moment its disk is released.
  std::mutex mu;
  bool released = false;
  std::vector<RaftState> changes;
  cluster.raft(follower).set_observer([&](const RaftEvent& event) {
    std::lock_guard lock(mu);
    if (released && event.kind == RaftEvent::Kind::kStateChanged) changes.push_back(event.state);
  });
  FaultInjectingFileSystem& disk = *disks[follower];
  struct Release {  // however the test ends, the follower's core thread is not left held
    FaultInjectingFileSystem& disk;
    ~Release() { disk.release_syncs(); }
  } release{disk};
  disk.hold_syncs();
  // The next entry holds the follower's core thread in its sync; the others commit it.
  REQUIRE_OK(cluster.apply(set_command(test_key(2), test_value(2))).status());
  REQUIRE(wait_until([&] { return disk.held_syncs() > 0; }, milliseconds(5000)));
  // Held for three election timeouts, while the leader's heartbeats queue up for it.
  std::this_thread::sleep_for(milliseconds(600));
  {
    std::lock_guard lock(mu);
    released = true;
  }
  disk.release_syncs();
  // Two more entries applied everywhere: the follower has stepped what was queued and run
  // the ticks it missed, and heard from the leader again.
  REQUIRE_OK(cluster.apply(set_command(test_key(3), test_value(3))).status());
  REQUIRE_OK(cluster.apply(set_command(test_key(4), test_value(4))).status());
  REQUIRE(cluster.wait_converged(4));
  // The ticks it missed came before the heartbeats it then stepped, which restarted its
  // election timer: it never stood for election (stepping first and ticking after would have
  // run the timer out at once, with a fresh lease just promised to the leader).
  std::lock_guard lock(mu);
  CHECK(changes.empty());
  CHECK(cluster.raft(follower).state() == RaftState::kFollower);
  CHECK(cluster.wait_for_leader() == leader);
}

}  // namespace
}  // namespace raft::integration
