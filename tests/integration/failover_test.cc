// Integration: losing the leader (no acknowledged apply is lost), a stopped node catching up
// after its restart, and the whole cluster restarting from disk.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <vector>

#include "integration/checks.h"
#include "integration/cluster.h"

namespace raft::integration {
namespace {

// Applies keys [first, first + count) through the cluster's leader, one at a time, requiring
// each to succeed; returns the last index.
Index write_all(Cluster& cluster, int first, int count) {
  Index last = 0;
  for (int i = first; i < first + count; ++i) {
    Result<ApplyResult> r = cluster.apply(set_command(test_key(i), test_value(i)));
    INFO("key " << i);
    REQUIRE_OK(r.status());
    last = r->index;
  }
  return last;
}

TEST_CASE("after the leader's shutdown a new leader is elected and no acknowledged apply is lost") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int old_leader = cluster.wait_for_leader();
  REQUIRE(old_leader >= 0);

  // 500 applies in flight; once the first 100 are acknowledged, 500 more, and at once the
  // leader goes down: some of those are acknowledged, others end with kShutdown.
  constexpr int kWave = 500;
  std::vector<std::future<Result<ApplyResult>>> futures;
  auto issue = [&](int first) {
    for (int i = first; i < first + kWave; ++i) {
      futures.push_back(cluster.raft(old_leader)
                            .apply(set_command(test_key(i), test_value(i)), milliseconds(5000)));
    }
  };
  issue(0);
  std::vector<int> acknowledged;
  for (int i = 0; i < 100; ++i) {
    std::optional<Result<ApplyResult>> r = get_within(futures[i], milliseconds(5000));
    REQUIRE(r.has_value());
    REQUIRE_OK(r->status());
    acknowledged.push_back(i);
  }
  issue(kWave);
  cluster.stop(old_leader);
  int unexpected = 0;
  for (int i = 100; i < 2 * kWave; ++i) {
    std::optional<Result<ApplyResult>> r = get_within(futures[i], milliseconds(1000));
    REQUIRE(r.has_value());  // shutdown() completed every future
    if (r->ok()) {
      acknowledged.push_back(i);
    } else if (r->status().code() != ErrorCode::kShutdown) {
      if (unexpected++ == 0) UNSCOPED_INFO("apply " << i << ": " << r->status().to_string());
    }
  }
  WARN(acknowledged.size() << " of " << 2 * kWave << " acknowledged");
  CHECK(unexpected == 0);  // pending applies end ok or kShutdown (raft.h, shutdown())

  const int new_leader = cluster.wait_for_leader();
  REQUIRE(new_leader >= 0);
  CHECK(new_leader != old_leader);
  const Index last = write_all(cluster, 2 * kWave, 20);
  REQUIRE(cluster.wait_converged(last));
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.running(i)) continue;
    int lost = 0;
    for (int k : acknowledged) {
      if (cluster.fsm(i).get(test_key(k)) != test_value(k)) {
        if (lost++ == 0) UNSCOPED_INFO(cluster.id(i) << " lost acknowledged key " << k);
      }
    }
    CHECK(lost == 0);
  }
  require_no_violations(cluster);
}

TEST_CASE("the old leader restarted from its data dir catches up") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int old_leader = cluster.wait_for_leader();
  REQUIRE(old_leader >= 0);
  write_pipelined(cluster, old_leader, 0, 200);

  cluster.stop(old_leader);
  const int new_leader = cluster.wait_for_leader();
  REQUIRE(new_leader >= 0);
  write_pipelined(cluster, new_leader, 200, 200);

  REQUIRE_OK(cluster.restart(old_leader));
  const Index last = write_pipelined(cluster, new_leader, 400, 100);
  REQUIRE(cluster.wait_converged(last));
  CHECK(cluster.fsm(old_leader).size() == 500);
  CHECK(cluster.fsm(old_leader).data() == cluster.fsm(new_leader).data());
  require_no_violations(cluster);
}

TEST_CASE("the whole cluster restarted from disk keeps its state and applies nothing twice") {
  ClusterOptions options;
  options.snapshot_threshold = 100;  // restart from a snapshot plus the log after it
  options.trailing_logs = 10;
  Cluster cluster(options);
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const Index before = write_pipelined(cluster, leader, 0, 350);
  REQUIRE(cluster.wait_converged(before));
  const KvMap data = cluster.fsm(leader).data();
  REQUIRE(data.size() == 350);

  for (int i = 0; i < cluster.size(); ++i) cluster.stop(i);
  for (int i = 0; i < cluster.size(); ++i) REQUIRE_OK(cluster.restart(i));

  REQUIRE(cluster.wait_for_leader() >= 0);
  REQUIRE(cluster.wait_converged(before));
  for (int i = 0; i < cluster.size(); ++i) {
    INFO("node " << cluster.id(i));
    CHECK(cluster.fsm(i).data() == data);
    CHECK(cluster.fsm(i).restores() >= 1);  // each node had taken snapshots
    // Restored up to its newest snapshot, then replayed the rest of the log: never the
    // whole history one entry at a time again.
    CHECK(cluster.fsm(i).commands_applied() < 350);
  }
  const Index after = write_all(cluster, 350, 20);
  REQUIRE(cluster.wait_converged(after));
  for (int i = 0; i < cluster.size(); ++i) CHECK(cluster.fsm(i).size() == 370);
  require_no_violations(cluster);
}

}  // namespace
}  // namespace raft::integration
