// Config::validate and RawNode::create: a bad configuration is refused up front.
#include "test_util.h"

namespace raft::test {
namespace {

TEST_CASE("Config::validate accepts the defaults once an id is set", "[config]") {
  Config config;
  config.id = "n1";
  CHECK(config.validate().ok());
  CHECK(make_config("n1").validate().ok());
}

TEST_CASE("Config::validate rejects an empty id", "[config]") {
  Config config = make_config("");
  Status st = config.validate();
  CHECK_FALSE(st.ok());
  CHECK(st.code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("Config::validate rejects an id that is not UTF-8 text", "[config]") {
  CHECK(make_config("n\xff").validate().code() == ErrorCode::kInvalidArgument);
  CHECK(make_config("n\t1").validate().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("Config::validate rejects heartbeat_tick >= election_tick", "[config]") {
  Config config = make_config("n1");
  config.election_tick = 5;
  config.heartbeat_tick = 5;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
  config.heartbeat_tick = 6;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
  config.heartbeat_tick = 4;
  CHECK(config.validate().ok());
}

TEST_CASE("Config::validate rejects a non-positive election_tick", "[config]") {
  Config config = make_config("n1");
  config.election_tick = 0;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
  config.election_tick = -3;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("Config::validate rejects a non-positive heartbeat_tick", "[config]") {
  Config config = make_config("n1");
  config.heartbeat_tick = 0;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
  config.heartbeat_tick = -1;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("Config::validate rejects a pipelining window of zero messages", "[config]") {
  Config config = make_config("n1");
  config.max_inflight_msgs = 0;
  CHECK(config.validate().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("RawNode::create refuses an invalid config", "[config]") {
  MemoryStorage storage;
  storage.set_configuration(make_configuration(kThreeIds));
  Config config = make_config("n1");
  config.heartbeat_tick = config.election_tick;
  auto created = RawNode::create(config, &storage);
  REQUIRE_FALSE(created.ok());
  CHECK(created.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a node starts from the durable hard state in its storage", "[config]") {
  NodeSetup setup;
  setup.entries = make_log({1, 1, 3});
  setup.hard_state = make_hard_state(3, "n2", 2);
  TestNode n(setup);
  NodeStatus st = n->status();
  CHECK(st.role == Role::kFollower);
  CHECK(st.term == 3);
  CHECK(st.vote == "n2");
  CHECK(st.commit == 2);
  CHECK(st.last_index == 3);
  CHECK(st.last_term == 3);
}

}  // namespace
}  // namespace raft::test
