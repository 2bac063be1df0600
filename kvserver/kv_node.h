// KvNode: one kvserver node's replicated half — the LevelDB state machine and the raft::Raft
// that drives it — and its life: first start (bootstrap a one-node cluster, or join one with
// --join), restarts, the switch to another cluster, and the graceful stop.
//
// Data directory: <data>/IDENTITY (node_identity.h), <data>/raft (libraft's log, stable store
// and snapshots), <data>/kv (the LevelDB state machine).
//
// Switching clusters. The seed example starts every node alone (each bootstraps a one-node
// cluster) and then joins nodes to the first one. Merging two clusters' logs would be unsafe
// (both have an entry 1 of term 1 with different contents), so each bootstrap draws a random
// cluster id and the transport refuses peers of another cluster. When a leader of cluster A
// dials this node under this node's own id, and this node is the only member of its cluster
// and holds no user data (or has joined nothing yet), it gives up its cluster: it stops Raft,
// deletes its Raft and LevelDB state, records cluster A and starts again empty, to be caught
// up by A's leader. The leader meanwhile is told to retry (RaftOptions::on_foreign_cluster).
// A node holding user data never switches; the join then fails with 409.
//
// Threads: instance() and the accessors are thread-safe. The switch runs on its own thread,
// the --join retries on another; stop() joins both.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kvserver/config.h"
#include "kvserver/kv_state_machine.h"
#include "raft/logger.h"
#include "raft/raft.h"
#include "raft/status.h"

namespace kv {

class KvNode {
 public:
  // The state machine and the Raft over it. Raft borrows the state machine; the destructor
  // shuts Raft down first. Callbacks given to Raft must not hold an Instance (the last
  // reference would then be dropped on a Raft thread); they may hold the state machine.
  struct Instance {
    ~Instance();
    std::shared_ptr<KvStateMachine> fsm;
    std::unique_ptr<raft::Raft> raft;
    std::string cluster_id;
  };

  // Checks the data directory (creating it; refusing one that belongs to another node id),
  // opens the state machine and Raft (the Raft port must be free), then bootstraps a new
  // cluster or starts joining one. Errors are one line, for the operator.
  static raft::Result<std::unique_ptr<KvNode>> start(const Config& config, raft::Logger& logger);

  ~KvNode();  // stop()
  KvNode(const KvNode&) = delete;
  KvNode& operator=(const KvNode&) = delete;

  // The live instance; null while the node switches clusters (answer 503) or after stop().
  std::shared_ptr<Instance> instance() const;
  const Config& config() const { return config_; }
  std::string cluster_id() const;
  // True while the node has asked a cluster to add it and is not a voter yet.
  bool joining() const { return joining_.load(); }

  // Graceful stop: stops retrying the join, hands leadership to another voter if this node
  // leads, shuts Raft down (pending requests complete) and closes the store. Idempotent.
  void stop();

 private:
  KvNode(Config config, raft::Logger& logger);

  raft::Result<std::shared_ptr<Instance>> open_instance(const std::string& cluster_id);
  bool on_foreign_cluster(const raft::ForeignClusterContact& contact);  // transport thread
  void switch_cluster(std::string cluster_id);                          // switch thread
  static raft::Status discard_state(const std::filesystem::path& dir);  // switch thread
  void join_loop();                                                     // join thread
  // Whether this node is a voter in its newest configuration.
  bool is_voter(const Instance& instance) const;

  const Config config_;
  raft::Logger& logger_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Instance> instance_;
  std::string cluster_id_;
  bool stopping_ = false;
  bool switching_ = false;
  std::string switch_target_;
  std::thread switch_thread_;
  std::thread join_thread_;
  std::atomic<bool> joining_{false};
};

}  // namespace kv
