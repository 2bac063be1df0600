#include "kvserver/kv_node.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "kv/kv.pb.h"
#include "kvserver/node_identity.h"

namespace kv {

namespace fs = std::filesystem;
using raft::ErrorCode;
using raft::LogLevel;
using raft::Result;
using raft::Status;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kJoinAttemptTimeout{10'000};
constexpr milliseconds kJoinRetryDelay{1'000};
constexpr milliseconds kTransferTimeout{3'000};
constexpr int kMaxRedirects = 5;

}  // namespace

KvNode::Instance::~Instance() {
  if (raft) raft->shutdown();
  raft.reset();  // before the state machine it borrows
}

KvNode::KvNode(Config config, raft::Logger& logger) : config_(std::move(config)), logger_(logger) {}

KvNode::~KvNode() { stop(); }

namespace {

constexpr char kDiscardSuffix[] = ".discarded";

// Removes what discard_state() renamed away and a crash left behind.
Status remove_discarded(const fs::path& dir) {
  std::error_code ec;
  bool removed = false;
  for (const char* name : {"kv", "raft"}) {
    const fs::path gone = dir / (std::string(name) + kDiscardSuffix);
    if (!fs::exists(gone, ec)) continue;
    fs::remove_all(gone, ec);
    if (ec) return Status(ErrorCode::kIoError, "removing " + gone.string() + ": " + ec.message());
    removed = true;
  }
  return removed ? sync_directory(dir) : Status::ok_status();
}

}  // namespace

// Gives up this node's Raft and LevelDB state: kv/ then raft/ are renamed away (each one
// atomic step), the directory is synced, then they are removed. A crash part-way leaves kv/
// gone with raft/ whole (the state machine is rebuilt from the log), or both gone (a fresh
// node of the old cluster, alone as it was), never half a database; start() removes the
// renamed leftovers.
Status KvNode::discard_state(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"kv", "raft"}) {
    const fs::path from = dir / name;
    const fs::path to = dir / (std::string(name) + kDiscardSuffix);
    fs::remove_all(to, ec);
    if (!ec && fs::exists(from, ec)) fs::rename(from, to, ec);
    if (ec) return Status(ErrorCode::kIoError, "discarding " + from.string() + ": " + ec.message());
  }
  if (Status s = sync_directory(dir); !s.ok()) return s;
  return remove_discarded(dir);
}

Result<std::unique_ptr<KvNode>> KvNode::start(const Config& config, raft::Logger& logger) {
  const fs::path dir(config.data_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status(ErrorCode::kIoError,
                  fmt::format("cannot create data directory {}: {}", dir.string(), ec.message()));
  }
  if (Status s = remove_discarded(dir); !s.ok()) return s;
  auto identity = read_identity(dir);
  if (!identity.ok()) return identity.status();
  NodeIdentity id = identity->value_or(NodeIdentity{config.id, ""});
  if (id.node_id != config.id) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("data directory {} belongs to node '{}', not '{}' (its IDENTITY "
                              "file says so): pass --id {} or another --data-dir",
                              dir.string(), id.node_id, config.id, id.node_id));
  }
  const bool fresh = !identity->has_value();
  if (id.cluster_id.empty() && config.join.empty()) {
    id.cluster_id = new_cluster_id();
    id.founded = true;
  }
  if (fresh || id != **identity) {
    if (Status s = write_identity(dir, id); !s.ok()) {
      return Status(s.code(), fmt::format("data directory {} is not writable: {}", dir.string(),
                                          s.message()));
    }
  }

  std::unique_ptr<KvNode> node(new KvNode(config, logger));
  auto instance = node->open_instance(id.cluster_id);
  if (!instance.ok()) return instance.status();
  node->instance_ = *instance;
  node->cluster_id_ = id.cluster_id;

  raft::Raft& raft = *(*instance)->raft;
  if (raft.configuration().configuration.servers_size() == 0) {
    if (config.join.empty() && !id.founded) {
      // It joined this cluster (IDENTITY says so) and its leader has sent it nothing yet: the
      // leader still counts it a member and will. Founding a one-node cluster here, under the
      // cluster's own id, would make a second leader its peers cannot tell from theirs.
      logger.log(LogLevel::kWarn,
                 fmt::format("{}: joined cluster {} but holds none of its log yet; waiting for its "
                             "leader (no --join given, and this node does not bootstrap a "
                             "cluster it did not found)",
                             config.id, id.cluster_id));
    } else if (config.join.empty()) {
      raft::pb::Configuration founding;
      raft::pb::Server* self = founding.add_servers();
      self->set_id(config.id);
      self->set_address(config.raft_address());
      self->set_suffrage(raft::pb::VOTER);
      self->set_metadata(config.http_address());
      if (Status s = raft.bootstrap_cluster(founding); !s.ok()) return s;
      logger.log(LogLevel::kInfo, fmt::format("{}: bootstrapped a new one-node cluster {}",
                                              config.id, id.cluster_id));
    } else {
      node->joining_ = true;
      node->join_thread_ = std::thread([n = node.get()] { n->join_loop(); });
    }
  }
  return node;
}

