// Membership scenarios: single-server changes (AddVoter with catch-up and promotion,
// RemoveServer, the leader removing itself), the refusals that keep them safe, and servers
// outside the configuration. Nodes beyond num_nodes (extra_nodes) start with no
// configuration and wait to be added.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

ConfChange add_voter(const SimCluster& c, int i) {
  ConfChange change;
  change.type = ConfChangeType::kAddVoter;
  change.id = c.id(i);
  change.address = c.id(i);
  return change;
}

ConfChange remove_server(const SimCluster& c, int i) {
  ConfChange change;
  change.type = ConfChangeType::kRemoveServer;
  change.id = c.id(i);
  return change;
}

// The suffrage of node `who` in node i's newest configuration; nullopt when absent.
std::optional<pb::Suffrage> suffrage(const SimCluster& c, int i, int who) {
  const pb::Configuration conf = c.configuration(i);
  const pb::Server* s = find_server(conf, c.id(who));
  if (s == nullptr) return std::nullopt;
  return s->suffrage();
}

std::set<NodeId> voters(const pb::Configuration& conf) {
  std::set<NodeId> out;
  for (const auto& s : conf.servers()) {
    if (s.suffrage() == pb::VOTER) out.insert(s.id());
  }
  return out;
}

// Clients that keep writing: every 5 ms a new unique command is proposed on the current
// leader (if any). Runs the cluster until `done` or `timeout`.
class Writer {
 public:
  explicit Writer(SimCluster& c) : c_(c) {}

  bool run_until(const std::function<bool()>& done, SimTime timeout) {
    const SimTime deadline = c_.now() + timeout;
    while (c_.now() < deadline) {
      if (done()) return true;
      if (auto leader = c_.leader()) (void)c_.propose(*leader, fmt::format("w{}", next_++));
      c_.run_until(done, milliseconds(5));
    }
    return done();
  }

 private:
  SimCluster& c_;
  int next_ = 0;
};

TEST_CASE("every member of a cluster is replaced one by one while clients write",
          "[sim][membership]") {
  for (std::uint64_t seed = 9001; seed <= 9003; ++seed) {
    SimOptions o = sim_options(3, seed);
    o.extra_nodes = 3;
    SimCluster c(o);
    Writer writer(c);
    c.check_one_leader();
    REQUIRE(writer.run_until([&] { return c.invariants().max_committed() >= 5; }, seconds(5)));
    for (int k = 0; k < 3; ++k) {
      const int joiner = 3 + k;
      const int leaver = k;
      INFO("seed " << seed << ": adding " << c.id(joiner) << ", removing " << c.id(leaver));
      REQUIRE(c.change_membership(add_voter(c, joiner), seconds(5)).ok());
      // The leader promotes the new server to voter by itself once it caught up.
      REQUIRE(writer.run_until(
          [&] {
            auto leader = c.leader();
            return leader && suffrage(c, *leader, joiner) == pb::VOTER &&
                   c.invariants().max_committed() <= c.node(joiner).applied_index() + 5;
          },
          seconds(5)));
      REQUIRE(c.change_membership(remove_server(c, leaver), seconds(5)).ok());
      // The removed server is shut down for good.
      REQUIRE(writer.run_until([&] { return c.leader().has_value(); }, seconds(5)));
      c.crash(leaver);
      REQUIRE(writer.run_until([&] { return c.leader().has_value(); }, seconds(5)));
    }
    const int leader = c.check_one_leader();
    CHECK(leader >= 3);
    CHECK(voters(c.configuration(leader)) == std::set<NodeId>{"n4", "n5", "n6"});
    CHECK(c.configuration(leader).servers_size() == 3);
    const Index last = c.one("final", 3, true);
    // Every write that was applied anywhere is in the new members' state machines, once.
    std::set<std::string> applied_anywhere;
    for (int i = 0; i < c.size(); ++i) {
      for (const pb::Entry& e : c.node(i).applied_log()) {
        if (e.type() == pb::ENTRY_NORMAL) applied_anywhere.insert(e.data());
      }
    }
    CHECK(applied_anywhere.size() > 20);
    for (int i = 3; i < 6; ++i) {
      std::map<std::string, int> seen;
      for (const pb::Entry& e : c.node(i).applied_log()) {
        if (e.type() == pb::ENTRY_NORMAL) ++seen[e.data()];
      }
      CHECK(c.node(i).applied_index() >= last);
      for (const std::string& w : applied_anywhere) {
        INFO(c.id(i) << " write " << w);
        CHECK(seen[w] == 1);
      }
    }
  }
}

