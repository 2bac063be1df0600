// Requests to the runtime (raft.h): each is posted to the core thread, where it meets the
// RawNode; the answer comes back through a callback (see raft_impl.h). Also the read-only
// views (state, leader, configuration, stats).
#include <fmt/format.h>

#include <future>

#include "raft/configuration.h"
#include "runtime/raft_impl.h"
#include "transport/frame_codec.h"

namespace raft {
namespace {

Status shutting_down() { return Status(ErrorCode::kShutdown, "the node is shut down"); }

std::string format_configuration(const pb::Configuration& c) {
  // hashicorp's format: [{Suffrage:Voter ID:n1 Address:127.0.0.1:7001} ...]
  std::string out = "[";
  for (int i = 0; i < c.servers_size(); ++i) {
    const pb::Server& s = c.servers(i);
    const char* suffrage = s.suffrage() == pb::VOTER     ? "Voter"
                           : s.suffrage() == pb::STAGING ? "Staging"
                                                         : "Nonvoter";
    if (i > 0) out += " ";
    out += fmt::format("{{Suffrage:{} ID:{} Address:{}}}", suffrage, s.id(), s.address());
  }
  return out + "]";
}

}  // namespace

Status Raft::Impl::bootstrap_cluster(const pb::Configuration& configuration) {
  if (Status s = validate_configuration(configuration); !s.ok()) return s;
  auto promise = std::make_shared<std::promise<Status>>();
  auto result = promise->get_future();
  const bool posted = post([this, configuration, promise] {
    if (refusing_requests()) return promise->set_value(shutting_down());
    if (storage_->has_state()) {
      return promise->set_value(
          Status(ErrorCode::kAlreadyExists, "bootstrap refused: this node already has state"));
    }
    if (Status s = storage_->bootstrap(configuration); !s.ok()) return promise->set_value(s);
    auto node = RawNode::create(core_config(0), storage_.get());
    if (!node.ok()) return promise->set_value(node.status());
    node_ = std::move(node).value();
    // A cluster of one elects itself now rather than after an election timeout.
    if (count_voters(configuration) == 1 && is_voter(configuration, options_.id)) {
      (void)node_->campaign();
    }
    update_view();
    schedule_ready();
    logger_->log(LogLevel::kInfo,
                 fmt::format("{}: bootstrapped cluster {}", options_.id, describe(configuration)));
    promise->set_value(Status::ok_status());
  });
  if (!posted) return shutting_down();
  return result.get();
}

void Raft::Impl::apply(std::string command, Timeout timeout, Callback<ApplyResult> done) {
  const std::uint64_t bytes = command.size();
  // Counted before the check, so that callers on several threads cannot all pass it at once.
  const std::uint64_t queued = queued_bytes_.fetch_add(bytes) + bytes;
  const std::uint64_t proposed = apply_->proposed_bytes();
  if (proposed + queued > options_.max_uncommitted_bytes) {
    queued_bytes_.fetch_sub(bytes);
    return done(Status(ErrorCode::kUnavailable,
                       fmt::format("too much uncommitted data ({} bytes waiting, limit {}): "
                                   "retry later",
                                   proposed + queued - bytes, options_.max_uncommitted_bytes)));
  }
  const auto deadline = Clock::now() + timeout;
  auto task = [this, command = std::move(command), bytes, deadline, done]() mutable {
    // No longer queued once it is proposed (or refused): until then it counts as queued.
    struct Unqueue {
      std::atomic<std::uint64_t>& queued;
      std::uint64_t bytes;
      ~Unqueue() { queued.fetch_sub(bytes); }
    } unqueue{queued_bytes_, bytes};
    if (refusing_requests()) return done(shutting_down());
    auto index = node_->propose(std::move(command));
    if (!index.ok()) {
      if (index.status().code() == ErrorCode::kTransferInProgress) {
        return done(Status(ErrorCode::kUnavailable,
                           "a leadership transfer is running: retry on the new leader"));
      }
      return done(index.status());
    }
    apply_->register_proposal(*index, node_->term(), bytes, deadline, std::move(done));
    schedule_ready();
  };
  if (!post(std::move(task))) {
    queued_bytes_.fetch_sub(bytes);
    done(shutting_down());
  }
}

void Raft::Impl::read(bool verify_only, bool wait_apply, Timeout timeout, Callback<Index> done,
                      ReadMode mode) {
  const auto deadline = Clock::now() + timeout;
  auto task = [this, verify_only, wait_apply, deadline, done, mode]() mutable {
    if (refusing_requests()) return done(shutting_down());
    if ((verify_only || mode == ReadMode::kLease) && node_->role() != Role::kLeader) {
      return done(Status::not_leader(node_->leader()));
    }
    // Time the core has not been told of yet would extend the lease.
    if (mode == ReadMode::kLease) catch_up_ticks();
    if (!verify_only && mode == ReadMode::kReadIndex && node_->role() != Role::kLeader) {
      forward_waiting_.push_back(PendingRead{false, wait_apply, deadline, std::move(done)});
      if (!forward_in_flight_) forward_reads();
      return;
    }
    std::string context = next_read_context();
    if (Status s = node_->read_index(context, mode); !s.ok()) return done(s);
    reads_.emplace(std::move(context), PendingRead{verify_only, wait_apply, deadline, done});
    schedule_ready();
  };
  if (!post(std::move(task))) done(shutting_down());
}

void Raft::Impl::forward_reads() {
  if (forward_waiting_.empty() || stopped_) return;
  auto members = std::make_shared<std::vector<PendingRead>>(std::move(forward_waiting_));
  forward_waiting_.clear();
  Clock::time_point deadline = members->front().deadline;
  for (const PendingRead& m : *members) deadline = std::min(deadline, m.deadline);
  std::string context = next_read_context();
  if (Status s = node_->read_index(context); !s.ok()) {
    finish_forwarded(*members, s);
    return;
  }
  forward_in_flight_ = true;
  // The request's deadline is its earliest read's; a read with time left when it runs out
  // waits for the next request.
  reads_.emplace(std::move(context),
                 PendingRead{false, false, deadline, [this, members](Result<Index> index) {
                               forward_in_flight_ = false;
                               finish_forwarded(*members, index);
                               forward_reads();
                             }});
  schedule_ready();
}

void Raft::Impl::finish_forwarded(std::vector<PendingRead>& members, const Result<Index>& index) {
  const auto now = Clock::now();
  const bool retry = !index.ok() && index.status().code() == ErrorCode::kTimeout && !stopped_;
  for (PendingRead& m : members) {
    if (retry && m.deadline > now) {
      forward_waiting_.push_back(std::move(m));
    } else if (!index.ok()) {
      m.done(index.status());
    } else if (m.wait_apply) {
      apply_->wait_applied(*index, m.deadline, std::move(m.done));
    } else {
      m.done(*index);
    }
  }
}

// A read waiting for a confirmation from a leader that is gone (its request or the answer was
// lost with it) would only time out: ask the new leader instead. Any leader's answer is a
// valid read point, since it is asked after the read began; the first answer for a context
// completes the read and later ones are ignored.
void Raft::Impl::reissue_reads(const NodeStatus& st) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    Status s = it->second.verify_only && st.role != Role::kLeader ? Status::not_leader(st.leader)
                                                                  : node_->read_index(it->first);
    if (s.ok()) {
      ++it;
      continue;
    }
    Callback<Index> done = std::move(it->second.done);
    it = reads_.erase(it);
    done(s);
  }
  schedule_ready();
}

