// kvserver's configuration: flags, the seed's environment variables as fallbacks, defaults,
// and the one-line errors for bad values.
#include "kvserver/config.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Env {
  std::map<std::string, std::string> vars;
  kv::GetEnv getenv() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

raft::Result<kv::ParsedConfig> parse(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.begin(), "kvserver");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return kv::parse_config(static_cast<int>(argv.size()), argv.data(), env.getenv());
}

kv::Config config_of(std::vector<std::string> args, const Env& env = {}) {
  auto parsed = parse(std::move(args), env);
  INFO(parsed.status().to_string());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->config.has_value());
  return *parsed->config;
}

std::string error_of(std::vector<std::string> args, const Env& env = {}) {
  auto parsed = parse(std::move(args), env);
  REQUIRE_FALSE(parsed.ok());
  REQUIRE(parsed.status().code() == raft::ErrorCode::kInvalidArgument);
  return parsed.status().message();
}

}  // namespace

TEST_CASE("the seed's environment variables configure a node without flags", "[config]") {
  Env env{{{"SERVER_PORT", "20002"},
           {"RAFT_NODE_ID", "node2"},
           {"RAFT_PORT", "10002"},
           {"RAFT_VOL_DIR", "/tmp/node_2_data"}}};
  const kv::Config c = config_of({}, env);
  CHECK(c.id == "node2");
  CHECK(c.http_port == 20002);
  CHECK(c.raft_port == 10002);
  CHECK(c.data_dir == "/tmp/node_2_data");
  CHECK(c.http_address() == "127.0.0.1:20002");
  CHECK(c.raft_address() == "127.0.0.1:10002");
  CHECK(c.join.empty());
}

TEST_CASE("flags take precedence over the environment", "[config]") {
  Env env{{{"SERVER_PORT", "20002"}, {"RAFT_NODE_ID", "node2"}, {"RAFT_PORT", "10002"}}};
  const kv::Config c = config_of(
      {"--id", "n9", "--http-port", "30009", "--raft-port=40009", "--raft-addr", "10.0.0.9"}, env);
  CHECK(c.id == "n9");
  CHECK(c.http_port == 30009);
  CHECK(c.raft_port == 40009);
  CHECK(c.raft_address() == "10.0.0.9:40009");
  CHECK(c.data_dir == "data/n9");  // the default follows the id
}

TEST_CASE("defaults apply when neither flag nor environment is given", "[config]") {
  const kv::Config c = config_of({"--id", "a"});
  const kv::Config d;
  CHECK(c.http_port == d.http_port);
  CHECK(c.raft_port == d.raft_port);
  CHECK(c.snapshot_threshold == d.snapshot_threshold);
  CHECK(c.max_key_bytes == 4096);
  CHECK(c.max_value_bytes == 1u << 20);
  CHECK(c.request_timeout_ms == d.request_timeout_ms);
}

