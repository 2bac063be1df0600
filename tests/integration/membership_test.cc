// Integration: membership changes (a new voter catching up by snapshot, removing a server)
// and leadership transfer, over loopback TCP.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <vector>

#include "integration/checks.h"
#include "integration/cluster.h"

namespace raft::integration {
namespace {

const pb::Server* find(const pb::Configuration& configuration, const NodeId& id) {
  for (const pb::Server& server : configuration.servers()) {
    if (server.id() == id) return &server;
  }
  return nullptr;
}

std::uint64_t stat(Raft& raft, const std::string& key) {
  const auto stats = raft.stats();
  auto it = stats.find(key);
  if (it == stats.end() || it->second.empty()) return 0;
  return std::stoull(it->second);
}

TEST_CASE("a fourth node added with add_voter catches up by snapshot") {
  ClusterOptions options;
  options.snapshot_threshold = 100;
  options.trailing_logs = 10;
  Cluster cluster(options);
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const Index written = write_pipelined(cluster, leader, 0, 500);
  // The leader has compacted its log behind a snapshot: the new node cannot start from entry 1.
  REQUIRE(wait_until([&] { return stat(cluster.raft(leader), "last_snapshot_index") >= 300; },
                     milliseconds(5000)));

  Result<int> added = cluster.add_node();
  REQUIRE_OK(added.status());
  const int n4 = added.value();
  CHECK(cluster.raft(n4).configuration().configuration.servers_size() == 0);

  std::future<Result<Index>> change =
      cluster.raft(leader).add_voter(cluster.id(n4), cluster.address(n4), milliseconds(10'000));
  std::optional<Result<Index>> index = get_within(change, milliseconds(11'000));
  REQUIRE(index.has_value());
  REQUIRE_OK(index->status());
  CHECK(index->value() > written);

  REQUIRE(cluster.wait_converged(index->value()));
  CHECK(cluster.fsm(n4).restores() >= 1);
  CHECK(cluster.fsm(n4).size() == 500);
  // Promoted from STAGING to voter once caught up, in every node's configuration.
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < cluster.size(); ++i) {
          const ConfigurationInfo info = cluster.raft(i).configuration();
          const pb::Server* s = find(info.configuration, cluster.id(n4));
          if (s == nullptr || s->suffrage() != pb::VOTER) return false;
        }
        return true;
      },
      milliseconds(5000)));

  // It keeps up from the log afterwards.
  const Index last = write_pipelined(cluster, leader, 500, 50);
  REQUIRE(cluster.wait_converged(last));
  CHECK(cluster.fsm(n4).size() == 550);
  CHECK(cluster.violations().empty());
}

TEST_CASE("remove_server removes a node and the cluster keeps committing") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  const int removed = (leader + 1) % cluster.size();
  const int stays = (leader + 2) % cluster.size();
  write_pipelined(cluster, leader, 0, 50);

  std::future<Result<Index>> change =
      cluster.raft(leader).remove_server(cluster.id(removed), milliseconds(5000));
  std::optional<Result<Index>> index = get_within(change, milliseconds(6000));
  REQUIRE(index.has_value());
  REQUIRE_OK(index->status());
  // Applied on the leader when the future completes.
  CHECK(find(cluster.raft(leader).configuration().configuration, cluster.id(removed)) == nullptr);
  CHECK(cluster.raft(leader).configuration().index >= index->value());
  REQUIRE(wait_until(
      [&] {
        return find(cluster.raft(stays).configuration().configuration, cluster.id(removed)) ==
               nullptr;
      },
      milliseconds(3000)));
  CHECK(cluster.raft(stays).configuration().configuration.servers_size() == 2);

  // The removed node stays up: the two others keep committing without it.
  const Index last = write_pipelined(cluster, leader, 50, 100);
  REQUIRE(cluster.wait_converged(last, milliseconds(5000), {leader, stays}));
  CHECK(cluster.fsm(stays).size() == 150);
  CHECK(cluster.raft(leader).state() == RaftState::kLeader);
  CHECK(cluster.fsm(removed).applied_index() < last);
}

TEST_CASE("a leader that removes itself hands over and the others keep committing") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  write_pipelined(cluster, leader, 0, 20);