TEST_CASE(
    "a server added to a cluster that compacted its log catches up by snapshot and "
    "becomes a voter",
    "[sim][membership]") {
  for (std::uint64_t seed = 9011; seed <= 9013; ++seed) {
    SimOptions o = sim_options(3, seed);
    o.extra_nodes = 1;
    o.snapshot_threshold = 10;
    o.snapshot_trailing = 2;
    SimCluster c(o);
    for (int k = 0; k < 40; ++k) c.one(fmt::format("c{}", k), 3, true);
    const int leader = c.check_one_leader();
    REQUIRE(c.storage(leader).first_index() > 20);
    std::vector<Index> restored;
    c.set_restore_observer([&](int node, Index index) {
      if (node == 3) restored.push_back(index);
    });
    CHECK(!c.raw(3)->status().in_configuration);
    REQUIRE(c.change_membership(add_voter(c, 3), seconds(5)).ok());
    REQUIRE(c.run_until(
        [&] {
          auto l = c.leader();
          return l && suffrage(c, *l, 3) == pb::VOTER;
        },
        seconds(5)));
    REQUIRE(restored.size() == 1);
    CHECK(restored[0] > 20);
    CHECK(c.raw(3)->status().in_configuration);
    const Index last = c.one("after", 4, true);
    for (Index k = 1; k <= last; ++k) CHECK(c.n_committed(k).count == 4);
    // A voter now: with one original server removed and another down, the cluster of three
    // voters commits only with n4's vote.
    REQUIRE(c.change_membership(remove_server(c, (leader + 1) % 3), seconds(5)).ok());
    c.crash((leader + 2) % 3);
    c.one("with n4", 2, true);
  }
}

TEST_CASE("a leader that removes itself steps down and a new leader takes over at once",
          "[sim][membership]") {
  for (std::uint64_t seed = 9021; seed <= 9025; ++seed) {
    SimCluster c(sim_options(3, seed));
    c.one("x", 3, true);
    const int old_leader = c.check_one_leader();
    const Term old_term = c.raw(old_leader)->term();
    // The moment the old leader applies its own removal (the change committed).
    std::optional<SimTime> committed_at;
    c.set_apply_observer([&](int node, const pb::Entry& e) {
      if (node == old_leader && e.type() == pb::ENTRY_CONF_CHANGE && !committed_at) {
        committed_at = c.now();
      }
    });
    REQUIRE(c.change_membership(remove_server(c, old_leader), seconds(5)).ok());
    REQUIRE(committed_at.has_value());
    REQUIRE(c.run_until(
        [&] {
          auto l = c.leader();
          return l && *l != old_leader;
        },
        seconds(5)));
    const SimTime takeover = c.now() - *committed_at;
    INFO("seed " << seed << ": new leader " << takeover / kMillisecond << " ms after the commit");
    // TimeoutNow: no follower has to wait for its election timeout (>= 100 ms here).
    CHECK(takeover < c.election_timeout() / 2);
    CHECK(c.raw(old_leader)->role() != Role::kLeader);
    CHECK(c.raw(*c.leader())->term() == old_term + 1);
    CHECK(!c.raw(old_leader)->status().in_configuration);
    c.one("y", 2, true);
  }
}

TEST_CASE("a removed server that keeps running cannot disrupt the cluster", "[sim][membership]") {
  for (std::uint64_t seed = 9031; seed <= 9033; ++seed) {
    SimOptions o = sim_options(3, seed);
    // PreVote alone protects the cluster (CheckQuorum off, so no follower lease): the
    // removed server never received the entry that removed it, so its log is behind and
    // every pre-vote it asks for is refused; it never moves anybody's term.
    o.check_quorum = false;
    SimCluster c(o);
    c.one("x", 3, true);
    const int leader = c.check_one_leader();
    const int removed = (leader + 1) % 3;
    REQUIRE(c.change_membership(remove_server(c, removed), seconds(5)).ok());
    c.one("y", 2, true);
    const Term term = c.raw(leader)->term();
    // The leader stops replicating to it, so it times out and campaigns, again and again.
    std::size_t pre_votes = 0;
    c.set_delivery_observer([&](const pb::Message& m) {
      if (m.type() == pb::MSG_PRE_VOTE && m.from() == c.id(removed)) ++pre_votes;
    });
    c.run_for(20 * c.election_timeout());
    CHECK(pre_votes > 3);
    const int other = 3 - leader - removed;
    CHECK(c.raw(leader)->term() == term);
    CHECK(c.raw(other)->term() == term);
    CHECK(c.leader() == leader);
    c.one("z", 2, true);
  }
}

