// Integration: the runtime's apply worker on its own (real thread, real storage for its
// snapshot worker), for the proposal bookkeeping the Raft facade cannot reach on demand.
#include "runtime/apply_worker.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "integration/test_state_machine.h"
#include "raft/durable_storage.h"
#include "raft/file_system.h"
#include "raft/logger.h"
#include "runtime/snapshot_worker.h"
#include "storage/log_test_support.h"

namespace raft::integration {
namespace {

using Clock = std::chrono::steady_clock;

// Term 2's proposal P at index 1 is still pending when the node, leading again in term 4 with
// its log cut back, proposes Q at index 1. Either may end up committed (P through another
// leader that holds it), so neither is answered until the entry at 1 is applied.
struct TwoProposalsAtOneIndex {
  explicit TwoProposalsAtOneIndex(const std::string& dir_path)
      : storage(std::move(DurableStorage::open(posix_file_system(), dir_path)).value()),
        fsm("n1", nullptr),
        snapshots(*storage, null_logger(), 0, [](const SnapshotMeta&) {}),
        apply(fsm, null_logger(), snapshots, {}, 0, 1 << 20, [](Status) {}) {
    apply.start();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    apply.register_proposal(1, 2, 100, deadline, [this](Result<ApplyResult> r) { old_one = r; });
    apply.register_proposal(1, 4, 30, deadline, [this](Result<ApplyResult> r) { new_one = r; });
  }
  // Applies the entry at index 1 of `term` and stops the worker (which completes everything).
  void apply_entry_of_term(Term term) {
    pb::Entry entry;
    entry.set_index(1);
    entry.set_term(term);
    entry.set_type(pb::ENTRY_NORMAL);
    entry.set_data(set_command("k", "v"));
    apply.enqueue_entries({entry});
    apply.stop();
  }

  std::unique_ptr<DurableStorage> storage;
  TestStateMachine fsm;
  runtime::SnapshotWorker snapshots;
  runtime::ApplyWorker apply;
  std::optional<Result<ApplyResult>> old_one;
  std::optional<Result<ApplyResult>> new_one;
};

TEST_CASE("two proposals at one index both wait; the new term's entry completes the new one") {
  raft::testing::TempDir dir;
  TwoProposalsAtOneIndex t(dir.path());
  CHECK_FALSE(t.old_one.has_value());  // neither is answered early
  CHECK_FALSE(t.new_one.has_value());
  CHECK(t.apply.proposed_bytes() == 130);
  t.apply_entry_of_term(4);
  REQUIRE(t.new_one.has_value());
  REQUIRE(t.new_one->ok());
  CHECK((*t.new_one)->term == 4);
  REQUIRE(t.old_one.has_value());
  CHECK(t.old_one->status().code() == ErrorCode::kLeadershipLost);
  CHECK(t.apply.proposed_bytes() == 0);
}

TEST_CASE("two proposals at one index both wait; the old term's entry completes the old one") {
  raft::testing::TempDir dir;
  TwoProposalsAtOneIndex t(dir.path());
  t.apply_entry_of_term(2);  // another leader held term 2's entry and committed it
  REQUIRE(t.old_one.has_value());
  REQUIRE(t.old_one->ok());
  CHECK((*t.old_one)->term == 2);
  REQUIRE(t.new_one.has_value());
  CHECK(t.new_one->status().code() == ErrorCode::kLeadershipLost);
  CHECK(t.apply.proposed_bytes() == 0);
}

}  // namespace
}  // namespace raft::integration