Result<std::shared_ptr<KvNode::Instance>> KvNode::open_instance(const std::string& cluster_id) {
  const fs::path dir(config_.data_dir);
  auto fsm = KvStateMachine::open(dir / "kv");
  if (!fsm.ok()) return fsm.status();
  auto instance = std::make_shared<Instance>();
  instance->fsm = std::move(fsm).value();
  instance->cluster_id = cluster_id;

  raft::RaftOptions options;
  options.id = config_.id;
  // The transport listens where it advertises itself (peers learn the address from its
  // handshake), so --raft-addr must be an address of this machine.
  options.listen_address = config_.raft_address();
  options.data_dir = (dir / "raft").string();
  options.cluster_id = cluster_id;
  options.heartbeat_interval = milliseconds(config_.heartbeat_ms);
  options.election_timeout = milliseconds(config_.election_timeout_ms);
  options.snapshot_threshold = config_.snapshot_threshold;
  options.trailing_logs = config_.trailing_logs;
  options.logger = &logger_;
  options.on_foreign_cluster = [this](const raft::ForeignClusterContact& contact) {
    return on_foreign_cluster(contact);
  };
  auto raft = raft::Raft::open(options, *instance->fsm);
  if (!raft.ok()) {
    return Status(raft.status().code(), fmt::format("cannot start Raft on port {}: {}",
                                                    config_.raft_port, raft.status().message()));
  }
  instance->raft = std::move(raft).value();

  // A new leader records its HTTP address in the state machine, so that every node can
  // redirect clients to it.
  raft::Raft* raw = instance->raft.get();
  std::shared_ptr<KvStateMachine> fsm_ref = instance->fsm;
  raw->set_observer([this, raw, fsm_ref](const raft::RaftEvent& event) {
    if (event.kind != raft::RaftEvent::Kind::kStateChanged ||
        event.state != raft::RaftState::kLeader) {
      return;
    }
    auto stored = fsm_ref->member_address(config_.id);
    if (stored.ok() && *stored == std::optional<std::string>(config_.http_address())) return;
    pb::Command command;
    command.mutable_set_member()->set_node_id(config_.id);
    command.mutable_set_member()->set_http_address(config_.http_address());
    raw->apply(command.SerializeAsString(), milliseconds(config_.request_timeout_ms),
               [this](Result<raft::ApplyResult> r) {
                 if (!r.ok()) {
                   logger_.log(LogLevel::kWarn,
                               fmt::format("{}: recording this node's HTTP address failed: {} "
                                           "(retried at the next election)",
                                           config_.id, r.status().to_string()));
                 }
               });
  });
  return instance;
}

std::shared_ptr<KvNode::Instance> KvNode::instance() const {
  std::lock_guard lock(mu_);
  return instance_;
}

std::string KvNode::cluster_id() const {
  std::lock_guard lock(mu_);
  return cluster_id_;
}

bool KvNode::is_voter(const Instance& instance) const {
  const raft::ConfigurationInfo info = instance.raft->configuration();
  for (const auto& server : info.configuration.servers()) {
    if (server.id() == config_.id) return server.suffrage() == raft::pb::VOTER;
  }
  return false;
}

// Whether a node may give up its cluster: it is alone in it (or in none) and holds no data.
static bool may_leave(const KvNode::Instance& instance, const std::string& self) {
  const raft::ConfigurationInfo info = instance.raft->configuration();
  const auto& servers = info.configuration.servers();
  const bool alone = servers.empty() || (servers.size() == 1 && servers[0].id() == self);
  auto data = instance.fsm->has_user_data();
  return alone && data.ok() && !*data;
}

