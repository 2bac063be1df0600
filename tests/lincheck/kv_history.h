// A recorded client history of a key-value store, the input of the linearizability checker.
//
// Each operation has its invocation and response times on one clock (simulated time). An
// operation whose outcome is unknown (the client timed out or the node failed before
// answering) has `known == false`: it may or may not have taken effect, at any moment
// after its invocation. An operation known to have failed (the store said it did not
// happen) is simply not recorded. Plain values; owned by whoever records them.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace lincheck {

enum class OpKind { kPut, kGet, kDelete, kCas };

struct KvOp {
  std::uint64_t client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;                    // put: value written; cas: new value
  std::optional<std::string> expected;  // cas: value expected (nullopt: key absent)
  // Outcome, when known: get -> the value read (nullopt: absent); cas -> whether it swapped.
  std::optional<std::string> read;
  bool cas_ok = false;
  bool known = true;
  std::uint64_t call = 0;
  std::uint64_t ret = std::numeric_limits<std::uint64_t>::max();  // ignored when !known
};

std::string describe(const KvOp& op);

}  // namespace lincheck
