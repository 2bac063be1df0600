// Paused nodes (SIGSTOP): a paused node does not tick, step or finish its disk write; the
// messages that reach it wait in arrival order and are handed to it when it resumes, with
// a view as stale as the pause was long.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// How many tick events node i handled (from the trace lines).
int ticks_of(const SimCluster& c, int i) {
  const std::string needle = "tick     " + c.id(i) + " ";
  int n = 0;
  for (const std::string& line : c.trace_lines()) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST_CASE("a paused follower's state does not move, and it gets its messages at resume",
          "[sim][faults][pause]") {
  SimOptions options = sim_options(3, 7101);
  options.keep_trace_lines = true;
  SimCluster c(options);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.one("before", 3, true);
  std::vector<pb::Message> delivered;
  c.set_delivery_observer([&](const pb::Message& m) {
    if (m.to() == c.id(follower)) delivered.push_back(m);
  });

  c.pause(follower);
  REQUIRE(c.paused(follower));
  CHECK(c.alive(follower));
  const Term term = c.raw(follower)->term();
  const Index applied = c.node(follower).applied_index();
  const Index last = c.storage(follower).last_index();
  const int ticks = ticks_of(c, follower);
  // The others carry on; the follower would time out many times over if it could tick.
  for (int k = 0; k < 5; ++k) c.one("while-paused-" + std::to_string(k), 2, true);
  c.run_for(10 * c.election_timeout());

  CHECK(delivered.empty());
  CHECK(ticks_of(c, follower) == ticks);
  CHECK(c.raw(follower)->term() == term);
  CHECK(c.node(follower).applied_index() == applied);
  CHECK(c.storage(follower).last_index() == last);
  CHECK(c.propose(follower, "refused").status().code() == ErrorCode::kTimeout);
  const std::vector<pb::Message> buffered = c.buffered_messages(follower);
  REQUIRE(buffered.size() > 10);

  c.resume(follower);
  CHECK_FALSE(c.paused(follower));
  CHECK(c.buffered_messages(follower).empty());
  // Everything buffered was handed over at resume time, in arrival order.
  REQUIRE(delivered.size() == buffered.size());
  for (std::size_t k = 0; k < buffered.size(); ++k) {
    INFO("message " << k);
    CHECK(delivered[k].SerializeAsString() == buffered[k].SerializeAsString());
  }
  const Index last_index = c.one("after", 3, true);
  CHECK(c.node(follower).applied_index() >= last_index);
}

TEST_CASE("ticks a paused node missed are not caught up at resume", "[sim][faults][pause]") {
  SimOptions options = sim_options(3, 7102);
  options.keep_trace_lines = true;
  SimCluster c(options);
  c.check_one_leader();
  const int node = 1;
  c.pause(node);
  c.run_for(seconds(1));
  const int ticks_before = ticks_of(c, node);
  c.resume(node);
  // One second of a 10 ms clock is 100 ticks; the next 100 ms bring about 10, not 110.
  c.run_for(milliseconds(100));
  const int gained = ticks_of(c, node) - ticks_before;
  CHECK(gained >= 9);
  CHECK(gained <= 11);
}

TEST_CASE("a paused leader resumes believing it leads, then steps down and catches up",
          "[sim][faults][pause]") {
  SimCluster c(sim_options(5, 7103));
  const int old_leader = c.check_one_leader();
  c.one("first", 5, true);
  const Term old_term = c.raw(old_leader)->term();
  c.pause(old_leader);
  // A paused leader is no live leader for the harness; the others elect a new one.
  const int new_leader = c.check_one_leader();
  CHECK(new_leader != old_leader);
  const Index index = c.one("while-paused", 4, true);
  // The stopped process still believes what it believed.
  CHECK(c.raw(old_leader)->role() == Role::kLeader);
  CHECK(c.raw(old_leader)->term() == old_term);
  CHECK(c.raw(new_leader)->term() > old_term);

  c.resume(old_leader);
  c.run_for(c.election_timeout());
  CHECK(c.raw(old_leader)->role() != Role::kLeader);
  CHECK(c.raw(old_leader)->term() >= c.raw(new_leader)->term());
  c.one("after", 5, true);
  CHECK(c.node(old_leader).command_at(index) == std::optional<std::string>("while-paused"));
}

TEST_CASE("a paused node's disk write completes only when it resumes", "[sim][faults][pause]") {
  SimOptions options = sim_options(3, 7104);
  options.disk_delay_min = milliseconds(5);
  options.disk_delay_max = milliseconds(10);
  SimCluster c(options);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.one("first", 3, true);
  REQUIRE(c.propose(leader, "second").ok());
  // Wait until the follower's write of the new entry is in flight, then stop it.
  REQUIRE(c.run_until(
      [&] {
        const Ready* w = c.write_in_flight(follower);
        return w != nullptr && !w->entries.empty();
      },
      seconds(1)));
  const Index durable = c.storage(follower).last_index();
  const Index writing = c.write_in_flight(follower)->entries.back().index();
  REQUIRE(writing > durable);
  c.pause(follower);
  c.run_for(seconds(1));
  CHECK(c.storage(follower).last_index() == durable);
  CHECK(c.write_in_flight(follower) != nullptr);
  c.resume(follower);
  // The write finished long ago; the resumed process sees it complete at once.
  CHECK(c.storage(follower).last_index() >= writing);
  c.one("third", 3, true);
}

TEST_CASE("crashing a paused node drops its buffer and un-pauses it", "[sim][faults][pause]") {
  SimCluster c(sim_options(3, 7105));
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.pause(follower);
  c.one("while-paused", 2, true);
  REQUIRE_FALSE(c.buffered_messages(follower).empty());
  c.crash(follower);
  CHECK_FALSE(c.paused(follower));
  CHECK_FALSE(c.alive(follower));
  CHECK(c.buffered_messages(follower).empty());
  // Pausing or resuming a down node does nothing.
  c.pause(follower);
  CHECK_FALSE(c.paused(follower));
  c.restart(follower);
  CHECK_FALSE(c.paused(follower));
  c.one("after", 3, true);
}

TEST_CASE("the cluster stays safe while nodes pause and resume at random", "[sim][faults][pause]") {
  for (std::uint64_t seed = 7120; seed < 7130; ++seed) {
    INFO("seed " << seed);
    // Slow, tearable disks: a resumed node steps its whole buffer while a write is in flight.
    SimOptions options = sim_options(5, seed);
    options.disk_delay_min = milliseconds(1);
    options.disk_delay_max = milliseconds(5);
    options.torn_writes = true;
    SimCluster c(options);
    c.one("start", 5, true);
    for (int iteration = 0; iteration < 30; ++iteration) {
      const int i = c.random().index(5);
      if (c.paused(i)) {
        c.resume(i);
      } else {
        c.pause(i);
      }
      for (int k = 0; k < 5; ++k) (void)c.propose(k, "cmd" + std::to_string(iteration));
      c.run_for(static_cast<SimTime>(c.random().uniform(0, 3 * c.election_timeout())));
    }
    for (int i = 0; i < 5; ++i) c.resume(i);
    REQUIRE_NOTHROW(c.one("end", 5, true));
  }
}

}  // namespace
}  // namespace raft::sim
