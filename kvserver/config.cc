#include "kvserver/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cxxopts.hpp>
#include <limits>
#include <sstream>
#include <thread>

#include "raft/configuration.h"

namespace kv {

using raft::ErrorCode;
using raft::Result;
using raft::Status;

namespace {

Status invalid(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

// Parses a whole decimal number in [min, max]; `what` names the flag in the error.
template <typename T>
Result<T> parse_number(const std::string& text, const std::string& what, T min, T max) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return invalid(fmt::format("{}: '{}' is not a whole number", what, text));
  }
  if (value < min || value > max) {
    return invalid(fmt::format("{}: {} is out of range [{}, {}]", what, text, min, max));
  }
  return value;
}

// The value of a flag if given, else of the environment variable `env` if set and non-empty,
// else std::nullopt.
std::optional<std::string> lookup(const cxxopts::ParseResult& result, const std::string& flag,
                                  const char* env, const GetEnv& getenv) {
  if (result.count(flag) > 0) return result[flag].as<std::string>();
  if (env != nullptr) {
    const char* value = getenv(env);
    if (value != nullptr && *value != '\0') return std::string(value);
  }
  return std::nullopt;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part.starts_with("http://")) part = part.substr(7);
    while (!part.empty() && part.back() == '/') part.pop_back();
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

int Config::http_thread_count() const {
  if (http_threads > 0) return http_threads;
  // 0: one thread per two CPUs. Measured on the 2-CPU bench machine (three nodes sharing
  // it), one thread served linearizable reads faster than two; writes did not differ.
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

std::string Config::http_address() const {
  // A URL's host: an IPv6 address in brackets ("http://[::1]:20001/...").
  const bool bare_ipv6 = raft_addr.find(':') != std::string::npos && raft_addr.front() != '[';
  return bare_ipv6 ? fmt::format("[{}]:{}", raft_addr, http_port)
                   : fmt::format("{}:{}", raft_addr, http_port);
}
std::string Config::raft_address() const { return fmt::format("{}:{}", raft_addr, raft_port); }

Status validate_node_id(std::string_view id, std::string_view what) {
  if (Status s = raft::validate_server_id(id, what); !s.ok()) return s;
  if (id == "." || id == "..") {
    // It names the default data directory data/<id>: "." or ".." would be data/ or the
    // working directory itself.
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} '{}': use letters, digits, '-', '_' or '.'", what, id));
  }
  for (char c : id) {
    if (c == ' ' || c == '/' || c == '"' || c == '\\') {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} '{}': use letters, digits, '-', '_' or '.'", what, id));
    }
  }
  return Status::ok_status();
}

