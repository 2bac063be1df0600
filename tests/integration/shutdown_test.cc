// Integration: shutdown() of a busy leader completes every pending future and callback,
// promptly, and the node refuses work afterwards.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "integration/cluster.h"

namespace raft::integration {
namespace {

using std::chrono::steady_clock;

TEST_CASE("shutdown() with many applies in flight completes every future and returns quickly") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  Raft& raft = cluster.raft(leader);

  // Long apply timeouts: only shutdown() can end what is still pending. Two waves: the
  // first is under way (partly applied) when the second is issued, and shutdown() comes
  // right after the second, so some applies complete with their result and others with
  // kShutdown.
  constexpr int kWave = 1500;
  constexpr int kCount = 2 * kWave;
  constexpr int kCallbackEvery = 10;
  std::vector<std::future<Result<ApplyResult>>> futures;
  std::vector<int> future_keys;
  std::atomic<int> callbacks{0};
  std::atomic<int> callbacks_failed_oddly{0};
  auto issue = [&](int first, int count) {
    for (int i = first; i < first + count; ++i) {
      const std::string command = set_command(test_key(i), test_value(i));
      if (i % kCallbackEvery == 0) {
        raft.apply(command, milliseconds(30'000), [&](Result<ApplyResult> r) {
          if (!r.ok() && r.status().code() != ErrorCode::kShutdown) ++callbacks_failed_oddly;
          ++callbacks;
        });
      } else {
        futures.push_back(raft.apply(command, milliseconds(30'000)));
        future_keys.push_back(i);
      }
    }
  };
  issue(0, kWave);
  REQUIRE(wait_until([&] { return cluster.fsm(leader).commands_applied() >= 200; },
                     milliseconds(5000)));
  issue(kWave, kWave);
  const auto begin = steady_clock::now();
  raft.shutdown();
  const auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - begin);
  WARN("shutdown() with " << kCount << " applies in flight took " << took.count() << " ms");
  CHECK(took < milliseconds(2000));
  CHECK(raft.state() == RaftState::kShutdown);
  CHECK(raft.error().ok());

  int applied = 0;
  int shut_down = 0;
  int other = 0;
  const auto deadline = steady_clock::now() + milliseconds(3000);
  for (std::size_t k = 0; k < futures.size(); ++k) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    std::optional<Result<ApplyResult>> r = get_within(futures[k], std::max(left, milliseconds(0)));
    INFO("apply " << future_keys[k]);
    REQUIRE(r.has_value());  // no future hangs
    if (r->ok()) {
      ++applied;
      // Completed ok means this node applied it.
      CHECK(cluster.fsm(leader).get(test_key(future_keys[k])) == test_value(future_keys[k]));
    } else if (r->status().code() == ErrorCode::kShutdown) {
      ++shut_down;
    } else {
      if (other++ == 0) UNSCOPED_INFO("unexpected: " << r->status().to_string());
    }
  }
  WARN(applied << " applied, " << shut_down << " ended with kShutdown");
  CHECK(applied >= 180);  // those applied before shutdown() completed with their result
  CHECK(other == 0);
  REQUIRE(
      wait_until([&] { return callbacks.load() == kCount / kCallbackEvery; }, milliseconds(1000)));
  CHECK(callbacks_failed_oddly.load() == 0);

  // Afterwards: refused at once, and shutdown() again is a no-op.
  std::future<Result<ApplyResult>> late = raft.apply("late=1", milliseconds(5000));
  std::optional<Result<ApplyResult>> refused = get_within(late, milliseconds(500));
  REQUIRE(refused.has_value());
  CHECK(refused->status().code() == ErrorCode::kShutdown);
  std::future<Result<Index>> read = raft.read_index(milliseconds(5000));
  std::optional<Result<Index>> read_refused = get_within(read, milliseconds(500));
  REQUIRE(read_refused.has_value());
  CHECK(read_refused->status().code() == ErrorCode::kShutdown);
  raft.shutdown();
}

TEST_CASE("shutdown() from an apply callback stops the node and returns") {
  ClusterOptions options;
  options.founders = 1;
  Cluster cluster(options);
  REQUIRE_OK(cluster.start());
  REQUIRE(cluster.wait_for_leader() >= 0);
  Raft& raft = cluster.raft(0);
  std::promise<void> returned;
  raft.apply(set_command("a", "1"), milliseconds(5000), [&](Result<ApplyResult> r) {
    CHECK(r.ok());
    raft.shutdown();  // on the apply thread: it cannot join itself
    returned.set_value();
  });
  auto done = returned.get_future();
  REQUIRE(done.wait_for(milliseconds(5000)) == std::future_status::ready);
  // The node refuses work from then on, and the threads are joined by a shutdown() here.
  std::future<Result<ApplyResult>> late = raft.apply("late=1", milliseconds(5000));
  std::optional<Result<ApplyResult>> refused = get_within(late, milliseconds(2000));
  REQUIRE(refused.has_value());
  CHECK(refused->status().code() == ErrorCode::kShutdown);
  raft.shutdown();
  CHECK(raft.state() == RaftState::kShutdown);
}

TEST_CASE("shutdown() from the observer fails pending requests and returns") {
  ClusterOptions options;
  options.founders = 1;
  Cluster cluster(options);
  REQUIRE_OK(cluster.start());
  REQUIRE(cluster.wait_for_leader() >= 0);
  Raft& raft = cluster.raft(0);
  std::promise<void> returned;
  std::atomic<bool> once{false};
  raft.set_observer([&](const RaftEvent& event) {
    if (event.kind != RaftEvent::Kind::kConfigurationChanged || once.exchange(true)) return;
    raft.shutdown();  // on the core thread
    returned.set_value();
  });
  // A change that waits on the core: the observer stops the node first.
  std::future<Result<Index>> change = raft.add_nonvoter("n9", "127.0.0.1:1", milliseconds(30'000));
  auto done = returned.get_future();
  REQUIRE(done.wait_for(milliseconds(5000)) == std::future_status::ready);
  std::optional<Result<Index>> ended = get_within(change, milliseconds(5000));
  REQUIRE(ended.has_value());  // completed (committed before the stop, or kShutdown)
  if (!ended->ok()) CHECK(ended->status().code() == ErrorCode::kShutdown);
  std::future<Result<Index>> read = raft.read_index(milliseconds(5000));
  std::optional<Result<Index>> read_refused = get_within(read, milliseconds(2000));
  REQUIRE(read_refused.has_value());
  CHECK(read_refused->status().code() == ErrorCode::kShutdown);
  raft.shutdown();
  CHECK(raft.state() == RaftState::kShutdown);
}

}  // namespace
}  // namespace raft::integration
