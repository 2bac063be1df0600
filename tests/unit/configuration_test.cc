// Configurations as pure values (configuration.h): validation, lookups, single-server
// changes, the bootstrap entry, and MemoryStorage::bootstrap.
#include "raft/configuration.h"

#include "test_util.h"

namespace raft::test {
namespace {

pb::Server* add_server(pb::Configuration& configuration, const NodeId& id, pb::Suffrage suffrage) {
  pb::Server* server = configuration.add_servers();
  server->set_id(id);
  server->set_address(id + ":7000");
  server->set_suffrage(suffrage);
  return server;
}

ConfChange change(ConfChangeType type, const NodeId& id, std::string address = {},
                  std::string metadata = {}) {
  ConfChange c;
  c.type = type;
  c.id = id;
  c.address = std::move(address);
  c.metadata = std::move(metadata);
  return c;
}

pb::Suffrage suffrage_of(const pb::Configuration& configuration, const NodeId& id) {
  const pb::Server* server = find_server(configuration, id);
  REQUIRE(server != nullptr);
  return server->suffrage();
}

TEST_CASE("a configuration with voters and unique ids is valid", "[configuration]") {
  pb::Configuration c = make_configuration(kThreeIds);
  add_server(c, "n4", pb::NONVOTER);
  add_server(c, "n5", pb::STAGING);
  CHECK(validate_configuration(c).ok());
}

TEST_CASE("a configuration without a voter is invalid", "[configuration]") {
  CHECK(validate_configuration(pb::Configuration()).code() == ErrorCode::kInvalidArgument);
  pb::Configuration c;
  add_server(c, "n1", pb::NONVOTER);
  add_server(c, "n2", pb::STAGING);
  CHECK(validate_configuration(c).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a configuration with a duplicate id is invalid", "[configuration]") {
  pb::Configuration c = make_configuration(kThreeIds);
  add_server(c, "n2", pb::NONVOTER);
  CHECK(validate_configuration(c).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a configuration with an empty id is invalid", "[configuration]") {
  pb::Configuration c = make_configuration(kThreeIds);
  add_server(c, "", pb::VOTER);
  CHECK(validate_configuration(c).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("server ids that are UTF-8 text without control characters are valid",
          "[configuration]") {
  CHECK(validate_server_id("n1").ok());
  CHECK(validate_server_id("node-1.east_2").ok());
  CHECK(validate_server_id("n\xc5\x93ud-\xe6\x97\xa5").ok());  // "nœud-日"
  CHECK(validate_server_id(std::string(kMaxServerIdBytes, 'a')).ok());
  CHECK(validate_server_address("10.0.0.1:7000").ok());
}

TEST_CASE(
    "a server id that is empty, too long, not UTF-8 or holds a control character is "
    "refused, quoted printably",
    "[configuration]") {
  CHECK(validate_server_id("").code() == ErrorCode::kInvalidArgument);
  CHECK(validate_server_id(std::string(kMaxServerIdBytes + 1, 'a')).code() ==
        ErrorCode::kInvalidArgument);
  CHECK(validate_server_address(std::string(kMaxServerAddressBytes + 1, 'a')).code() ==
        ErrorCode::kInvalidArgument);
  for (const char* bad : {"n\xff", "n\xc0\xaf" /* overlong '/' */, "n\xed\xa0\x80" /* surrogate */,
                          "n\xf4\x90\x80\x80" /* past U+10FFFF */, "n\xe6\x97" /* cut */, "n\n1",
                          "n\x7f", "n\xc2\x85" /* C1 NEL */}) {
    INFO("id " << bad);
    const Status s = validate_server_id(bad, "options.id");
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message().find("options.id") != std::string::npos);
    for (char c : s.message()) CHECK((c >= 0x20 && c < 0x7f));  // no raw bytes: all quoted
  }
  CHECK(validate_server_id("n\xff\n").message().find("'n\\xff\\x0a'") != std::string::npos);
}

TEST_CASE("a cluster id may be empty but otherwise follows the id rule", "[configuration]") {
  CHECK(validate_cluster_id("").ok());
  CHECK(validate_cluster_id("c-7f3a").ok());
  CHECK(validate_cluster_id(std::string(kMaxClusterIdBytes, 'c')).ok());
  CHECK(validate_cluster_id(std::string(kMaxClusterIdBytes + 1, 'c')).code() ==
        ErrorCode::kInvalidArgument);
  const Status s = validate_cluster_id("c\xff");
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.message().find("cluster id 'c\\xff'") != std::string::npos);
}

TEST_CASE("a configuration with an id or address that is not UTF-8 text is invalid",
          "[configuration]") {
  pb::Configuration bad_id = make_configuration(kThreeIds);
  add_server(bad_id, "n\xff", pb::NONVOTER);
  CHECK(validate_configuration(bad_id).code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(make_bootstrap_entry(bad_id).ok());
  pb::Configuration bad_address = make_configuration(kThreeIds);
  add_server(bad_address, "n4", pb::NONVOTER)->set_address("h\x01:7000");
  CHECK(validate_configuration(bad_address).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a change with an id or address that is not UTF-8 text is refused", "[configuration]") {
  auto bad_id = apply_conf_change(make_configuration(kThreeIds),
                                  change(ConfChangeType::kAddVoter, "n\xff", "x:7000"));
  REQUIRE_FALSE(bad_id.ok());
  CHECK(bad_id.status().code() == ErrorCode::kInvalidArgument);
  auto bad_address = apply_conf_change(make_configuration(kThreeIds),
                                       change(ConfChangeType::kAddNonvoter, "n4", "x\xfe:7000"));
  REQUIRE_FALSE(bad_address.ok());
  CHECK(bad_address.status().code() == ErrorCode::kInvalidArgument);
  // Metadata is opaque: any bytes.
  CHECK(apply_conf_change(make_configuration(kThreeIds), change(ConfChangeType::kAddNonvoter, "n4",
                                                                "x:7000", std::string("\xff\0", 2)))
            .ok());
}

TEST_CASE("find_server is_voter and count_voters look at suffrage", "[configuration]") {
  pb::Configuration c = make_configuration({"n1", "n2"});
  add_server(c, "n3", pb::NONVOTER);
  add_server(c, "n4", pb::STAGING);
  REQUIRE(find_server(c, "n3") != nullptr);
  CHECK(find_server(c, "n3")->address() == "n3:7000");
  CHECK(find_server(c, "n9") == nullptr);
  CHECK(is_voter(c, "n1"));
  CHECK_FALSE(is_voter(c, "n3"));
  CHECK_FALSE(is_voter(c, "n4"));  // staging does not vote yet
  CHECK_FALSE(is_voter(c, "n9"));
  CHECK(count_voters(c) == 2);
}

TEST_CASE("adding a new server as a voter makes it staging with its address and metadata",
          "[configuration]") {
  const pb::Configuration before = make_configuration(kThreeIds);
  auto after =
      apply_conf_change(before, change(ConfChangeType::kAddVoter, "n4", "h4:7000", "http://h4"));
  REQUIRE(after.ok());
  CHECK(after->servers_size() == 4);
  const pb::Server* s = find_server(*after, "n4");
  REQUIRE(s != nullptr);
  CHECK(s->suffrage() == pb::STAGING);
  CHECK(s->address() == "h4:7000");
  CHECK(s->metadata() == "http://h4");
  CHECK(count_voters(*after) == 3);
  // A pure function: the input is untouched.
  CHECK(before.servers_size() == 3);
}

TEST_CASE("adding a nonvoter as a voter makes it staging", "[configuration]") {
  pb::Configuration c = make_configuration(kThreeIds);
  add_server(c, "n4", pb::NONVOTER);
  auto after = apply_conf_change(c, change(ConfChangeType::kAddVoter, "n4", "n4:7000"));
  REQUIRE(after.ok());
  CHECK(suffrage_of(*after, "n4") == pb::STAGING);
}

TEST_CASE("adding an existing voter only changes its address and metadata", "[configuration]") {
  auto after = apply_conf_change(make_configuration(kThreeIds),
                                 change(ConfChangeType::kAddVoter, "n2", "new:7000", "meta"));
  REQUIRE(after.ok());
  CHECK(after->servers_size() == 3);
  CHECK(suffrage_of(*after, "n2") == pb::VOTER);
  CHECK(find_server(*after, "n2")->address() == "new:7000");
  CHECK(find_server(*after, "n2")->metadata() == "meta");
}

TEST_CASE("adding a new server as a nonvoter makes it a nonvoter", "[configuration]") {
  auto after = apply_conf_change(make_configuration(kThreeIds),
                                 change(ConfChangeType::kAddNonvoter, "n4", "n4:7000"));
  REQUIRE(after.ok());
  CHECK(suffrage_of(*after, "n4") == pb::NONVOTER);
  CHECK(count_voters(*after) == 3);
}

TEST_CASE("adding an existing voter as a nonvoter keeps it a voter", "[configuration]") {
  auto after = apply_conf_change(make_configuration(kThreeIds),
                                 change(ConfChangeType::kAddNonvoter, "n3", "n3:7001"));
  REQUIRE(after.ok());
  CHECK(suffrage_of(*after, "n3") == pb::VOTER);
  CHECK(find_server(*after, "n3")->address() == "n3:7001");
}

TEST_CASE("adding a server with an empty address is refused", "[configuration]") {
  auto voter =
      apply_conf_change(make_configuration(kThreeIds), change(ConfChangeType::kAddVoter, "n4", ""));
  REQUIRE_FALSE(voter.ok());
  CHECK(voter.status().code() == ErrorCode::kInvalidArgument);
  auto nonvoter = apply_conf_change(make_configuration(kThreeIds),
                                    change(ConfChangeType::kAddNonvoter, "n4", ""));
  REQUIRE_FALSE(nonvoter.ok());
  CHECK(nonvoter.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a change with an empty server id is refused", "[configuration]") {
  auto r = apply_conf_change(make_configuration(kThreeIds),
                             change(ConfChangeType::kAddVoter, "", "x:7000"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("demoting a voter or staging server makes it a nonvoter", "[configuration]") {
  pb::Configuration c = make_configuration(kThreeIds);
  add_server(c, "n4", pb::STAGING);
  auto voter = apply_conf_change(c, change(ConfChangeType::kDemoteVoter, "n2"));
  REQUIRE(voter.ok());
  CHECK(suffrage_of(*voter, "n2") == pb::NONVOTER);
  CHECK(count_voters(*voter) == 2);
  auto staging = apply_conf_change(c, change(ConfChangeType::kDemoteVoter, "n4"));
  REQUIRE(staging.ok());
  CHECK(suffrage_of(*staging, "n4") == pb::NONVOTER);
}

TEST_CASE("removing a server drops it and keeps the others in order", "[configuration]") {
  auto after =
      apply_conf_change(make_configuration(kThreeIds), change(ConfChangeType::kRemoveServer, "n2"));
  REQUIRE(after.ok());
  REQUIRE(after->servers_size() == 2);
  CHECK(after->servers(0).id() == "n1");
  CHECK(after->servers(1).id() == "n3");
  CHECK(find_server(*after, "n2") == nullptr);
}

TEST_CASE("removing or demoting an unknown server fails with kNotFound", "[configuration]") {
  auto removed =
      apply_conf_change(make_configuration(kThreeIds), change(ConfChangeType::kRemoveServer, "n9"));
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.status().code() == ErrorCode::kNotFound);
  auto demoted =
      apply_conf_change(make_configuration(kThreeIds), change(ConfChangeType::kDemoteVoter, "n9"));
  REQUIRE_FALSE(demoted.ok());
  CHECK(demoted.status().code() == ErrorCode::kNotFound);
}

TEST_CASE("removing or demoting the last voter is refused", "[configuration]") {
  pb::Configuration c = make_configuration({"n1"});
  add_server(c, "n2", pb::NONVOTER);
  add_server(c, "n3", pb::STAGING);
  auto removed = apply_conf_change(c, change(ConfChangeType::kRemoveServer, "n1"));
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.status().code() == ErrorCode::kInvalidArgument);
  auto demoted = apply_conf_change(c, change(ConfChangeType::kDemoteVoter, "n1"));
  REQUIRE_FALSE(demoted.ok());
  CHECK(demoted.status().code() == ErrorCode::kInvalidArgument);
  // Removing a nonvoter of that configuration is fine.
  CHECK(apply_conf_change(c, change(ConfChangeType::kRemoveServer, "n2")).ok());
}

TEST_CASE("describe lists every server with its suffrage and address", "[configuration]") {
  pb::Configuration c = make_configuration({"n1"});
  add_server(c, "n2", pb::NONVOTER);
  add_server(c, "n3", pb::STAGING);
  CHECK(describe(c) == "n1 (voter, n1:7000), n2 (nonvoter, n2:7000), n3 (staging, n3:7000)");
  CHECK(describe(pb::Configuration()) == "(empty)");
}

TEST_CASE("the bootstrap entry is entry 1 of term 1 carrying the configuration",
          "[configuration]") {
  const pb::Configuration c = make_configuration(kThreeIds);
  auto entry = make_bootstrap_entry(c);
  REQUIRE(entry.ok());
  CHECK(entry->index() == 1);
  CHECK(entry->term() == 1);
  CHECK(entry->type() == pb::ENTRY_CONF_CHANGE);
  pb::Configuration parsed;
  REQUIRE(parsed.ParseFromString(entry->data()));
  CHECK(parsed.SerializeAsString() == c.SerializeAsString());
}

TEST_CASE("the bootstrap entry refuses an invalid configuration", "[configuration]") {
  auto entry = make_bootstrap_entry(pb::Configuration());
  REQUIRE_FALSE(entry.ok());
  CHECK(entry.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("bootstrapping a fresh MemoryStorage writes term 1 and the configuration entry",
          "[configuration]") {
  MemoryStorage s;
  const pb::Configuration c = make_configuration(kThreeIds);
  REQUIRE(s.bootstrap(c).ok());
  CHECK(s.hard_state().term() == 1);
  CHECK(s.hard_state().vote().empty());
  CHECK(s.hard_state().commit() == 0);
  CHECK(s.first_index() == 1);
  CHECK(s.last_index() == 1);
  auto entries = s.entries(1, 2, 1 << 20);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 1);
  auto expected = make_bootstrap_entry(c);
  REQUIRE(expected.ok());
  CHECK(entries->front().SerializeAsString() == expected->SerializeAsString());
}

TEST_CASE("bootstrapping a MemoryStorage twice fails with kAlreadyExists", "[configuration]") {
  MemoryStorage s;
  REQUIRE(s.bootstrap(make_configuration(kThreeIds)).ok());
  CHECK(s.bootstrap(make_configuration(kThreeIds)).code() == ErrorCode::kAlreadyExists);
  CHECK(s.last_index() == 1);
}

TEST_CASE("bootstrapping a MemoryStorage that has any state fails with kAlreadyExists",
          "[configuration]") {
  SECTION("a hard state") {
    MemoryStorage s;
    s.set_hard_state(make_hard_state(3));
    CHECK(s.bootstrap(make_configuration(kThreeIds)).code() == ErrorCode::kAlreadyExists);
    CHECK(s.last_index() == 0);
  }
  SECTION("log entries") {
    MemoryStorage s;
    REQUIRE(s.append(make_log({1})).ok());
    CHECK(s.bootstrap(make_configuration(kThreeIds)).code() == ErrorCode::kAlreadyExists);
    CHECK(s.hard_state().term() == 0);
  }
  SECTION("a base configuration") {
    MemoryStorage s;
    s.set_configuration(make_configuration(kThreeIds));
    CHECK(s.bootstrap(make_configuration(kThreeIds)).code() == ErrorCode::kAlreadyExists);
    CHECK(s.last_index() == 0);
  }
}

TEST_CASE("bootstrapping with an invalid configuration leaves the storage empty",
          "[configuration]") {
  MemoryStorage s;
  CHECK(s.bootstrap(pb::Configuration()).code() == ErrorCode::kInvalidArgument);
  CHECK(s.last_index() == 0);
  CHECK(s.hard_state().term() == 0);
  // And it can still be bootstrapped properly.
  CHECK(s.bootstrap(make_configuration({"n1"})).ok());
}

}  // namespace
}  // namespace raft::test