TEST_CASE("the join flag takes a list of HTTP addresses, with or without http://", "[config]") {
  const kv::Config c = config_of({"--id", "a", "--join", "http://127.0.0.1:1/,127.0.0.1:2"});
  CHECK(c.join == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
}

TEST_CASE("a missing id is an error naming the flag and the variable", "[config]") {
  const std::string e = error_of({});
  CHECK(e.find("--id") != std::string::npos);
  CHECK(e.find("RAFT_NODE_ID") != std::string::npos);
}

TEST_CASE("bad values are one-line errors naming the flag", "[config]") {
  CHECK(error_of({"--id", "a", "--http-port", "http"}).find("--http-port") != std::string::npos);
  CHECK(error_of({"--id", "a", "--raft-port", "70000"}).find("out of range") != std::string::npos);
  CHECK(error_of({"--id", "a"}, Env{{{"SERVER_PORT", "0"}}}).find("--http-port") !=
        std::string::npos);
  CHECK(error_of({"--id", "a", "--heartbeat-ms", "500", "--election-timeout-ms", "600"})
            .find("at least twice") != std::string::npos);
  CHECK(error_of({"--id", "a", "--log-level", "loud"}).find("--log-level") != std::string::npos);
  CHECK(error_of({"--id", "a b"}).find("--id") != std::string::npos);
  // "." and ".." would make the default data directory data/ or the working directory.
  CHECK(error_of({"--id", "."}).find("--id") != std::string::npos);
  CHECK(error_of({"--id", ".."}).find("--id") != std::string::npos);
  CHECK(config_of({"--id", "..a"}).id == "..a");
  CHECK(error_of({"--id", "a", "--max-value-bytes", "-1"}).find("--max-value-bytes") !=
        std::string::npos);
}

TEST_CASE("a raft address is host:port, split at the last colon as the transport does",
          "[config]") {
  for (const char* good : {"127.0.0.1:7000", "node-2.example:7000", "[::1]:7000", "::1:7000"}) {
    INFO(good);
    CHECK(kv::validate_raft_address(good, "raft_address").ok());
  }
  for (const char* bad : {":", "nohost", "localhost:0", "[::1]:99999", ":7000", "host:port",
                          "a b:7000", "a/b:7000", "[]:7000"}) {
    INFO(bad);
    const raft::Status s = kv::validate_raft_address(bad, "raft_address");
    CHECK(s.code() == raft::ErrorCode::kInvalidArgument);
    CHECK(s.message().find("raft_address") != std::string::npos);
  }
  // --raft-addr follows the same rule, so that a node never advertises an address its
  // leader's /raft/join would refuse.
  CHECK(config_of({"--id", "a", "--raft-addr", "::1"}).raft_address() == "::1:10001");
  // The HTTP address is a URL's host:port, so an IPv6 host is bracketed there.
  CHECK(config_of({"--id", "a", "--raft-addr", "::1"}).http_address() == "[::1]:20001");
  CHECK(config_of({"--id", "a", "--raft-addr", "[::1]"}).http_address() == "[::1]:20001");
  CHECK(error_of({"--id", "a", "--raft-addr", "two words"}).find("--raft-addr") !=
        std::string::npos);
}

TEST_CASE("a value and key limit whose write would not fit in one raft message is refused",
          "[config]") {
  CHECK(config_of({"--id", "a", "--max-value-bytes", std::to_string(62 << 20)}).max_value_bytes ==
        std::size_t{62} << 20);
  const std::string e = error_of({"--id", "a", "--max-value-bytes", std::to_string(64 << 20)});
  CHECK(e.find("--max-value-bytes") != std::string::npos);
  CHECK(e.find("raft message") != std::string::npos);
  CHECK(error_of({"--id", "a", "--max-value-bytes", std::to_string((62 << 20) + 1),
                  "--max-key-bytes", std::to_string(1 << 20)})
            .find("--max-key-bytes") != std::string::npos);
}

TEST_CASE("an id or address that is not UTF-8 text is refused before anything is stored",
          "[config]") {
  for (const char* id : {"n\xff", "n\x01", "n\xed\xa0\x80"}) {
    const std::string e = error_of({"--id", id});
    CHECK(e.find("--id") != std::string::npos);
    CHECK(e.find("UTF-8") != std::string::npos);
  }
  CHECK(config_of({"--id", "a"}, Env{{{"RAFT_NODE_ID", "n\xfe"}}}).id == "a");  // the flag wins
  CHECK(error_of({}, Env{{{"RAFT_NODE_ID", "n\xfe"}}}).find("UTF-8") != std::string::npos);
  CHECK(error_of({"--id", "a", "--raft-addr", "h\xff"}).find("--raft-addr") != std::string::npos);
  CHECK(error_of({"--id", "a", "--http-host", "h\x7f"}).find("--http-host") != std::string::npos);
  CHECK(config_of({"--id", "n\xc5\x93ud"}).id == "n\xc5\x93ud");  // UTF-8 ids are fine
}

TEST_CASE("the http-threads flag sets the thread count, and 0 picks one per two CPUs", "[config]") {
  CHECK(config_of({"--id", "a", "--http-threads", "3"}).http_thread_count() == 3);
  const kv::Config automatic = config_of({"--id", "a"});
  CHECK(automatic.http_threads == 0);
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  CHECK(automatic.http_thread_count() == std::max(1, cpus / 2));
  CHECK(error_of({"--id", "a", "--http-threads", "-1"}).find("--http-threads") !=
        std::string::npos);
  CHECK(error_of({"--id", "a", "--http-threads", "1000"}).find("--http-threads") !=
        std::string::npos);
}

TEST_CASE("an unknown flag or a stray argument is an error", "[config]") {
  CHECK(error_of({"--id", "a", "--bogus"}).find("bogus") != std::string::npos);
  CHECK(error_of({"--id", "a", "stray"}).find("stray") != std::string::npos);
}

TEST_CASE("the help text lists every flag with its default", "[config]") {
  auto parsed = parse({"--help"});
  REQUIRE(parsed.ok());
  CHECK_FALSE(parsed->config.has_value());
  for (const char* flag : {"--id", "--http-port", "--raft-port", "--raft-addr", "--data-dir",
                           "--join", "--snapshot-threshold", "--max-value-bytes", "SERVER_PORT",
                           "RAFT_VOL_DIR", "20001", "10001"}) {
    INFO(flag);
    CHECK(parsed->print.find(flag) != std::string::npos);
  }
}
