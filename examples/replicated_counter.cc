// replicated_counter: the "hello world" of the raft::Raft runtime. Three nodes in one
// process talk over real loopback TCP; each has its own data directory and its own copy of
// a counter. The command "+N" adds N; its response is the new value. The program
// bootstraps the cluster, waits for a leader, applies a few increments through the leader,
// reads every node's counter (they agree), prints the leader's stats and shuts down.
// Exit status 0 when every counter ends at 15.
#include <raft/raft.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// The application's state machine. The runtime calls apply() once for every committed log
// entry, in order, on its apply thread; snapshot() and restore() let it compact the log.
class Counter final : public raft::StateMachine {
 public:
  std::string apply(const raft::pb::Entry& entry) override {
    // Only ENTRY_NORMAL entries are commands (the others are no-ops and configurations).
    if (entry.type() != raft::pb::ENTRY_NORMAL) return "";
    value_ += std::stoll(entry.data());  // "+N"
    return std::to_string(value_.load());
  }
  // The counter keeps nothing on disk: at start the runtime replays the log into it.
  raft::Index last_applied() const override { return 0; }
  raft::Result<std::unique_ptr<raft::StateMachineSnapshot>> snapshot() override {
    return std::unique_ptr<raft::StateMachineSnapshot>(new Snapshot(value_.load()));
  }
  raft::Status restore(const raft::pb::SnapshotMetadata&, raft::SnapshotSource& source) override {
    std::string data, chunk;
    do {
      if (raft::Status s = source.read(4096, &chunk); !s.ok()) return s;
      data += chunk;
    } while (!chunk.empty());
    value_ = std::stoll(data);
    return raft::Status();
  }
  long long value() const { return value_.load(); }

 private:
  // A snapshot is a point-in-time copy, written out on another thread.
  struct Snapshot final : raft::StateMachineSnapshot {
    explicit Snapshot(long long v) : value(v) {}
    raft::Status write_to(raft::SnapshotSink& sink) override {
      return sink.write(std::to_string(value));
    }
    long long value;
  };
  std::atomic<long long> value_{0};
};

int fail(const char* what, const raft::Status& status) {
  std::fprintf(stderr, "replicated_counter: %s: %s\n", what, status.to_string().c_str());
  return 1;
}

int main() {
  std::string root = (std::filesystem::temp_directory_path() / "counter-XXXXXX").string();
  if (::mkdtemp(root.data()) == nullptr) return 1;

  // 1. Open three nodes. The state machines must outlive the nodes.
  std::vector<std::unique_ptr<Counter>> counters;
  std::vector<std::unique_ptr<raft::Raft>> nodes;
  for (int i = 1; i <= 3; ++i) {
    raft::RaftOptions options;
    options.id = "n" + std::to_string(i);
    options.listen_address = "127.0.0.1:0";  // any free port: see local_address()
    options.data_dir = root + "/" + options.id;
    options.heartbeat_interval = 50ms;
    options.election_timeout = 500ms;
    counters.push_back(std::make_unique<Counter>());
    auto node = raft::Raft::open(options, *counters.back());
    if (!node.ok()) return fail("open", node.status());
    nodes.push_back(std::move(node).value());
  }

  // 2. Bootstrap: every founding node gets the same configuration, once, on first start.
  raft::pb::Configuration configuration;
  for (int i = 0; i < 3; ++i) {
    raft::pb::Server* server = configuration.add_servers();
    server->set_id("n" + std::to_string(i + 1));
    server->set_address(nodes[i]->local_address());
    server->set_suffrage(raft::pb::VOTER);
  }
  for (auto& node : nodes) {
    if (raft::Status s = node->bootstrap_cluster(configuration); !s.ok()) {
      return fail("bootstrap", s);
    }
  }

  // 3. Wait (at most 5 s) for the election.
  raft::Raft* leader = nullptr;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; leader == nullptr;) {
    for (auto& node : nodes) {
      if (node->state() == raft::RaftState::kLeader) leader = node.get();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail("election", raft::Status(raft::ErrorCode::kTimeout, "no leader after 5 s"));
    }
    std::this_thread::sleep_for(10ms);
  }
  std::printf("leader: %s at %s\n", leader->leader().id.c_str(), leader->local_address().c_str());

  // 4. Apply through the leader. The future completes once the leader applied the entry;
  //    it carries the state machine's response. (A follower answers kNotLeader, naming the
  //    leader in status().leader_hint().)
  for (int n = 1; n <= 5; ++n) {
    raft::Result<raft::ApplyResult> r = leader->apply("+" + std::to_string(n), 2s).get();
    if (!r.ok()) return fail("apply", r.status());
    std::printf("+%d -> %s (log index %llu)\n", n, r->response.c_str(),
                static_cast<unsigned long long>(r->index));
  }

  // 5. Read every node's counter. read_index() returns once this node has applied everything
  //    acknowledged before the call, so even a follower's copy is up to date.
  bool agree = true;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    raft::Result<raft::Index> index = nodes[i]->read_index(2s).get();
    if (!index.ok()) return fail("read_index", index.status());
    std::printf("n%zu (%s): counter = %lld\n", i + 1,
                std::string(raft::to_string(nodes[i]->state())).c_str(), counters[i]->value());
    agree = agree && counters[i]->value() == 15;
  }

  // 6. The leader's view, hashicorp/raft style.
  for (const auto& [key, value] : leader->stats()) {
    std::printf("  %-27s %s\n", key.c_str(), value.c_str());
  }

  // 7. Shut down: pending calls complete, threads are joined, sockets closed.
  for (auto& node : nodes) node->shutdown();
  std::filesystem::remove_all(root);
  return agree ? 0 : 1;
}
