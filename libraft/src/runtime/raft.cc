// Raft: the public facade (raft.h) over Raft::Impl, and the future-returning overloads.
#include "raft/raft.h"

#include <fmt/format.h>

#include "raft/file_system.h"
#include "runtime/raft_impl.h"

namespace raft {
namespace {

// A callback that fulfils a promise (shared: std::function needs a copyable callable).
template <typename T>
std::pair<std::future<Result<T>>, Callback<T>> promise_callback() {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  return {std::move(future), [promise](Result<T> r) { promise->set_value(std::move(r)); }};
}

std::pair<std::future<Status>, Callback<Index>> status_callback() {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  return {std::move(future), [promise](Result<Index> r) { promise->set_value(r.status()); }};
}

}  // namespace

std::string_view to_string(RaftState state) {
  switch (state) {
    case RaftState::kFollower:
      return "Follower";
    case RaftState::kCandidate:
      return "Candidate";
    case RaftState::kLeader:
      return "Leader";
    case RaftState::kShutdown:
      return "Shutdown";
  }
  return "Unknown";
}

Raft::Raft(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Raft::~Raft() { shutdown(); }

Result<std::unique_ptr<Raft>> Raft::open(const RaftOptions& options, StateMachine& fsm,
                                         std::unique_ptr<DurableStorage> storage,
                                         std::unique_ptr<Transport> transport) {
  auto impl = std::make_unique<Impl>(options, fsm, std::move(storage), std::move(transport));
  if (Status s = impl->open(); !s.ok()) return s;
  return std::unique_ptr<Raft>(new Raft(std::move(impl)));
}

Result<std::unique_ptr<Raft>> Raft::open(const RaftOptions& options, StateMachine& fsm) {
  if (options.data_dir.empty()) {
    return Status(ErrorCode::kInvalidArgument, "options.data_dir is empty");
  }
  auto storage = DurableStorage::open(posix_file_system(), options.data_dir);
  if (!storage.ok()) return storage.status();
  TcpTransportOptions transport;
  transport.local_id = options.id;
  transport.cluster_id = options.cluster_id;
  transport.logger = options.logger;
  transport.on_foreign_cluster = options.on_foreign_cluster;
  return open(options, fsm, std::move(storage).value(), make_tcp_transport(transport));
}

Status Raft::bootstrap_cluster(const pb::Configuration& configuration) {
  return impl_->bootstrap_cluster(configuration);
}

std::future<Result<ApplyResult>> Raft::apply(std::string command, Timeout timeout) {
  auto [future, callback] = promise_callback<ApplyResult>();
  impl_->apply(std::move(command), timeout, std::move(callback));
  return std::move(future);
}

void Raft::apply(std::string command, Timeout timeout, Callback<ApplyResult> done) {
  impl_->apply(std::move(command), timeout, std::move(done));
}

std::future<Status> Raft::barrier(Timeout timeout) {
  auto [future, callback] = status_callback();
  impl_->read(/*verify_only=*/false, /*wait_apply=*/true, timeout, std::move(callback));
  return std::move(future);
}

std::future<Result<Index>> Raft::read_index(Timeout timeout) {
  auto [future, callback] = promise_callback<Index>();
  impl_->read(false, true, timeout, std::move(callback));
  return std::move(future);
}

void Raft::read_index(Timeout timeout, Callback<Index> done) {
  impl_->read(false, true, timeout, std::move(done));
}

std::future<Result<Index>> Raft::lease_read(Timeout timeout) {
  auto [future, callback] = promise_callback<Index>();
  impl_->read(/*verify_only=*/false, /*wait_apply=*/true, timeout, std::move(callback),
              ReadMode::kLease);
  return std::move(future);
}

void Raft::lease_read(Timeout timeout, Callback<Index> done) {
  impl_->read(false, true, timeout, std::move(done), ReadMode::kLease);
}

std::future<Status> Raft::verify_leader(Timeout timeout) {
  auto [future, callback] = status_callback();
  impl_->read(/*verify_only=*/true, /*wait_apply=*/false, timeout, std::move(callback));
  return std::move(future);
}

namespace {

ConfChange make_change(ConfChangeType type, const NodeId& id, std::string address,
                       std::string metadata, Index prev_index) {
  ConfChange c;
  c.type = type;
  c.id = id;
  c.address = std::move(address);
  c.metadata = std::move(metadata);
  c.prev_index = prev_index;
  return c;
}

}  // namespace

std::future<Result<Index>> Raft::add_voter(const NodeId& id, const std::string& address,
                                           Timeout timeout, std::string metadata,
                                           Index prev_index) {
  auto [future, callback] = promise_callback<Index>();
  impl_->change(
      make_change(ConfChangeType::kAddVoter, id, address, std::move(metadata), prev_index), timeout,
      std::move(callback));
  return std::move(future);
}

std::future<Result<Index>> Raft::add_nonvoter(const NodeId& id, const std::string& address,
                                              Timeout timeout, std::string metadata,
                                              Index prev_index) {
  auto [future, callback] = promise_callback<Index>();
  impl_->change(
      make_change(ConfChangeType::kAddNonvoter, id, address, std::move(metadata), prev_index),
      timeout, std::move(callback));
  return std::move(future);
}

std::future<Result<Index>> Raft::demote_voter(const NodeId& id, Timeout timeout, Index prev_index) {
  auto [future, callback] = promise_callback<Index>();
  impl_->change(make_change(ConfChangeType::kDemoteVoter, id, {}, {}, prev_index), timeout,
                std::move(callback));
  return std::move(future);
}

std::future<Result<Index>> Raft::remove_server(const NodeId& id, Timeout timeout,
                                               Index prev_index) {
  auto [future, callback] = promise_callback<Index>();
  impl_->change(make_change(ConfChangeType::kRemoveServer, id, {}, {}, prev_index), timeout,
                std::move(callback));
  return std::move(future);
}

std::future<Status> Raft::leadership_transfer(const NodeId& target, Timeout timeout) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  impl_->transfer(target, timeout, [promise](Status s) { promise->set_value(std::move(s)); });
  return future;
}

std::future<Result<SnapshotMeta>> Raft::snapshot() {
  auto [future, callback] = promise_callback<SnapshotMeta>();
  impl_->snapshot(std::move(callback));
  return std::move(future);
}

RaftState Raft::state() const { return impl_->state(); }
LeaderInfo Raft::leader() const { return impl_->leader(); }
ConfigurationInfo Raft::configuration() const { return impl_->configuration(); }
Index Raft::applied_index() const { return impl_->applied_index(); }
std::string Raft::local_address() const { return impl_->local_address(); }
Status Raft::error() const { return impl_->error(); }
std::map<std::string, std::string> Raft::stats() const { return impl_->stats(); }

void Raft::set_observer(std::function<void(const RaftEvent&)> observer) {
  impl_->set_observer(std::move(observer));
}

void Raft::shutdown() {
  if (impl_) impl_->shutdown();
}

}  // namespace raft
