// Joining a server under the wrong id: the leader learns the server's real id from the
// transport's handshake refusal, fails add_voter with kWrongPeer naming both ids, and takes
// the staging entry out of the configuration again.
#include <catch2/catch.hpp>

#include "integration/cluster.h"
#include "raft/configuration.h"

namespace raft::integration {
namespace {

bool in_configuration(Raft& raft, const NodeId& id) {
  const ConfigurationInfo info = raft.configuration();
  return find_server(info.configuration, id) != nullptr;
}

// Starts three founders and opens a fourth node, not yet added; returns {leader, fourth}.
std::pair<int, int> start_with_spare(Cluster& cluster) {
  REQUIRE_OK(cluster.start());
  const int leader = cluster.wait_for_leader();
  REQUIRE(leader >= 0);
  Result<int> added = cluster.add_node();
  REQUIRE_OK(added.status());
  return {leader, added.value()};
}

TEST_CASE("add_voter under the wrong id fails with kWrongPeer naming the real id") {
  Cluster cluster;
  const auto [leader, n4] = start_with_spare(cluster);

  auto change = cluster.raft(leader).add_voter("n_4", cluster.address(n4), milliseconds(10'000));
  std::optional<Result<Index>> result = get_within(change, milliseconds(11'000));
  REQUIRE(result.has_value());
  CHECK(result->status().code() == ErrorCode::kWrongPeer);
  INFO(result->status().to_string());
  CHECK(result->status().message().find("'n4'") != std::string::npos);
  CHECK(result->status().message().find("'n_4'") != std::string::npos);

  // The wrong entry is taken out again, on every node.
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (in_configuration(cluster.raft(i), "n_4")) return false;
        }
        return true;
      },
      milliseconds(5000)));
}

TEST_CASE("add_voter under the right id after a wrong one succeeds") {
  Cluster cluster;
  const auto [leader, n4] = start_with_spare(cluster);

  auto wrong = cluster.raft(leader).add_voter("n_4", cluster.address(n4), milliseconds(10'000));
  REQUIRE(get_within(wrong, milliseconds(11'000)).has_value());
  auto right =
      cluster.raft(leader).add_voter(cluster.id(n4), cluster.address(n4), milliseconds(10'000));
  std::optional<Result<Index>> result = get_within(right, milliseconds(11'000));
  REQUIRE(result.has_value());
  REQUIRE_OK(result->status());
  const ConfigurationInfo info = cluster.raft(leader).configuration();
  const pb::Server* server = find_server(info.configuration, cluster.id(n4));
  REQUIRE(server != nullptr);
  CHECK(server->suffrage() == pb::VOTER);
  CHECK(find_server(info.configuration, "n_4") == nullptr);
}

TEST_CASE("add_voter succeeds at an address that refused it once the right server is there") {
  Cluster cluster;
  const auto [leader, n4] = start_with_spare(cluster);
  const std::string address = cluster.address(n4);

  // n4 answers at that address, not n5: refused.
  auto wrong = cluster.raft(leader).add_voter("n5", address, milliseconds(10'000));
  std::optional<Result<Index>> refused = get_within(wrong, milliseconds(11'000));
  REQUIRE(refused.has_value());
  REQUIRE(refused->status().code() == ErrorCode::kWrongPeer);

  // The operator puts n5 there instead, and asks again with the same id and address.
  cluster.stop(n4);
  Result<int> n5 = cluster.add_node_at(address);
  REQUIRE_OK(n5.status());
  REQUIRE(cluster.id(*n5) == "n5");
  auto right = cluster.raft(leader).add_voter("n5", address, milliseconds(10'000));
  std::optional<Result<Index>> result = get_within(right, milliseconds(11'000));
  REQUIRE(result.has_value());
  REQUIRE_OK(result->status());
  const ConfigurationInfo info = cluster.raft(leader).configuration();
  const pb::Server* server = find_server(info.configuration, "n5");
  REQUIRE(server != nullptr);
  CHECK(server->suffrage() == pb::VOTER);
}

}  // namespace
}  // namespace raft::integration