void Raft::Impl::try_change(PendingChange pending) {
  auto index = node_->propose_conf_change(pending.change);
  if (index.ok() && pending.change.type == ConfChangeType::kAddVoter) {
    promotions_.push_back(
        PendingPromotion{pending.change.id, pending.deadline, std::move(pending.done)});
    schedule_ready();
    return;
  }
  if (index.ok() && *index <= node_->status().commit) {
    // Nothing to change (demoting a non-voter, adding a non-voter as it is): the index is the
    // committed configuration's, already in force, and no entry will be applied for it.
    return pending.done(*index);
  }
  if (index.ok()) {
    auto done = std::move(pending.done);
    apply_->register_proposal(*index, node_->term(), 0, pending.deadline,
                              [done, i = *index](Result<ApplyResult> r) {
                                if (r.ok()) return done(i);
                                done(r.status());
                              });
    schedule_ready();
    return;
  }
  if (index.status().code() == ErrorCode::kConfChangeInProgress &&
      pending.deadline > Clock::now()) {
    changes_.push_back(std::move(pending));  // retried on the next tick
    return;
  }
  pending.done(index.status());
}

// Completes add_voter once its server votes in a committed configuration; fails it if the
// server turns out to be another one (the transport's handshake says so: the staging entry
// is then removed again), if it left the configuration, or at the deadline.
void Raft::Impl::check_promotions(const NodeStatus& st, bool tick) {
  if (promotions_.empty()) return;
  const auto now = Clock::now();
  std::vector<PendingPromotion> waiting;
  for (auto& p : promotions_) {
    const pb::Server* server = find_server(st.configuration, p.id);
    if (server == nullptr) {
      p.done(Status(ErrorCode::kLeadershipLost,
                    fmt::format("{} is not in the configuration: the change was lost with a "
                                "leadership change, or the server was removed meanwhile",
                                p.id)));
      continue;
    }
    if (server->suffrage() == pb::VOTER && st.configuration_index <= st.commit) {
      apply_->wait_applied(st.configuration_index, p.deadline, std::move(p.done));
      continue;
    }
    Status peer = tick ? transport_->peer_status(p.id) : Status::ok_status();
    if (!peer.ok()) {
      logger_->log(LogLevel::kWarn, fmt::format("{}: add voter {} failed: {}; removing it again",
                                                options_.id, p.id, peer.message()));
      if (server->suffrage() == pb::STAGING && st.role == Role::kLeader) {
        // The caller hears of the failure once the server is out of the configuration again
        // (or the removal failed), so that what it sees next is the configuration it had.
        ConfChange remove;
        remove.type = ConfChangeType::kRemoveServer;
        remove.id = p.id;
        const NodeId id = p.id;
        try_change(PendingChange{
            remove, now + options_.election_timeout * 10,
            [this, id, peer, done = std::move(p.done)](Result<Index> r) {
              if (!r.ok()) {
                logger_->log(LogLevel::kWarn, fmt::format("{}: removing {} failed: {}", options_.id,
                                                          id, r.status().to_string()));
              }
              done(peer);
            }});
      } else {
        p.done(peer);
      }
      continue;
    }
    if (p.deadline <= now) {
      p.done(Status(ErrorCode::kTimeout,
                    fmt::format("{} did not catch up in time: it is still {} (it is promoted "
                                "to voter once caught up)",
                                p.id, server->suffrage() == pb::STAGING ? "staging" : "nonvoter")));
      continue;
    }
    waiting.push_back(std::move(p));
  }
  promotions_ = std::move(waiting);
}

