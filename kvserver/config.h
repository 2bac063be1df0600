// Config: kvserver's settings, from command-line flags with the seed example's environment
// variables as fallbacks (flag > environment > default). A plain value, parsed once in main().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raft/status.h"

namespace kv {

struct Config {
  std::string id;                       // --id / RAFT_NODE_ID (required)
  std::string http_host = "0.0.0.0";    // --http-host: where the HTTP server listens
  int http_port = 20001;                // --http-port / SERVER_PORT
  std::string raft_addr = "127.0.0.1";  // --raft-addr: host peers and clients are told
  int raft_port = 10001;                // --raft-port / RAFT_PORT
  std::string data_dir;                 // --data-dir / RAFT_VOL_DIR (default ./data/<id>)
  std::vector<std::string> join;        // --join host:port[,host:port...]
  std::uint64_t snapshot_threshold = 8192;
  std::uint64_t trailing_logs = 10240;
  int heartbeat_ms = 100;
  int election_timeout_ms = 1000;
  int request_timeout_ms = 5000;
  int http_threads = 0;  // --http-threads; 0: one per two CPUs, at least one
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 1 << 20;
  std::string log_level = "info";  // debug | info | warn | error

  // "raft_addr:http_port": the HTTP address this node advertises (redirects, stats).
  std::string http_address() const;
  // "raft_addr:raft_port": the raft address this node advertises to peers.
  std::string raft_address() const;
  // The largest request body these limits allow: the value's JSON text, the key (JSON-escaped:
  // at most 6 bytes per byte) and room for the rest.
  // The HTTP server's thread count: http_threads, or for 0 one per two CPUs (at least one).
  int http_thread_count() const;
  std::size_t max_body_bytes() const { return max_value_bytes + 6 * max_key_bytes + (64 << 10); }
};

// What parse_config() found: a configuration to run, or a text to print and exit 0 (--help,
// --version).
struct ParsedConfig {
  std::optional<Config> config;
  std::string print;
};

using GetEnv = std::function<const char*(const char*)>;

// Whether `id` can name a kvserver node: libraft's rule (raft::validate_server_id: UTF-8 text
// without control characters), and no space, '/', '"' or '\\' (it names the data directory
// and appears in /raft/stats). kInvalidArgument names it as `what` ("--id", "node_id").
raft::Status validate_node_id(std::string_view id, std::string_view what);

// Whether `address` can be dialled as a peer's raft address: libraft's address rule
// (raft::validate_server_address) and the form host:port (split at the last ':', as the
// transport does: "::1:7000" and "[::1]:7000" are both IPv6), with a host that is not empty
// and holds no space or '/', and a port in [1, 65535]. kInvalidArgument names it as `what`.
raft::Status validate_raft_address(std::string_view address, std::string_view what);

// Parses argv with the environment `getenv` (std::getenv in main; tests pass their own).
// kInvalidArgument with a one-line message for an unknown flag, a malformed or out-of-range
// value, or a missing id.
raft::Result<ParsedConfig> parse_config(int argc, const char* const* argv, const GetEnv& getenv);

}  // namespace kv