Status validate_raft_address(std::string_view address, std::string_view what) {
  if (Status s = raft::validate_server_address(address, what); !s.ok()) return s;
  const auto bad = [&](std::string_view why) {
    return invalid(fmt::format("{} '{}' is not host:port ({})", what, address, why));
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  const std::string_view host = address.substr(0, colon);
  const std::string port(address.substr(colon + 1));
  if (host.empty() || host == "[]") return bad("no host");
  if (host.find_first_of(" /") != std::string_view::npos) return bad("a space or / in the host");
  if (!parse_number<int>(port, "port", 1, 65535).ok()) return bad("the port must be 1-65535");
  return Status::ok_status();
}

Result<ParsedConfig> parse_config(int argc, const char* const* argv, const GetEnv& getenv) {
  const Config defaults;
  cxxopts::Options cli("kvserver",
                       "A distributed key-value server on libraft (Raft) and LevelDB, with an "
                       "HTTP API.\nEach flag falls back to the environment variable named in "
                       "brackets, then to its default.");
  // Every value is read as a string and checked here, so that errors name the flag plainly.
  auto text = [] { return cxxopts::value<std::string>(); };
  cli.add_options()                                                                      //
      ("id", "this node's id, unique in the cluster [RAFT_NODE_ID] (required)", text())  //
      ("http-port", "HTTP API port [SERVER_PORT]",
       text()->default_value(std::to_string(defaults.http_port)))  //
      ("http-host", "interface the HTTP API listens on",
       text()->default_value(defaults.http_host))  //
      ("raft-port", "Raft transport port [RAFT_PORT]",
       text()->default_value(std::to_string(defaults.raft_port)))  //
      ("raft-addr",
       "host other nodes and clients reach this node at (Raft and HTTP addresses advertised)",
       text()->default_value(defaults.raft_addr))                                   //
      ("data-dir", "data directory [RAFT_VOL_DIR] (default: ./data/<id>)", text())  //
      ("join",
       "HTTP address (host:port, comma-separated list) of a running cluster node: ask the "
       "cluster to add this node, retrying until it is added. Without --join, a node with an "
       "empty data directory starts a new one-node cluster",
       text())  //
      ("snapshot-threshold", "take a snapshot after this many applied entries",
       text()->default_value(std::to_string(defaults.snapshot_threshold)))  //
      ("trailing-logs", "log entries kept behind a snapshot for slow followers",
       text()->default_value(std::to_string(defaults.trailing_logs)))  //
      ("heartbeat-ms", "leader heartbeat interval",
       text()->default_value(std::to_string(defaults.heartbeat_ms)))  //
      ("election-timeout-ms", "election timeout (at least 2 heartbeats)",
       text()->default_value(std::to_string(defaults.election_timeout_ms)))  //
      ("request-timeout-ms", "how long a write or linearizable read may wait",
       text()->default_value(std::to_string(defaults.request_timeout_ms)))  //
      ("http-threads", "threads serving HTTP (0: one per two CPUs, at least one)",
       text()->default_value(std::to_string(defaults.http_threads)))  //
      ("max-key-bytes", "largest key accepted (413 beyond)",
       text()->default_value(std::to_string(defaults.max_key_bytes)))  //
      ("max-value-bytes", "largest value (its JSON text) accepted (413 beyond)",
       text()->default_value(std::to_string(defaults.max_value_bytes)))                       //
      ("log-level", "debug, info, warn or error", text()->default_value(defaults.log_level))  //
      ("h,help", "print this help and exit");

  cxxopts::ParseResult result;
  try {
    result = cli.parse(argc, argv);
  } catch (const std::exception& e) {
    return invalid(fmt::format("{} (see --help)", e.what()));
  }
  if (!result.unmatched().empty()) {
    return invalid(fmt::format("unexpected argument '{}' (see --help)", result.unmatched()[0]));
  }
  ParsedConfig parsed;
  if (result.count("help") > 0) {
    parsed.print = cli.help();
    return parsed;
  }

  Config config;
  auto id = lookup(result, "id", "RAFT_NODE_ID", getenv);
  if (!id) return invalid("no node id: pass --id or set RAFT_NODE_ID");
  config.id = *id;
  if (Status s = validate_node_id(config.id, "--id"); !s.ok()) return s;

  auto port = [&](const std::string& flag, const char* env, int* out) -> Status {
    auto value = lookup(result, flag, env, getenv);
    if (!value) value = result[flag].as<std::string>();
    auto n = parse_number<int>(*value, "--" + flag, 1, 65535);
    if (!n.ok()) return n.status();
    *out = *n;
    return Status::ok_status();
  };
  if (Status s = port("http-port", "SERVER_PORT", &config.http_port); !s.ok()) return s;
  if (Status s = port("raft-port", "RAFT_PORT", &config.raft_port); !s.ok()) return s;
  config.http_host = result["http-host"].as<std::string>();
  config.raft_addr = result["raft-addr"].as<std::string>();
  // The rule a leader applies to this address when this node joins (see /raft/join).
  if (Status s = validate_raft_address(config.raft_address(), "--raft-addr"); !s.ok()) return s;
  if (Status s = raft::validate_server_address(config.http_host, "--http-host"); !s.ok()) {
    return s;
  }
  config.data_dir =
      lookup(result, "data-dir", "RAFT_VOL_DIR", getenv).value_or("data/" + config.id);
  if (auto join = lookup(result, "join", nullptr, getenv)) {
    config.join = split_list(*join);
    if (config.join.empty()) return invalid("--join: no address given");
  }

  auto number = [&](const std::string& flag, auto* out, auto min, auto max) -> Status {
    using T = std::remove_pointer_t<decltype(out)>;
    auto n = parse_number<T>(result[flag].as<std::string>(), "--" + flag, static_cast<T>(min),
                             static_cast<T>(max));
    if (!n.ok()) return n.status();
    *out = *n;
    return Status::ok_status();
  };
  constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
  if (Status s = number("snapshot-threshold", &config.snapshot_threshold, 0, kMaxU64); !s.ok()) {
    return s;
  }
  if (Status s = number("trailing-logs", &config.trailing_logs, 0, kMaxU64); !s.ok()) return s;
  if (Status s = number("heartbeat-ms", &config.heartbeat_ms, 1, 60'000); !s.ok()) return s;
  if (Status s = number("election-timeout-ms", &config.election_timeout_ms, 2, 600'000); !s.ok()) {
    return s;
  }
  if (Status s = number("request-timeout-ms", &config.request_timeout_ms, 1, 3'600'000); !s.ok()) {
    return s;
  }
  if (Status s = number("http-threads", &config.http_threads, 0, 256); !s.ok()) return s;
  if (Status s = number("max-key-bytes", &config.max_key_bytes, 1, 1 << 20); !s.ok()) return s;
  if (Status s = number("max-value-bytes", &config.max_value_bytes, 1, 64 << 20); !s.ok()) {
    return s;
  }
  // A write is one raft entry, which travels in one transport frame (at most 64 MiB): a
  // command that could not fit would be accepted, then never replicated.
  constexpr std::size_t kMaxCommandBytes = std::size_t{63} << 20;
  if (config.max_value_bytes + config.max_key_bytes > kMaxCommandBytes) {
    return invalid(fmt::format(
        "--max-value-bytes ({}) plus --max-key-bytes ({}) is over {} bytes: such a write would "
        "not fit in one raft message (64 MiB)",
        config.max_value_bytes, config.max_key_bytes, kMaxCommandBytes));
  }
  if (config.election_timeout_ms < 2 * config.heartbeat_ms) {
    return invalid(
        fmt::format("--election-timeout-ms ({}) must be at least twice "
                    "--heartbeat-ms ({})",
                    config.election_timeout_ms, config.heartbeat_ms));
  }
  config.log_level = result["log-level"].as<std::string>();
  if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
      config.log_level != "error") {
    return invalid(
        fmt::format("--log-level '{}': use debug, info, warn or error", config.log_level));
  }
  parsed.config = std::move(config);
  return parsed;
}

}  // namespace kv
