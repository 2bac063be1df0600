// Cluster: N raft::Raft nodes in this process on real loopback TCP (127.0.0.1, free ports
// below the kernel's ephemeral range, so a stopped node's port is not handed out to an
// outgoing connection before it restarts) with DurableStorage in a fresh temp directory (removed at
// the end), fast timings (heartbeat 20 ms, election timeout 200 ms) and a fixed random seed per
// node — the harness of the integration tests. Nodes can be stopped, restarted from their data
// directory (on the same address), and added; each incarnation gets a fresh TestStateMachine.
//
// Waiting: every wait polls with a short sleep up to a hard deadline and reports failure;
// nothing sleeps a fixed time and hopes.
//
// Threads: one test thread drives a Cluster; the nodes run their own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/test_state_machine.h"
#include "raft/file_system.h"
#include "raft/logger.h"
#include "raft/raft.h"

// REQUIRE that a Status (or the status() of a Result) is ok, printing it if not. For tests,
// which include catch.hpp.
#define REQUIRE_OK(expr)                                   \
  do {                                                     \
    const ::raft::Status require_ok_status_ = (expr);      \
    INFO(#expr << ": " << require_ok_status_.to_string()); \
    REQUIRE(require_ok_status_.ok());                      \
  } while (false)

namespace raft::integration {

using std::chrono::milliseconds;

// Polls `condition` every 2 ms until it holds (true) or `timeout` passes (false).
bool wait_until(const std::function<bool()>& condition, milliseconds timeout);

// The value of `future` if it completes within `timeout`, else nullopt.
template <typename T>
std::optional<T> get_within(std::future<T>& future, milliseconds timeout) {
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// Applies set_command(test_key(i), test_value(i)) for i in [first, first + count) on `raft`,
// with at most `window` commands in flight, and returns the results in order. A future that
// does not complete within `timeout` of its apply counts as kTimeout.
std::vector<Result<ApplyResult>> apply_pipelined(Raft& raft, int first, int count, int window,
                                                 milliseconds timeout);

struct ClusterOptions {
  int founders = 3;  // nodes n1..nN bootstrapped together by start()
  milliseconds heartbeat_interval{20};
  milliseconds election_timeout{200};
  std::uint64_t snapshot_threshold = 8192;
  std::uint64_t trailing_logs = 10240;
  std::uint64_t max_uncommitted_bytes = 64ull << 20;
  std::string cluster_id = "integration";
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();  // shuts every node down and removes the temp directory
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Makes node i keep its DurableStorage on `fs` (borrowed; must outlive the cluster) and
  // use a TCP transport from make_tcp_transport (Raft::open's storage + transport overload).
  // Call before the node first starts.
  void use_file_system(int i, FileSystem* fs);

  // Opens the founders, then bootstraps each with the configuration of all of them (their
  // actual addresses).
  Status start();
  // Adds a fresh node (not bootstrapped: it waits to be added by the cluster), opens it and
  // returns its index. Its id is "n<index + 1>".
  Result<int> add_node();
  // The same, listening on `address` (a stopped node's, say) instead of a port of its own.
  Result<int> add_node_at(const std::string& address);
  // Shuts node i down and drops its Raft (its state machine stays for inspection).
  void stop(int i);
  // Opens node i again from its data directory on its old address, with a fresh state
  // machine.
  Status restart(int i);

  int size() const { return static_cast<int>(nodes_.size()); }
  bool running(int i) const { return nodes_[i]->raft != nullptr; }
  const NodeId& id(int i) const { return nodes_[i]->id; }
  const std::string& address(int i) const { return nodes_[i]->address; }
  const std::string& data_dir(int i) const { return nodes_[i]->dir; }
  Raft& raft(int i) { return *nodes_[i]->raft; }
  TestStateMachine& fsm(int i) { return *nodes_[i]->fsm; }
  // The index of the node with this id, -1 if none.
  int index_of(const NodeId& id) const;

  // Waits until exactly one running node is leader and returns its index (-1 on timeout).
  int wait_for_leader(milliseconds timeout = milliseconds(5000));
  // A follower of `leader` (node 1 if the leader is node 0, else node 0), once it knows
  // `leader` as its leader; -1 if it does not within `timeout`.
  int wait_for_follower_of(int leader, milliseconds timeout = milliseconds(3000));
  // Waits until the running nodes in `nodes` (empty: every running node) have applied the
  // same index, at least `at_least`, and hold equal maps.
  bool wait_converged(Index at_least, milliseconds timeout = milliseconds(10000),
                      std::vector<int> nodes = {});
  // Applies on the current leader, retrying while the command was surely not applied
  // (kNotLeader, kUnavailable, kLeadershipLost, no leader yet) until `timeout`.
  Result<ApplyResult> apply(const std::string& command, milliseconds timeout = milliseconds(5000));

  // Every broken apply rule seen by any state machine of any incarnation, and any
  // disagreement between nodes about an index's entry. Empty when all is well.
  std::vector<std::string> violations() const;

 private:
  struct Node {
    NodeId id;
    std::string dir;
    std::string address;  // "127.0.0.1:<port>" once first opened
    std::uint64_t seed = 0;
    FileSystem* fs = nullptr;  // null: real files through Raft::open(options, fsm)
    std::unique_ptr<TestStateMachine> fsm;
    std::unique_ptr<Raft> raft;  // null while stopped
    // State machines of earlier incarnations, kept for violations().
    std::vector<std::unique_ptr<TestStateMachine>> retired;
  };

  Node& new_node();
  Status open(Node& node);

  const ClusterOptions options_;
  std::string root_;  // the temp directory
  std::unique_ptr<Logger> logger_;
  AppliedHistory history_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace raft::integration