void Raft::Impl::retry_changes() {
  auto changes = std::move(changes_);
  changes_.clear();
  for (auto& c : changes) try_change(std::move(c));
}

void Raft::Impl::change(ConfChange change, Timeout timeout, Callback<Index> done) {
  PendingChange pending{std::move(change), Clock::now() + timeout, done};
  auto task = [this, pending = std::move(pending)]() mutable {
    if (refusing_requests()) return pending.done(shutting_down());
    try_change(std::move(pending));
  };
  if (!post(std::move(task))) done(shutting_down());
}

void Raft::Impl::transfer(NodeId target, Timeout timeout, DoneCallback done) {
  const auto deadline = Clock::now() + timeout;
  auto task = [this, target, deadline, done]() mutable {
    if (refusing_requests()) return done(shutting_down());
    if (node_->role() != Role::kLeader) return done(Status::not_leader(node_->leader()));
    if (transfer_) {
      return done(Status(ErrorCode::kTransferInProgress, "a leadership transfer is running"));
    }
    NodeStatus st = node_->status();
    if (target.empty()) {  // the most up-to-date other voter
      Index best = 0;
      for (const auto& [id, progress] : st.progress) {
        if (id == options_.id || !is_voter(st.configuration, id)) continue;
        if (target.empty() || progress.match > best) {
          target = id;
          best = progress.match;
        }
      }
      if (target.empty()) {
        return done(Status(ErrorCode::kInvalidArgument, "there is no other voter to transfer to"));
      }
    }
    if (Status s = node_->transfer_leadership(target); !s.ok()) return done(s);
    transfer_ = PendingTransfer{target, deadline, std::move(done)};
    schedule_ready();
  };
  if (!post(std::move(task))) done(shutting_down());
}