TEST_CASE("a second membership change is refused while the first is uncommitted",
          "[sim][membership]") {
  SimOptions o = sim_options(3, 9041);
  o.extra_nodes = 2;
  SimCluster c(o);
  c.one("x", 3, true);
  const int leader = c.check_one_leader();
  const Result<Index> first = c.propose_conf_change(leader, add_voter(c, 3));
  REQUIRE(first.ok());
  const Result<Index> second = c.propose_conf_change(leader, add_voter(c, 4));
  CHECK(second.status().code() == ErrorCode::kConfChangeInProgress);
  // Once the first commits, the next one is accepted.
  REQUIRE(c.run_until([&] { return c.node(leader).applied_index() >= first.value(); }, seconds(2)));
  CHECK(c.propose_conf_change(leader, add_voter(c, 4)).ok());
}

TEST_CASE("a membership change based on a stale configuration is refused", "[sim][membership]") {
  SimOptions o = sim_options(3, 9042);
  o.extra_nodes = 2;
  SimCluster c(o);
  c.one("x", 3, true);
  ConfChange change = add_voter(c, 3);
  const Result<Index> first = c.change_membership(change, seconds(5));
  REQUIRE(first.ok());
  // Wait for the promotion, which is a configuration change of its own.
  REQUIRE(
      c.run_until([&] { return suffrage(c, c.check_one_leader(), 3) == pb::VOTER; }, seconds(5)));
  const int leader = c.check_one_leader();
  const Index current = c.raw(leader)->status().configuration_index;
  REQUIRE(current > first.value());
  REQUIRE(c.run_until([&] { return c.node(leader).applied_index() >= current; }, seconds(2)));
  ConfChange stale = add_voter(c, 4);
  stale.prev_index = first.value();
  CHECK(c.propose_conf_change(leader, stale).status().code() == ErrorCode::kStaleConfiguration);
  ConfChange fresh = add_voter(c, 4);
  fresh.prev_index = current;
  CHECK(c.propose_conf_change(leader, fresh).ok());
}

TEST_CASE("removing the last voter is refused", "[sim][membership]") {
  SimCluster c(sim_options(1, 9043));
  c.one("x", 1, true);
  CHECK(c.propose_conf_change(0, remove_server(c, 0)).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(c.raw(0)->role() == Role::kLeader);
  c.one("y", 1, true);
}

TEST_CASE("a membership change naming an unknown server is refused", "[sim][membership]") {
  SimCluster c(sim_options(3, 9044));
  c.one("x", 3, true);
  const int leader = c.check_one_leader();
  ConfChange change;
  change.type = ConfChangeType::kRemoveServer;
  change.id = "n9";
  CHECK(c.propose_conf_change(leader, change).status().code() == ErrorCode::kNotFound);
  change.type = ConfChangeType::kDemoteVoter;
  CHECK(c.propose_conf_change(leader, change).status().code() == ErrorCode::kNotFound);
  CHECK(c.propose_conf_change((leader + 1) % 3, remove_server(c, leader)).status().code() ==
        ErrorCode::kNotLeader);
  CHECK(c.configuration(leader).servers_size() == 3);
}

TEST_CASE("a server outside the configuration never campaigns", "[sim][membership]") {
  SimOptions o = sim_options(3, 9045);
  o.extra_nodes = 1;
  SimCluster c(o);
  c.one("x", 3, true);
  c.run_for(20 * c.election_timeout());
  CHECK(c.raw(3)->term() == 0);
  CHECK(c.raw(3)->role() == Role::kFollower);
  CHECK(!c.raw(3)->status().in_configuration);
  CHECK(c.node(3).applied_index() == 0);
}

}  // namespace
}  // namespace raft::sim
