// Integration: leader lease reads (Raft::lease_read) — on the leader they return a read point
// covering every acknowledged write, applied locally; followers refuse them with a leader
// hint.
#include <catch2/catch.hpp>
#include <future>
#include <optional>
#include <string>

#include "integration/cluster.h"

namespace raft::integration {
namespace {

TEST_CASE("a lease read on the leader returns the index of a just-acknowledged write") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);

  for (int i = 0; i < 20; ++i) {
    INFO("write " << i);
    std::future<Result<ApplyResult>> write =
        cluster.raft(leader).apply(set_command(test_key(i), test_value(i)), milliseconds(5000));
    std::optional<Result<ApplyResult>> written = get_within(write, milliseconds(6000));
    REQUIRE(written.has_value());
    REQUIRE_OK(written->status());

    std::future<Result<Index>> read = cluster.raft(leader).lease_read(milliseconds(5000));
    std::optional<Result<Index>> read_point = get_within(read, milliseconds(6000));
    REQUIRE(read_point.has_value());
    REQUIRE_OK(read_point->status());
    CHECK(read_point->value() >= written->value().index);
    // The leader has applied up to the read point when lease_read completes.
    CHECK(cluster.fsm(leader).applied_index() >= read_point->value());
    CHECK(cluster.fsm(leader).get(test_key(i)) == test_value(i));
  }
}

TEST_CASE("a lease read on a follower fails with kNotLeader naming the leader") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int follower = cluster.wait_for_follower_of(leader);
  REQUIRE(follower >= 0);

  std::future<Result<Index>> read = cluster.raft(follower).lease_read(milliseconds(1000));
  std::optional<Result<Index>> result = get_within(read, milliseconds(2000));
  REQUIRE(result.has_value());
  CHECK(result->status().code() == ErrorCode::kNotLeader);
  CHECK(result->status().leader_hint() == cluster.id(leader));
}

}  // namespace
}  // namespace raft::integration
