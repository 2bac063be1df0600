// RequestBuilder: the HTTP requests of one workload — a kvserver or etcd write or read of
// "key-<n>" — as bytes ready to write. kvserver: POST /store {"key","value"} and
// GET /store/<key>?consistency=...; etcd (v3 JSON gateway): POST /v3/kv/put and
// POST /v3/kv/range with base64 keys and values, "serializable": true for stale reads.
//
// Ownership and threads: immutable after construction; shared by every client on every
// thread (one per run, owned by main).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bench_config.h"
#include "endpoint.h"

namespace kvbench {

enum class OpType { kRead, kWrite };

// One request before it is addressed to a server.
struct Request {
  std::string method;
  std::string target;  // "/store/key-7?consistency=stale"
  std::string body;
};

class RequestBuilder {
 public:
  // The value written is `config.value_size` bytes of letters and digits drawn from
  // `config.seed` (the same value for every write).
  explicit RequestBuilder(const BenchConfig& config);

  Request make(OpType op, std::uint64_t key) const;
  // "<method> <target> HTTP/1.1" with Host, Content-Type and Content-Length, then the body.
  static std::string serialize(const Request& request, const Endpoint& host);

  static std::string key_name(std::uint64_t key) { return "key-" + std::to_string(key); }

 private:
  Target target_;
  Consistency consistency_;
  std::string value_;         // kvserver: the JSON string value, quotes included
  std::string value_base64_;  // etcd
};

std::string base64_encode(std::string_view bytes);

}  // namespace kvbench
