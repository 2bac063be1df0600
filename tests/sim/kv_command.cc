#include "sim/kv_command.h"

#include <charconv>
#include <vector>

namespace raft::sim {

namespace {
constexpr char kSep = '|';

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == kSep) {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

bool parse_u64(const std::string& s, std::uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::string KvCommand::encode() const {
  std::string out = std::to_string(client);
  out += kSep;
  out += std::to_string(seq);
  out += kSep;
  out += std::to_string(static_cast<int>(kind));
  out += kSep;
  out += key;
  out += kSep;
  out += value;
  out += kSep;
  out += expected ? "1" : "0";
  out += kSep;
  out += expected.value_or("");
  return out;
}

std::optional<KvCommand> KvCommand::decode(const std::string& data) {
  auto f = split(data);
  if (f.size() != 7) return std::nullopt;
  KvCommand c;
  std::uint64_t kind = 0;
  if (!parse_u64(f[0], &c.client) || !parse_u64(f[1], &c.seq) || !parse_u64(f[2], &kind) ||
      kind > 3) {
    return std::nullopt;
  }
  c.kind = static_cast<lincheck::OpKind>(kind);
  c.key = f[3];
  c.value = f[4];
  if (f[5] == "1") c.expected = f[6];
  return c;
}

}  // namespace raft::sim