  std::future<Result<Index>> change =
      cluster.raft(leader).remove_server(cluster.id(leader), milliseconds(5000));
  std::optional<Result<Index>> index = get_within(change, milliseconds(6000));
  REQUIRE(index.has_value());  // the removal completes, one way or the other
  INFO(index->status().to_string());

  std::vector<int> others;
  for (int i = 0; i < cluster.size(); ++i) {
    if (i != leader) others.push_back(i);
  }
  // The two others agree on a configuration without it, and one of them leads it.
  REQUIRE(wait_until(
      [&] {
        for (int i : others) {
          const ConfigurationInfo info = cluster.raft(i).configuration();
          if (find(info.configuration, cluster.id(leader)) != nullptr) return false;
          if (info.configuration.servers_size() != 2) return false;
        }
        const NodeId new_leader = cluster.raft(others[0]).leader().id;
        return !new_leader.empty() && new_leader != cluster.id(leader) &&
               cluster.raft(others[1]).leader().id == new_leader;
      },
      milliseconds(5000)));
  const int next = cluster.index_of(cluster.raft(others[0]).leader().id);
  REQUIRE(next >= 0);
  const Index last = write_pipelined(cluster, next, 20, 50);
  REQUIRE(cluster.wait_converged(last, milliseconds(5000), others));
  CHECK(cluster.fsm(others[0]).size() == 70);
  CHECK(cluster.raft(leader).state() != RaftState::kLeader);
}

TEST_CASE("a membership change that changes nothing completes at once with the index in force") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  Raft& raft = cluster.raft(leader);
  auto add = raft.add_nonvoter("n9", "127.0.0.1:1", milliseconds(5000));
  std::optional<Result<Index>> added = get_within(add, milliseconds(6000));
  REQUIRE(added.has_value());
  REQUIRE_OK(added->status());
  // Again as it is, and a demotion of a server that has no vote: both were answered kTimeout
  // at their deadline (no entry is appended for them, so none was ever applied).
  const auto started = std::chrono::steady_clock::now();
  auto add_again = raft.add_nonvoter("n9", "127.0.0.1:1", milliseconds(3000));
  std::optional<Result<Index>> again = get_within(add_again, milliseconds(2000));
  auto demote = raft.demote_voter("n9", milliseconds(3000));
  std::optional<Result<Index>> demoted = get_within(demote, milliseconds(2000));
  REQUIRE(again.has_value());
  REQUIRE(demoted.has_value());
  CHECK(std::chrono::steady_clock::now() - started < milliseconds(2000));
  REQUIRE_OK(again->status());
  REQUIRE_OK(demoted->status());
  CHECK(again->value() == added->value());
  CHECK(demoted->value() == added->value());
  CHECK(raft.configuration().index == added->value());
}

TEST_CASE("leadership_transfer to a named follower makes it leader") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int old_leader = cluster.wait_for_leader();
  REQUIRE(old_leader >= 0);
  write_pipelined(cluster, old_leader, 0, 20);
  const int target = (old_leader + 2) % cluster.size();

  std::future<Status> transfer =
      cluster.raft(old_leader).leadership_transfer(cluster.id(target), milliseconds(5000));
  std::optional<Status> done = get_within(transfer, milliseconds(6000));
  REQUIRE(done.has_value());
  REQUIRE_OK(*done);

  REQUIRE(cluster.wait_for_leader() == target);
  REQUIRE(wait_until([&] { return cluster.raft(old_leader).leader().id == cluster.id(target); },
                     milliseconds(3000)));
  const Index last = write_pipelined(cluster, target, 20, 20);
  REQUIRE(cluster.wait_converged(last));
}

TEST_CASE("leadership_transfer() with no target hands leadership to another node") {
  Cluster cluster;
  REQUIRE_OK(cluster.start());
  const int old_leader = cluster.wait_for_leader();
  REQUIRE(old_leader >= 0);
  write_pipelined(cluster, old_leader, 0, 20);

  std::future<Status> transfer = cluster.raft(old_leader).leadership_transfer();
  std::optional<Status> done = get_within(transfer, milliseconds(6000));
  REQUIRE(done.has_value());
  REQUIRE_OK(*done);

  const int new_leader = cluster.wait_for_leader();
  REQUIRE(new_leader >= 0);
  CHECK(new_leader != old_leader);
  const Index last = write_pipelined(cluster, new_leader, 20, 20);
  REQUIRE(cluster.wait_converged(last));
}

}  // namespace
}  // namespace raft::integration
