// Integration: replication of applies through the leader, refusals on followers, and
// linearizable reads through a follower (read_index).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/cluster.h"

namespace raft::integration {
namespace {

using std::chrono::steady_clock;

TEST_CASE("10,000 applies replicate to all three state machines") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);

  constexpr int kCount = 10'000;
  const auto begin = steady_clock::now();
  std::vector<Result<ApplyResult>> results =
      apply_pipelined(cluster.raft(leader), 0, kCount, 64, milliseconds(10'000));
  const auto elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - begin);
  WARN("10,000 pipelined applies (64 in flight) took " << elapsed.count() << " ms");

  Index last = 0;
  int failed = 0;
  int bad_responses = 0;
  int out_of_order = 0;
  for (const Result<ApplyResult>& r : results) {
    if (!r.ok()) {
      if (failed++ == 0) UNSCOPED_INFO("first failure: " << r.status().to_string());
      continue;
    }
    if (r->response != std::to_string(r->index)) ++bad_responses;
    if (r->index <= last) ++out_of_order;  // indexes follow the order of the applies
    last = r->index;
  }
  REQUIRE(failed == 0);
  CHECK(bad_responses == 0);
  CHECK(out_of_order == 0);

  REQUIRE(cluster.wait_converged(last));
  for (int i = 0; i < cluster.size(); ++i) {
    INFO("node " << cluster.id(i));
    CHECK(cluster.fsm(i).size() == static_cast<std::size_t>(kCount));
    CHECK(cluster.fsm(i).get(test_key(kCount - 1)) == test_value(kCount - 1));
  }
  const std::vector<std::string> violations = cluster.violations();
  INFO(violations.size() << " violations, first: " << (violations.empty() ? "" : violations[0]));
  CHECK(violations.empty());
}

TEST_CASE("apply on a follower fails at once with kNotLeader naming the leader") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);

  std::future<Result<ApplyResult>> future =
      cluster.raft(follower).apply(set_command("a", "1"), milliseconds(5000));
  std::optional<Result<ApplyResult>> result = get_within(future, milliseconds(500));
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->ok());
  CHECK(result->status().code() == ErrorCode::kNotLeader);
  CHECK(result->status().leader_hint() == cluster.id(leader));
  CHECK(cluster.raft(follower).leader().address == cluster.address(leader));

  // The callback overload says the same.
  std::promise<Result<ApplyResult>> promise;
  std::future<Result<ApplyResult>> via_callback = promise.get_future();
  cluster.raft(follower).apply(set_command("a", "2"), milliseconds(5000),
                               [&promise](Result<ApplyResult> r) { promise.set_value(r); });
  result = get_within(via_callback, milliseconds(500));
  REQUIRE(result.has_value());
  CHECK(result->status().code() == ErrorCode::kNotLeader);
  CHECK(result->status().leader_hint() == cluster.id(leader));
  CHECK_FALSE(cluster.fsm(follower).get("a").has_value());
}

TEST_CASE("read_index on a follower reads the follower's own acknowledged writes") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);

  for (int i = 0; i < 50; ++i) {
    INFO("write " << i);
    std::future<Result<ApplyResult>> write =
        cluster.raft(leader).apply(set_command(test_key(i), test_value(i)), milliseconds(5000));
    std::optional<Result<ApplyResult>> written = get_within(write, milliseconds(6000));
    REQUIRE(written.has_value());
    REQUIRE_OK(written->status());

    std::future<Result<Index>> read = cluster.raft(follower).read_index(milliseconds(5000));
    std::optional<Result<Index>> read_point = get_within(read, milliseconds(6000));
    REQUIRE(read_point.has_value());
    REQUIRE_OK(read_point->status());
    CHECK(read_point->value() >= written->value().index);
    // No wait: the follower has applied up to the read point when read_index completes.
    CHECK(cluster.fsm(follower).applied_index() >= read_point->value());
    CHECK(cluster.fsm(follower).get(test_key(i)) == test_value(i));
  }
}

TEST_CASE(
    "concurrent reads on a follower, sharing forwarded requests, see every write "
    "acknowledged before they began") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);
  // A writer acknowledges writes while bursts of reads start on the follower: reads taken
  // while a forwarded request is in flight share the next one, and each read's point must
  // still cover every write acknowledged before that read began.
  std::atomic<Index> acknowledged{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto write = cluster.raft(leader).apply(set_command(test_key(i % 50), test_value(i)),
                                              milliseconds(5000));
      std::optional<Result<ApplyResult>> written = get_within(write, milliseconds(6000));
      if (written && written->ok()) acknowledged.store(written->value().index);
    }
  });
  for (int burst = 0; burst < 20; ++burst) {
    std::vector<std::pair<Index, std::future<Result<Index>>>> reads;
    for (int k = 0; k < 64; ++k) {
      const Index before = acknowledged.load();
      reads.emplace_back(before, cluster.raft(follower).read_index(milliseconds(5000)));
    }
    for (auto& [before, read] : reads) {
      std::optional<Result<Index>> point = get_within(read, milliseconds(6000));
      REQUIRE(point.has_value());
      REQUIRE_OK(point->status());
      CHECK(point->value() >= before);
    }
  }
  stop.store(true);
  writer.join();
  CHECK(acknowledged.load() > 0);
}

TEST_CASE("a follower's read waiting on a leader that stopped is confirmed by the next leader") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);
  auto written = cluster.apply(set_command("k", "v1"));
  REQUIRE_OK(written.status());

  // The follower still believes in the stopped leader and forwards the read to it: the
  // request is lost. The read must then be confirmed by the next leader, long before its own
  // (generous) timeout.
  cluster.stop(leader);
  std::future<Result<Index>> read = cluster.raft(follower).read_index(milliseconds(60'000));
  std::optional<Result<Index>> read_point = get_within(read, milliseconds(20'000));
  REQUIRE(read_point.has_value());
  REQUIRE_OK(read_point->status());
  CHECK(read_point->value() >= written->index);
  CHECK(cluster.fsm(follower).get("k") == "v1");
}

}  // namespace
}  // namespace raft::integration