// Completes the leadership transfer once another node leads; fails it when the core gave up
// (the leader leads on with no transfer running) or the deadline passed.
void Raft::Impl::check_transfer(const NodeStatus& st) {
  if (!transfer_) return;
  std::optional<Status> outcome;
  if (st.role != Role::kLeader) {
    if (!st.leader.empty()) outcome = Status::ok_status();
  } else if (st.transfer_target.empty()) {
    outcome = Status(ErrorCode::kTimeout,
                     fmt::format("leadership transfer to {} was abandoned (not caught up within "
                                 "an election timeout)",
                                 transfer_->target));
  }
  if (!outcome && transfer_->deadline <= Clock::now()) {
    outcome = Status(ErrorCode::kTimeout, "timed out waiting for the new leader");
  }
  if (!outcome) return;
  auto t = std::move(*transfer_);
  transfer_.reset();
  t.done(*outcome);
}

void Raft::Impl::snapshot(Callback<SnapshotMeta> done) {
  if (!post([this, done]() mutable {
        if (refusing_requests()) return done(shutting_down());
        apply_->request_snapshot(std::move(done));
      })) {
    done(shutting_down());
  }
}

RaftState Raft::Impl::state() const {
  std::lock_guard lock(view_mu_);
  return view_.state;
}

LeaderInfo Raft::Impl::leader() const {
  std::lock_guard lock(view_mu_);
  LeaderInfo info;
  info.id = view_.leader;
  if (const pb::Server* s = find_server(view_.configuration.configuration, info.id)) {
    info.address = s->address();
    info.metadata = s->metadata();
  }
  return info;
}

ConfigurationInfo Raft::Impl::configuration() const {
  std::lock_guard lock(view_mu_);
  return view_.configuration;
}

Status Raft::Impl::error() const {
  std::lock_guard lock(view_mu_);
  return view_.error;
}

void Raft::Impl::set_observer(std::function<void(const RaftEvent&)> observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

std::map<std::string, std::string> Raft::Impl::stats() const {
  View v;
  {
    std::lock_guard lock(view_mu_);
    v = view_;
  }
  std::map<std::string, std::string> out;
  out["id"] = options_.id;
  out["state"] = std::string(to_string(v.state));
  out["term"] = std::to_string(v.term);
  out["last_log_index"] = std::to_string(v.last_index);
  out["last_log_term"] = std::to_string(v.last_term);
  out["commit_index"] = std::to_string(v.commit);
  out["applied_index"] = std::to_string(applied_index());
  out["fsm_pending"] = std::to_string(apply_ ? apply_->pending_entries() : 0);
  out["last_snapshot_index"] = std::to_string(v.snapshot_index);
  out["last_snapshot_term"] = std::to_string(v.snapshot_term);
  out["latest_configuration"] = format_configuration(v.configuration.configuration);
  out["latest_configuration_index"] = std::to_string(v.configuration.index);
  std::size_t peers = 0;
  for (const auto& s : v.configuration.configuration.servers()) {
    if (s.id() != options_.id && s.suffrage() == pb::VOTER) ++peers;
  }
  out["num_peers"] = std::to_string(peers);
  if (v.state == RaftState::kLeader) {
    out["last_contact"] = "0";
  } else if (!v.last_contact) {
    out["last_contact"] = "never";
  } else {
    const auto ago = std::chrono::duration<double, std::milli>(Clock::now() - *v.last_contact);
    out["last_contact"] = fmt::format("{:.3f}ms", ago.count());
  }
  out["protocol_version"] = std::to_string(transport::kProtocolVersion);  // the wire format
  out["leader"] = v.leader;
  std::string leader_addr;
  if (const pb::Server* s = find_server(v.configuration.configuration, v.leader)) {
    leader_addr = s->address();
  }
  out["leader_addr"] = leader_addr;
  return out;
}

}  // namespace raft
