// The checker must accept linearizable histories and reject the classic anomalies; a
// checker that never fails checks nothing.
#include "lincheck/linearizability_checker.h"

#include <catch2/catch.hpp>
#include <map>

using lincheck::KvOp;
using lincheck::OpKind;

namespace {

KvOp put(std::uint64_t client, std::string key, std::string value, std::uint64_t call,
         std::uint64_t ret) {
  KvOp op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.call = call;
  op.ret = ret;
  return op;
}

KvOp get(std::uint64_t client, std::string key, std::optional<std::string> read, std::uint64_t call,
         std::uint64_t ret) {
  KvOp op;
  op.client = client;
  op.kind = OpKind::kGet;
  op.key = std::move(key);
  op.read = std::move(read);
  op.call = call;
  op.ret = ret;
  return op;
}

KvOp del(std::uint64_t client, std::string key, std::uint64_t call, std::uint64_t ret) {
  KvOp op;
  op.client = client;
  op.kind = OpKind::kDelete;
  op.key = std::move(key);
  op.call = call;
  op.ret = ret;
  return op;
}

KvOp cas(std::uint64_t client, std::string key, std::optional<std::string> expected,
         std::string value, bool ok, std::uint64_t call, std::uint64_t ret) {
  KvOp op;
  op.client = client;
  op.kind = OpKind::kCas;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.cas_ok = ok;
  op.call = call;
  op.ret = ret;
  return op;
}

KvOp unknown(KvOp op) {
  op.known = false;
  return op;
}

}  // namespace

TEST_CASE("checker accepts an empty history", "[lincheck]") {
  CHECK(lincheck::check_linearizable({}).linearizable);
}

TEST_CASE("checker accepts a sequential history that follows the model", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10),
                         get(1, "k", "a", 11, 20),
                         del(1, "k", 21, 30),
                         get(1, "k", std::nullopt, 31, 40),
                         cas(1, "k", std::nullopt, "b", true, 41, 50),
                         cas(1, "k", "a", "c", false, 51, 60),
                         get(1, "k", "b", 61, 70)};
  CHECK(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker accepts a read of either value during a concurrent write", "[lincheck]") {
  // put(b) overlaps both reads: the first may see the old value and the second the new one.
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), put(2, "k", "b", 20, 60),
                         get(3, "k", "a", 25, 30), get(3, "k", "b", 35, 40)};
  CHECK(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker rejects a stale read after a completed write", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), put(1, "k", "b", 20, 30),
                         get(2, "k", "a", 40, 50)};
  auto r = lincheck::check_linearizable(h);
  CHECK_FALSE(r.linearizable);
  CHECK(r.key == "k");
  CHECK_FALSE(r.explanation.empty());
}

TEST_CASE("checker rejects reads that go back in time", "[lincheck]") {
  // Once a reader saw b, a later read must not see a again (no new write in between).
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), put(2, "k", "b", 20, 100),
                         get(3, "k", "b", 30, 40), get(4, "k", "a", 50, 60)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker rejects a lost acknowledged write", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), get(2, "k", std::nullopt, 20, 30)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker rejects a read of a value that was never written", "[lincheck]") {
  // A write that failed is not in the history, so reading its value is an uncommitted read.
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), get(2, "k", "uncommitted", 20, 30)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker lets an unknown-outcome write take effect or not", "[lincheck]") {
  std::vector<KvOp> took = {put(1, "k", "a", 0, 10), unknown(put(2, "k", "b", 20, 0)),
                            get(3, "k", "b", 100, 110)};
  CHECK(lincheck::check_linearizable(took).linearizable);
  std::vector<KvOp> not_took = {put(1, "k", "a", 0, 10), unknown(put(2, "k", "b", 20, 0)),
                                get(3, "k", "a", 100, 110)};
  CHECK(lincheck::check_linearizable(not_took).linearizable);
}

TEST_CASE("checker rejects an unknown write that is seen and then unseen", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), unknown(put(2, "k", "b", 20, 0)),
                         get(3, "k", "b", 100, 110), get(3, "k", "a", 120, 130)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker rejects a compare-and-set that succeeded against the wrong value",
          "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), cas(2, "k", "x", "y", true, 20, 30)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker rejects two compare-and-sets that both won the same race", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", true, 20, 40),
                         cas(3, "k", "a", "c", true, 20, 40)};
  CHECK_FALSE(lincheck::check_linearizable(h).linearizable);
}

TEST_CASE("checker checks keys independently", "[lincheck]") {
  std::vector<KvOp> h = {put(1, "x", "1", 0, 10), put(1, "y", "2", 0, 10), get(2, "x", "1", 20, 30),
                         get(2, "y", std::nullopt, 20, 30)};
  auto r = lincheck::check_linearizable(h);
  CHECK_FALSE(r.linearizable);
  CHECK(r.key == "y");
}

TEST_CASE("checker handles a 10000-operation history quickly", "[lincheck]") {
  // 10 keys, overlapping operations on each key; the register takes effect at the call.
  std::vector<KvOp> h;
  std::uint64_t t = 0;
  std::map<std::string, std::optional<std::string>> value;
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "k" + std::to_string(i % 10);
    const std::uint64_t call = t;
    const std::uint64_t ret = t + 100;  // overlaps ~3 other operations on the same key
    t += 3;
    if (i % 3 == 0) {
      value[key] = std::to_string(i);
      h.push_back(put(static_cast<std::uint64_t>(i % 4), key, std::to_string(i), call, ret));
    } else {
      h.push_back(get(static_cast<std::uint64_t>(i % 4), key, value[key], call, ret));
    }
  }
  auto r = lincheck::check_linearizable(h, 50'000'000);
  CHECK(r.linearizable);
  CHECK_FALSE(r.timed_out);
}
