// The invariant checker's snapshot checks: it must notice a restored state machine that
// differs from the committed entries or goes back, and a log compacted past what was checked
// as committed; and it must accept a compacted log (never reading below its first index).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "sim/invariant_checker.h"
#include "sim/sim_failure.h"

namespace raft::sim {
namespace {

pb::Entry entry(Index index, Term term, const std::string& data) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

std::vector<pb::Entry> log_of(Index n) {
  std::vector<pb::Entry> out;
  for (Index i = 1; i <= n; ++i) out.push_back(entry(i, 1, "e" + std::to_string(i)));
  return out;
}

InvariantChecker make_checker() {
  return InvariantChecker({"n1", "n2"}, [] { return std::string(); });
}

// Node 0 durably commits `entries` (so the checker knows them as committed).
void commit_on_node0(InvariantChecker& checker, MemoryStorage& storage,
                     const std::vector<pb::Entry>& entries) {
  checker.before_append(0, false, storage, entries);
  REQUIRE(storage.append(entries).ok());
  pb::HardState hs;
  hs.set_term(1);
  hs.set_commit(entries.back().index());
  storage.set_hard_state(hs);
  checker.after_persist(0, storage);
}

pb::SnapshotMetadata metadata(Index index, Term term) {
  pb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  return m;
}

TEST_CASE("checker accepts a snapshot that restores the committed entries",
          "[sim][invariants][snapshot]") {
  InvariantChecker checker = make_checker();
  MemoryStorage s0, s1;
  commit_on_node0(checker, s0, log_of(5));
  s1.apply_snapshot(metadata(5, 1), "data");
  checker.on_restore(1, s1, metadata(5, 1), log_of(5));
  checker.after_persist(1, s1);
  // The follower goes on appending after the snapshot.
  checker.before_append(1, false, s1, {entry(6, 1, "e6")});
}

TEST_CASE("checker catches a restored snapshot that differs from the committed entries",
          "[sim][invariants][snapshot]") {
  InvariantChecker checker = make_checker();
  MemoryStorage s0, s1;
  commit_on_node0(checker, s0, log_of(5));
  std::vector<pb::Entry> restored = log_of(5);
  restored[2].set_data("other");
  s1.apply_snapshot(metadata(5, 1), "data");
  CHECK_THROWS_AS(checker.on_restore(1, s1, metadata(5, 1), restored), SimFailure);
}

TEST_CASE("checker catches a snapshot that takes a state machine back",
          "[sim][invariants][snapshot]") {
  InvariantChecker checker = make_checker();
  MemoryStorage s0;
  commit_on_node0(checker, s0, log_of(5));
  for (const pb::Entry& e : log_of(5)) checker.on_apply(0, s0, e);
  MemoryStorage s0_reset;
  s0_reset.apply_snapshot(metadata(3, 1), "data");
  CHECK_THROWS_AS(checker.on_restore(0, s0_reset, metadata(3, 1), log_of(3)), SimFailure);
}

TEST_CASE("checker catches entries compacted before they were checked as committed",
          "[sim][invariants][snapshot]") {
  InvariantChecker checker = make_checker();
  MemoryStorage s0;
  checker.before_append(0, false, s0, log_of(5));
  REQUIRE(s0.append(log_of(5)).ok());
  REQUIRE(s0.compact(3).ok());
  pb::HardState hs;
  hs.set_term(1);
  hs.set_commit(5);
  s0.set_hard_state(hs);
  CHECK_THROWS_AS(checker.after_persist(0, s0), SimFailure);
}

TEST_CASE("checker tracks the longest durable log", "[sim][invariants][snapshot]") {
  InvariantChecker checker = make_checker();
  MemoryStorage s0;
  commit_on_node0(checker, s0, log_of(8));
  CHECK(checker.max_log_length() == 8);
  REQUIRE(s0.create_snapshot(8, pb::Configuration(), "data").ok());
  REQUIRE(s0.compact(6).ok());
  checker.before_append(0, false, s0, {entry(9, 1, "e9")});
  REQUIRE(s0.append({entry(9, 1, "e9")}).ok());
  checker.after_persist(0, s0);
  CHECK(checker.max_log_length() == 8);
}

}  // namespace
}  // namespace raft::sim
