// RequestBuilder: see request_builder.h.
#include "request_builder.h"

#include <random>

namespace kvbench {

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
        static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

RequestBuilder::RequestBuilder(const BenchConfig& config)
    : target_(config.target), consistency_(config.consistency) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937_64 rng(config.seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_int_distribution<int> pick(0, static_cast<int>(sizeof(kChars)) - 2);
  std::string raw(config.value_size, 'x');
  for (char& c : raw) c = kChars[pick(rng)];
  value_ = "\"" + raw + "\"";  // letters and digits need no JSON escaping
  value_base64_ = base64_encode(raw);
}

Request RequestBuilder::make(OpType op, std::uint64_t key) const {
  const std::string name = key_name(key);
  if (target_ == Target::kKvserver) {
    if (op == OpType::kWrite) {
      return {"POST", "/store", "{\"key\":\"" + name + "\",\"value\":" + value_ + "}"};
    }
    return {"GET", "/store/" + name + "?consistency=" + consistency_name(consistency_), ""};
  }
  const std::string key64 = base64_encode(name);
  if (op == OpType::kWrite) {
    return {"POST", "/v3/kv/put",
            "{\"key\":\"" + key64 + "\",\"value\":\"" + value_base64_ + "\"}"};
  }
  // etcd has no lease reads: "leader" is served as linearizable.
  if (consistency_ == Consistency::kStale) {
    return {"POST", "/v3/kv/range", "{\"key\":\"" + key64 + "\",\"serializable\":true}"};
  }
  return {"POST", "/v3/kv/range", "{\"key\":\"" + key64 + "\"}"};
}

std::string RequestBuilder::serialize(const Request& request, const Endpoint& host) {
  std::string out;
  out.reserve(128 + request.target.size() + request.body.size());
  out += request.method;
  out += ' ';
  out += request.target;
  out += " HTTP/1.1\r\nHost: ";
  out += host.to_string();
  out += "\r\n";
  if (!request.body.empty() || request.method == "POST") {
    out += "Content-Type: application/json\r\nContent-Length: ";
    out += std::to_string(request.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += request.body;
  return out;
}

}  // namespace kvbench
