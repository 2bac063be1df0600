// Integration: a node whose disk fails while persisting (FaultInjectingFileSystem under its
// DurableStorage) stops with kIoError instead of acknowledging what it could not make
// durable; the rest of the cluster carries on.
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "integration/cluster.h"
#include "storage/fault_injecting_file_system.h"

namespace raft::integration {
namespace {

using Op = FaultInjectingFileSystem::Op;

// The events a node's observer heard (the observer runs on the node's core thread).
struct Events {
  std::mutex mutex;
  std::vector<RaftEvent> events;

  std::function<void(const RaftEvent&)> observer() {
    return [this](const RaftEvent& event) {
      std::lock_guard lock(mutex);
      events.push_back(event);
    };
  }
  // The error of the first kStopped event, or nullopt if none came.
  std::optional<Status> stopped() {
    std::lock_guard lock(mutex);
    for (const RaftEvent& e : events) {
      if (e.kind == RaftEvent::Kind::kStopped) return e.error;
    }
    return std::nullopt;
  }
};

void fail_every_write(FaultInjectingFileSystem& fs) {
  fs.fail_from(Op::kAppend, 1);
  fs.fail_from(Op::kSync, 1);
  fs.fail_from(Op::kCreateWritable, 1);
  fs.fail_from(Op::kRename, 1);
}

// Makes node `target` the leader, with one write of its term applied, transferring
// leadership to it if needed; retries (a slow machine may see an election) until `timeout`.
bool settle_leader(Cluster& cluster, int target, milliseconds timeout) {
  return wait_until(
      [&] {
        const int leader = cluster.wait_for_leader();
        if (leader < 0) return false;
        if (leader != target) {
          std::future<Status> transfer =
              cluster.raft(leader).leadership_transfer(cluster.id(target), milliseconds(2000));
          get_within(transfer, milliseconds(3000));
          return false;
        }
        std::future<Result<ApplyResult>> write =
            cluster.raft(target).apply(set_command("settled", "1"), milliseconds(2000));
        std::optional<Result<ApplyResult>> r = get_within(write, milliseconds(3000));
        return r.has_value() && r->ok();
      },
      timeout);
}

TEST_CASE("an I/O error while persisting stops the leader and fails its pending applies") {
  FaultInjectingFileSystem fs;  // outlives the cluster
  Events events;
  Cluster cluster;
  cluster.use_file_system(0, &fs);
  REQUIRE_OK(cluster.start());
  REQUIRE(settle_leader(cluster, 0, milliseconds(10'000)));
  Raft& raft = cluster.raft(0);
  raft.set_observer(events.observer());

  fail_every_write(fs);
  std::vector<std::future<Result<ApplyResult>>> pending;
  for (int i = 10; i < 30; ++i) {
    pending.push_back(raft.apply(set_command(test_key(i), test_value(i)), milliseconds(5000)));
  }
  int succeeded = 0;
  for (auto& f : pending) {
    std::optional<Result<ApplyResult>> r = get_within(f, milliseconds(3000));
    REQUIRE(r.has_value());  // completes without waiting for its timeout
    if (r->ok()) ++succeeded;
    INFO(r->status().to_string());
    CHECK((r->ok() || r->status().code() == ErrorCode::kShutdown ||
           r->status().code() == ErrorCode::kIoError));
  }
  CHECK(succeeded == 0);  // nothing acknowledged that is not on this node's disk

  REQUIRE(wait_until([&] { return raft.state() == RaftState::kShutdown; }, milliseconds(3000)));
  CHECK(raft.error().code() == ErrorCode::kIoError);
  REQUIRE(wait_until([&] { return events.stopped().has_value(); }, milliseconds(1000)));
  CHECK(events.stopped()->code() == ErrorCode::kIoError);
  for (int i = 10; i < 30; ++i) CHECK_FALSE(cluster.fsm(0).get(test_key(i)).has_value());

  // Refused at once from now on.
  std::future<Result<ApplyResult>> late = raft.apply("late=1", milliseconds(5000));
  std::optional<Result<ApplyResult>> refused = get_within(late, milliseconds(500));
  REQUIRE(refused.has_value());
  CHECK_FALSE(refused->ok());

  // The two others elect a leader and commit.
  Result<ApplyResult> r = cluster.apply(set_command("after", "1"));
  REQUIRE_OK(r.status());
  REQUIRE(cluster.wait_converged(r->index, milliseconds(5000), {1, 2}));
}

TEST_CASE("a follower that cannot persist stops with kIoError and the others keep committing") {
  FaultInjectingFileSystem fs;  // outlives the cluster
  Cluster cluster;
  cluster.use_file_system(0, &fs);
  REQUIRE_OK(cluster.start());
  REQUIRE(settle_leader(cluster, 1, milliseconds(10'000)));
  REQUIRE(
      wait_until([&] { return cluster.raft(0).leader().id == cluster.id(1); }, milliseconds(3000)));

  fail_every_write(fs);
  Index last = 0;
  for (int i = 0; i < 50; ++i) {
    Result<ApplyResult> r = cluster.apply(set_command(test_key(i), test_value(i)));
    REQUIRE_OK(r.status());
    last = r->index;
  }
  REQUIRE(wait_until([&] { return cluster.raft(0).state() == RaftState::kShutdown; },
                     milliseconds(3000)));
  CHECK(cluster.raft(0).error().code() == ErrorCode::kIoError);
  REQUIRE(cluster.wait_converged(last, milliseconds(5000), {1, 2}));
  CHECK(cluster.fsm(0).applied_index() < last);
}

}  // namespace
}  // namespace raft::integration
