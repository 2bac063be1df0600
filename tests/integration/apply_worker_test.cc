// Integration: the runtime's apply worker on its own (real thread, real storage for its
// snapshot worker), for the proposal bookkeeping the Raft facade cannot reach on demand.
#include "runtime/apply_worker.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "integration/test_state_machine.h"
#include "raft/durable_storage.h"
#include "raft/file_system.h"
#include "raft/logger.h"
#include "runtime/snapshot_worker.h"

namespace raft::integration {
namespace {

using Clock = std::chrono::steady_clock;

TEST_CASE(
    "a second proposal at an index answers the first with kLeadershipLost and frees its "
    "bytes") {
  std::string dir = (std::filesystem::temp_directory_path() / "libraft-apply-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  {
    auto storage = DurableStorage::open(posix_file_system(), dir);
    REQUIRE(storage.ok());
    TestStateMachine fsm("n1", nullptr);
    runtime::SnapshotWorker snapshots(**storage, null_logger(), 0, [](const SnapshotMeta&) {});
    runtime::ApplyWorker apply(fsm, null_logger(), snapshots, {}, 0, 1 << 20, [](Status) {});
    apply.start();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    std::optional<Result<ApplyResult>> first;
    std::optional<Result<ApplyResult>> second;
    // Term 2's proposal at index 1, never committed; then, leading again in term 4 with its
    // log cut back, the node proposes another command at index 1.
    apply.register_proposal(1, 2, 100, deadline, [&](Result<ApplyResult> r) { first = r; });
    CHECK(apply.proposed_bytes() == 100);
    apply.register_proposal(1, 4, 30, deadline, [&](Result<ApplyResult> r) { second = r; });
    REQUIRE(first.has_value());
    CHECK(first->status().code() == ErrorCode::kLeadershipLost);
    CHECK_FALSE(second.has_value());
    CHECK(apply.proposed_bytes() == 30);
    // The entry term 4 wrote is committed and applied: the second proposal completes.
    pb::Entry entry;
    entry.set_index(1);
    entry.set_term(4);
    entry.set_type(pb::ENTRY_NORMAL);
    entry.set_data(set_command("k", "v"));
    apply.enqueue_entries({entry});
    apply.stop();
    REQUIRE(second.has_value());
    REQUIRE(second->ok());
    CHECK((*second)->index == 1);
    CHECK((*second)->term == 4);
    CHECK(apply.proposed_bytes() == 0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace raft::integration