bool KvNode::on_foreign_cluster(const raft::ForeignClusterContact& contact) {
  std::lock_guard lock(mu_);
  if (stopping_ || contact.cluster_id.empty()) return false;
  if (switching_) return contact.cluster_id == switch_target_;
  if (!instance_ || !may_leave(*instance_, config_.id)) {
    logger_.log(LogLevel::kWarn,
                fmt::format("{}: '{}' of cluster {} asks this node to join its cluster; refused: "
                            "this node is in cluster {} with other members or data",
                            config_.id, contact.from_id, contact.cluster_id, cluster_id_));
    return false;
  }
  logger_.log(LogLevel::kInfo,
              fmt::format("{}: '{}' ({}) of cluster {} is adding this node; leaving the empty "
                          "one-node cluster {} to join it",
                          config_.id, contact.from_id, contact.from_address, contact.cluster_id,
                          cluster_id_));
  switching_ = true;
  switch_target_ = contact.cluster_id;
  if (switch_thread_.joinable()) switch_thread_.join();  // a finished earlier switch
  switch_thread_ = std::thread([this, target = contact.cluster_id] { switch_cluster(target); });
  return true;
}

void KvNode::switch_cluster(std::string target) {
  std::shared_ptr<Instance> old;
  {
    std::lock_guard lock(mu_);
    old.swap(instance_);  // requests now answer 503 until the new instance is in place
  }
  old->raft->shutdown();
  // Nothing may have been written between the check and the shutdown.
  const bool leave = may_leave(*old, config_.id);
  // Wait for requests still holding the old instance or its state machine to let go (they
  // completed with kShutdown above), so that its files can be removed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::weak_ptr<KvStateMachine> fsm = old->fsm;
  old.reset();
  while (!fsm.expired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::string cluster;
  {
    std::lock_guard lock(mu_);
    cluster = leave && fsm.expired() ? target : cluster_id_;
  }
  if (cluster == target) {
    const fs::path dir(config_.data_dir);
    Status s = discard_state(dir);
    if (s.ok()) s = write_identity(dir, NodeIdentity{config_.id, target, /*founded=*/false});
    if (!s.ok()) {
      logger_.log(LogLevel::kError, fmt::format("{}: switching to cluster {} failed: {}",
                                                config_.id, target, s.to_string()));
      std::_Exit(1);
    }
  } else {
    logger_.log(LogLevel::kWarn, fmt::format("{}: not leaving cluster {}: data was written "
                                             "meanwhile",
                                             config_.id, cluster));
  }
  auto fresh = open_instance(cluster);
  if (!fresh.ok()) {
    logger_.log(LogLevel::kError, fmt::format("{}: restarting Raft failed: {}", config_.id,
                                              fresh.status().to_string()));
    std::_Exit(1);
  }
  std::lock_guard lock(mu_);
  instance_ = *fresh;
  cluster_id_ = cluster;
  switching_ = false;
  if (cluster == target) {
    logger_.log(LogLevel::kInfo,
                fmt::format("{}: now in cluster {}, waiting for its leader", config_.id, target));
  }
}

void KvNode::join_loop() {
  nlohmann::json body = {{"node_id", config_.id}, {"raft_address", config_.raft_address()}};
  const std::string payload = body.dump();
  std::size_t next = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      if (instance_ && is_voter(*instance_)) break;
    }
    const std::string& address = config_.join[next++ % config_.join.size()];
    auto response = http::request_following_redirects(address, "POST", "/raft/join", payload,
                                                      kJoinAttemptTimeout, kMaxRedirects);
    const bool added = response.ok() && response->status == 200;
    const std::string outcome = response.ok()
                                    ? fmt::format("{} {}", response->status, response->body)
                                    : response.status().to_string();
    if (added) {
      logger_.log(LogLevel::kInfo,
                  fmt::format("{}: added to the cluster via {}", config_.id, address));
      break;
    }
    logger_.log(LogLevel::kWarn, fmt::format("{}: joining via {} failed: {}; retrying", config_.id,
                                             address, outcome));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kJoinRetryDelay, [this] { return stopping_; });
  }
  joining_ = false;
}

void KvNode::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !instance_ && !switch_thread_.joinable() && !join_thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (join_thread_.joinable()) join_thread_.join();
  if (switch_thread_.joinable()) switch_thread_.join();
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard lock(mu_);
    instance.swap(instance_);
  }
  if (!instance) return;
  raft::Raft& raft = *instance->raft;
  if (raft.state() == raft::RaftState::kLeader &&
      raft.configuration().configuration.servers_size() > 1) {
    Status s = raft.leadership_transfer({}, kTransferTimeout).get();
    logger_.log(
        s.ok() ? LogLevel::kInfo : LogLevel::kWarn,
        fmt::format("{}: leadership handed over before stopping: {}", config_.id, s.to_string()));
  }
  raft.shutdown();
}

}  // namespace kv
