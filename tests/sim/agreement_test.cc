// Log agreement scenarios (after the 6.824 Raft tests 2B), on the deterministic simulator.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// Whether every node in `nodes` applied everything up to `index`.
bool all_applied(const SimCluster& c, const std::vector<int>& nodes, Index index) {
  for (int i : nodes) {
    if (c.node(i).applied_index() < index) return false;
  }
  return true;
}

std::vector<int> all_nodes(const SimCluster& c) {
  std::vector<int> v;
  for (int i = 0; i < c.size(); ++i) v.push_back(i);
  return v;
}

TEST_CASE("basic agreement: commands commit on every node at consecutive indexes",
          "[sim][agreement]") {
  SimCluster c(sim_options(3, 2001));
  c.check_one_leader();
  Index previous = 0;
  for (int k = 1; k <= 3; ++k) {
    if (previous != 0) CHECK(c.n_committed(previous + 1).count == 0);
    const Index index = c.one(fmt::format("cmd-{}", k), 3, false);
    if (previous != 0) CHECK(index == previous + 1);
    previous = index;
  }
}

TEST_CASE("a proposal to a follower is refused with kNotLeader naming the leader",
          "[sim][agreement]") {
  SimCluster c(sim_options(3, 2002));
  const int leader = c.check_one_leader();
  c.one("x", 3, false);
  const int follower = (leader + 1) % 3;
  Result<Index> r = c.propose(follower, "y");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kNotLeader);
  CHECK(r.status().leader_hint() == c.id(leader));
}

TEST_CASE("agreement continues while a follower is disconnected", "[sim][agreement]") {
  SimCluster c(sim_options(3, 2003));
  c.one("101", 3, false);
  const int leader = c.check_one_leader();
  c.disconnect((leader + 1) % 3);
  c.one("102", 2, false);
  c.one("103", 2, false);
  c.run_for(2 * c.election_timeout());
  c.one("104", 2, false);
  c.one("105", 2, false);
}

TEST_CASE("a reconnected follower catches up", "[sim][agreement]") {
  SimCluster c(sim_options(3, 2004));
  c.one("101", 3, false);
  const int leader = c.check_one_leader();
  const int follower = (leader + 1) % 3;
  c.disconnect(follower);
  c.one("102", 2, false);
  c.one("103", 2, false);
  c.run_for(2 * c.election_timeout());
  c.one("104", 2, false);
  const Index missed = c.one("105", 2, false);
  CHECK(c.node(follower).applied_index() < missed);
  c.connect(follower);
  c.one("106", 3, true);
  const Index last = c.one("107", 3, true);
  REQUIRE(c.run_until([&] { return all_applied(c, all_nodes(c), last); }, seconds(1)));
  CHECK(c.node(follower).command_at(missed) == std::optional<std::string>("105"));
}

TEST_CASE("a proposal in a minority is not committed", "[sim][agreement]") {
  SimCluster c(sim_options(5, 2005));
  const Index base = c.one("10", 5, false);
  const int leader = c.check_one_leader();
  for (int k = 1; k <= 3; ++k) c.disconnect((leader + k) % 5);
  Result<Index> r = c.propose(leader, "20");
  REQUIRE(r.ok());
  CHECK(r.value() == base + 1);
  c.run_for(4 * c.election_timeout());
  CHECK(c.n_committed(r.value()).count == 0);
}

TEST_CASE("the cluster proceeds after a minority partition heals", "[sim][agreement]") {
  SimCluster c(sim_options(5, 2006));
  const Index base = c.one("10", 5, false);
  const int leader = c.check_one_leader();
  for (int k = 1; k <= 3; ++k) c.disconnect((leader + k) % 5);
  REQUIRE(c.propose(leader, "20").ok());
  c.run_for(4 * c.election_timeout());
  for (int k = 1; k <= 3; ++k) c.connect((leader + k) % 5);
  const int leader2 = c.check_one_leader();
  Result<Index> r = c.propose(leader2, "30");
  REQUIRE(r.ok());
  // A new leader appends a no-op first; if it is the old leader, "20" is still before it.
  CHECK(r.value() >= base + 2);
  CHECK(r.value() <= base + 3);
  c.one("1000", 5, true);
}

TEST_CASE("concurrent proposals in one batch are each committed exactly once", "[sim][agreement]") {
  SimCluster c(sim_options(3, 2007));
  c.one("warmup", 3, false);
  const int leader = c.check_one_leader();
  std::vector<std::string> commands;
  for (int k = 0; k < 20; ++k) commands.push_back(fmt::format("c{}", k));
  c.reset_stats();
  const std::vector<Result<Index>> results = c.propose_batch(leader, commands);
  // Proposals made between two ready() calls leave in one AppendEntries per follower.
  CHECK(c.stats().appends_with_entries == 2);
  CHECK(c.stats().entries_sent == 2 * commands.size());
  REQUIRE(results.size() == commands.size());
  for (std::size_t k = 0; k < results.size(); ++k) {
    REQUIRE(results[k].ok());
    CHECK(results[k].value() == results[0].value() + k);
  }
  const Index last = results.back().value();
  REQUIRE(c.run_until([&] { return all_applied(c, all_nodes(c), last); }, seconds(1)));
  for (std::size_t k = 0; k < results.size(); ++k) {
    const Committed committed = c.n_committed(results[k].value());
    CHECK(committed.count == 3);
    CHECK(committed.command == commands[k]);
  }
  for (int i = 0; i < c.size(); ++i) {
    std::map<std::string, int> seen;
    for (const pb::Entry& e : c.node(i).applied_log()) {
      if (e.type() == pb::ENTRY_NORMAL) ++seen[e.data()];
    }
    for (const std::string& cmd : commands) CHECK(seen[cmd] == 1);
  }
}

TEST_CASE("a partitioned old leader's uncommitted entries are discarded when it rejoins",
          "[sim][agreement]") {
  SimCluster c(sim_options(3, 2008));
  c.one("101", 3, true);
  const int leader1 = c.check_one_leader();
  c.disconnect(leader1);
  // The cut-off leader accepts proposals it can never commit.
  for (const char* cmd : {"lost-102", "lost-103", "lost-104"})
    REQUIRE(c.propose(leader1, cmd).ok());
  c.one("103", 2, true);
  const int leader2 = c.check_one_leader();
  c.disconnect(leader2);
  c.connect(leader1);
  c.one("104", 2, true);
  c.connect(leader2);
  const Index last = c.one("105", 3, true);
  REQUIRE(c.run_until([&] { return all_applied(c, all_nodes(c), last); }, seconds(1)));
  for (int i = 0; i < c.size(); ++i) {
    for (const pb::Entry& e : c.node(i).applied_log()) {
      CHECK(e.data().rfind("lost-", 0) == std::string::npos);
    }
  }
  // The old leader's log now matches the others up to the last command.
  CHECK(c.node(leader1).command_at(last) == std::optional<std::string>("105"));
}

}  // namespace
}  // namespace raft::sim
