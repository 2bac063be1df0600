// Integration: a follower's forwarded ReadIndex reads against a scripted leader. The node runs
// the real runtime and storage; its transport only records what the node sends and lets the
// test deliver what a leader "n1" would, so the test decides which answer arrives when.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "integration/cluster.h"
#include "integration/test_state_machine.h"
#include "raft/durable_storage.h"
#include "raft/file_system.h"
#include "raft/raft.h"
#include "raft/transport.h"
#include "storage/log_test_support.h"

namespace raft::integration {
namespace {

using std::chrono::milliseconds;

// Records every message sent; deliver() hands a message to the node as a peer's would be.
// Shared with the test, which keeps it after the node took its own handle.
class ScriptedTransport final : public Transport {
 public:
  struct Shared {
    std::mutex mu;
    std::vector<pb::Message> sent;
    MessageHandler handler;
  };
  explicit ScriptedTransport(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  Status start(const std::string&, MessageHandler handler) override {
    std::lock_guard lock(shared_->mu);
    shared_->handler = std::move(handler);
    return Status::ok_status();
  }
  std::string local_address() const override { return "127.0.0.1:2"; }
  Status send(const NodeId&, const std::string&, pb::Message message) override {
    std::lock_guard lock(shared_->mu);
    shared_->sent.push_back(std::move(message));
    return Status::ok_status();
  }
  void stop() override {
    std::lock_guard lock(shared_->mu);
    shared_->handler = nullptr;
  }

 private:
  std::shared_ptr<Shared> shared_;
};

pb::Configuration two_voters() {
  pb::Configuration c;
  for (const char* id : {"n1", "n2"}) {
    pb::Server* s = c.add_servers();
    s->set_id(id);
    s->set_address(std::string(id) == "n1" ? "127.0.0.1:1" : "127.0.0.1:2");
    s->set_suffrage(pb::VOTER);
  }
  return c;
}

// Node n2, follower of the scripted n1, on `dir`.
struct Follower {
  Follower(const std::string& dir, bool bootstrap)
      : shared(std::make_shared<ScriptedTransport::Shared>()), fsm("n2", nullptr) {
    RaftOptions options;
    options.id = "n2";
    options.listen_address = "127.0.0.1:2";
    options.cluster_id = "integration";
    options.heartbeat_interval = milliseconds(1000);
    options.election_timeout = milliseconds(60'000);  // the scripted n1 stays its leader
    auto storage = DurableStorage::open(posix_file_system(), dir);
    REQUIRE(storage.ok());
    auto opened = Raft::open(options, fsm, std::move(storage).value(),
                             std::make_unique<ScriptedTransport>(shared));
    REQUIRE(opened.ok());
    raft = std::move(opened).value();
    if (bootstrap) REQUIRE(raft->bootstrap_cluster(two_voters()).ok());
  }

  void deliver(const pb::Message& m) {
    ScriptedTransport::MessageHandler handler;
    {
      std::lock_guard lock(shared->mu);
      handler = shared->handler;
    }
    REQUIRE(handler);
    handler(m);
  }

  // n1's AppendEntries at term 1: `entries` after (prev, 1), commit `commit`.
  void append_from_leader(Index prev, const std::vector<pb::Entry>& entries, Index commit) {
    pb::Message m;
    m.set_type(pb::MSG_APPEND);
    m.set_from("n1");
    m.set_to("n2");
    m.set_term(1);
    m.set_index(prev);
    m.set_log_term(1);
    for (const pb::Entry& e : entries) *m.add_entries() = e;
    m.set_commit(commit);
    deliver(m);
  }

  // The context of the next forwarded read request n2 sends (waits for it).
  std::string forwarded_read_context() {
    std::string context;
    REQUIRE(wait_until(
        [&] {
          std::lock_guard lock(shared->mu);
          for (const pb::Message& m : shared->sent) {
            if (m.type() == pb::MSG_READ_INDEX) {
              context = m.context();
              return true;
            }
          }
          return false;
        },
        milliseconds(5000)));
    return context;
  }

  void answer_read(const std::string& context, Index index) {
    pb::Message m;
    m.set_type(pb::MSG_READ_INDEX_RESP);
    m.set_from("n1");
    m.set_to("n2");
    m.set_term(1);
    m.set_context(context);
    m.set_index(index);
    deliver(m);
  }

  std::shared_ptr<ScriptedTransport::Shared> shared;
  TestStateMachine fsm;
  std::unique_ptr<Raft> raft;
};

TEST_CASE("an answer to a read of a node's earlier run does not complete a read after restart") {
  raft::testing::TempDir dir;
  std::string old_context;
  {
    Follower first(dir.path(), /*bootstrap=*/true);
    first.append_from_leader(1, {}, 1);  // n1 leads term 1
    std::future<Result<Index>> read = first.raft->read_index(milliseconds(60'000));
    old_context = first.forwarded_read_context();
    first.raft->shutdown();  // the read is never answered in this run
    REQUIRE(read.wait_for(milliseconds(5000)) == std::future_status::ready);
    CHECK(read.get().status().code() == ErrorCode::kShutdown);
  }
  Follower second(dir.path(), /*bootstrap=*/false);
  pb::Entry two;
  two.set_index(2);
  two.set_term(1);
  two.set_type(pb::ENTRY_NORMAL);
  two.set_data(set_command("k", "v"));
  second.append_from_leader(1, {two}, 2);  // a write committed at 2
  std::future<Result<Index>> read = second.raft->read_index(milliseconds(60'000));
  const std::string new_context = second.forwarded_read_context();
  CHECK(new_context != old_context);
  // The leader's answer to the old request (index 1, from before the write) arrives first,
  // then the answer to the new one.
  second.answer_read(old_context, 1);
  second.answer_read(new_context, 2);
  REQUIRE(read.wait_for(milliseconds(5000)) == std::future_status::ready);
  Result<Index> index = read.get();
  REQUIRE(index.ok());
  CHECK(*index == 2);
}

}  // namespace
}  // namespace raft::integration
