// The core thread of the runtime: start-up, the ready pass, ticks, messages, shutdown and
// fatal errors. Requests (apply, reads, membership, transfer) are in raft_requests.cc.
#include "runtime/raft_impl.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "common/snapshot_adapters.h"
#include "os/thread_name.h"
#include "raft/configuration.h"
#include "runtime/thread_owner.h"

namespace raft {
namespace {

RaftState to_state(Role role) {
  switch (role) {
    case Role::kLeader:
      return RaftState::kLeader;
    case Role::kCandidate:
    case Role::kPreCandidate:
      return RaftState::kCandidate;
    case Role::kFollower:
      break;
  }
  return RaftState::kFollower;
}

}  // namespace

Raft::Impl::Impl(const RaftOptions& options, StateMachine& fsm,
                 std::unique_ptr<DurableStorage> storage, std::unique_ptr<Transport> transport)
    : options_(options),
      logger_(options.logger != nullptr ? options.logger : &null_logger()),
      fsm_(fsm),
      storage_(std::move(storage)),
      transport_(std::move(transport)) {}

Raft::Impl::~Impl() { shutdown(); }

Config Raft::Impl::core_config(Index applied) const {
  Config c;
  c.id = options_.id;
  const auto hb = std::max<std::int64_t>(1, options_.heartbeat_interval.count());
  c.election_tick = static_cast<int>(options_.election_timeout.count() / hb);
  c.heartbeat_tick = 1;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  c.lease_read = options_.lease_read && options_.check_quorum;
  if (c.lease_read) {
    // The drift margin in whole ticks, rounded up, leaving a lease of at least one tick.
    const std::int64_t drift = (options_.lease_clock_drift.count() + hb - 1) / hb;
    c.lease_drift_ticks =
        static_cast<int>(std::clamp<std::int64_t>(drift, 0, std::max(0, c.election_tick - 2)));
    if (c.election_tick < 3) c.lease_read = false;  // no lease would be left
  }
  c.max_size_per_msg = options_.max_append_bytes;
  c.max_inflight_msgs = options_.max_inflight_appends;
  c.max_snapshot_chunk = options_.max_snapshot_chunk;
  c.applied = applied;
  c.random_seed = options_.random_seed != 0 ? options_.random_seed : std::random_device{}();
  c.logger = logger_;
  return c;
}

// Brings the state machine to a position the log can continue from: restored from the newest
// snapshot if it has applied less than that, and never ahead of the log.
Status Raft::Impl::recover() {
  Index applied = fsm_.last_applied();
  Index snap_index = 0;
  pb::Configuration configuration;
  auto snap = storage_->snapshot_metadata();
  if (snap.ok()) {
    snap_index = snap->index();
    configuration = snap->configuration();
    view_.snapshot_index = snap->index();
    view_.snapshot_term = snap->term();
    if (applied < snap_index) {
      auto reader = storage_->open_newest_snapshot();
      if (!reader.ok()) return reader.status();
      SnapshotReaderSource source(**reader);
      if (Status s = fsm_.restore(*snap, source); !s.ok()) return s;
      applied = snap_index;
      logger_->log(LogLevel::kInfo, fmt::format("{}: state machine restored from snapshot {}@{}",
                                                options_.id, snap->index(), snap->term()));
    }
  } else if (snap.status().code() != ErrorCode::kUnavailable) {
    return snap.status();
  }
  if (applied > storage_->last_index()) {
    return Status(ErrorCode::kCorruption,
                  fmt::format("the state machine has applied index {} but the log ends at {}",
                              applied, storage_->last_index()));
  }
  // The configuration as of `applied`: the snapshot's, then configuration entries up to it.
  const Index from = std::max(snap_index + 1, storage_->first_index());
  for (Index lo = from; lo <= applied;) {
    auto batch = storage_->entries(lo, applied + 1, 16 << 20);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (const auto& e : *batch) {
      if (e.type() == pb::ENTRY_CONF_CHANGE) (void)configuration.ParseFromString(e.data());
    }
    lo = batch->back().index() + 1;
  }
  start_.applied = applied;
  start_.configuration = std::move(configuration);
  if (applied > 0) {
    auto term = storage_->term(applied);
    if (!term.ok()) return term.status();
    start_.applied_term = *term;
  }
  return Status::ok_status();
}

Status Raft::Impl::open() {
  if (Status s = validate_server_id(options_.id, "options.id"); !s.ok()) return s;
  if (Status s = validate_server_address(options_.listen_address, "options.listen_address");
      !s.ok()) {
    return s;
  }
  if (Status s = validate_cluster_id(options_.cluster_id); !s.ok()) return s;
  if (options_.heartbeat_interval.count() <= 0 ||
      options_.election_timeout < 2 * options_.heartbeat_interval) {
    return Status(
        ErrorCode::kInvalidArgument,
        fmt::format("election_timeout ({} ms) must be at least twice heartbeat_interval "
                    "({} ms), which must be positive",
                    options_.election_timeout.count(), options_.heartbeat_interval.count()));
  }
  for (auto [value, name] : {std::pair{options_.max_snapshot_chunk, "max_snapshot_chunk"},
                             std::pair{options_.max_append_bytes, "max_append_bytes"}}) {
    // A larger message would not fit a transport frame: it would be dropped and resent forever.
    if (value == 0 || value > kMaxMessagePayloadBytes) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} ({} bytes) must be between 1 and {} bytes", name, value,
                                kMaxMessagePayloadBytes));
    }
  }
  if (!storage_ || !transport_) {
    return Status(ErrorCode::kInvalidArgument, "storage and transport are required");
  }
  if (const auto& r = storage_->log().recovery(); r.cut) {
    logger_->log(LogLevel::kWarn, fmt::format("{}: log recovery: {}", options_.id, r.description));
  }
  if (Status s = recover(); !s.ok()) return s;
  auto node = RawNode::create(core_config(start_.applied), storage_.get());
  if (!node.ok()) return node.status();
  node_ = std::move(node).value();

  snapshots_ = std::make_unique<runtime::SnapshotWorker>(
      *storage_, *logger_, view_.snapshot_index, [this](const SnapshotMeta& meta) {
        note_snapshot(meta);  // visible in stats() before snapshot()'s future completes
        post([this, meta] { compact(meta); });
        apply_->check_snapshot();
      });
  apply_ = std::make_unique<runtime::ApplyWorker>(
      fsm_, *logger_, *snapshots_, start_, options_.snapshot_threshold,
      std::max<std::uint64_t>(options_.max_uncommitted_bytes, 64ull << 20),
      [this](Status s) { post([this, s] { fail_node(s); }); });

  Status started = transport_->start(options_.listen_address, [this](pb::Message m) {
    post([this, m = std::move(m)]() mutable { on_message(std::move(m)); });
  });
  if (!started.ok()) return started;
  local_address_ = transport_->local_address();
  update_view();
  soft_ = SoftState{node_->leader(), node_->role()};

  snapshots_->start();
  apply_->start();
  work_.emplace(io_.get_executor());
  next_tick_ = Clock::now() + options_.heartbeat_interval;
  arm_ticker();
  // Logged before the core thread starts: from then on only that thread touches the log.
  logger_->log(LogLevel::kInfo, fmt::format("{}: raft started on {} (applied {}, log {}..{})",
                                            options_.id, local_address_, start_.applied,
                                            storage_->first_index(), storage_->last_index()));
  core_running_ = true;
  core_thread_ = std::thread([this] {
    set_thread_name("raft-core");
    runtime::t_thread_owner = this;
    io_.run();
  });
  return Status::ok_status();
}

bool Raft::Impl::post(std::function<void()> fn) {
  // The check and the post are one step under post_mu_, which shutdown() takes to set
  // stopping_: a task either is refused here (its caller completes it) or is queued before the
  // shutdown task, which fails whatever it left pending. Checked without the lock, a task
  // could be queued after io_ stopped and never run, leaving its callback uncalled.
  std::lock_guard lock(post_mu_);
  if (stopping_.load()) return false;
  asio::post(io_, std::move(fn));
  return true;
}

void Raft::Impl::schedule_ready() {
  if (ready_scheduled_ || stopped_) return;
  ready_scheduled_ = true;
  asio::post(io_, [this] { process_ready(); });
}

void Raft::Impl::arm_ticker() {
  ticker_.expires_at(next_tick_);
  ticker_.async_wait([this](const std::error_code& ec) {
    if (ec || stopped_) return;
    on_tick();
    arm_ticker();
  });
}

void Raft::Impl::catch_up_ticks() {
  const auto now = Clock::now();
  // Beyond a few election timeouts more ticks change nothing (every timer and lease has run
  // out): skip the rest.
  const auto interval = std::max(options_.heartbeat_interval, std::chrono::milliseconds(1));
  const std::int64_t max_ticks =
      4 * std::max<std::int64_t>(1, options_.election_timeout / interval);
  std::int64_t ticks = 0;
  while (next_tick_ <= now && ticks < max_ticks) {
    node_->tick();
    next_tick_ += interval;
    ++ticks;
  }
  if (next_tick_ <= now) next_tick_ = now + interval;
  if (ticks > 0) schedule_ready();
}

void Raft::Impl::on_tick() {
  catch_up_ticks();
  const auto now = Clock::now();
  apply_->expire(now);
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    auto done = std::move(it->second.done);
    it = reads_.erase(it);
    done(Status(ErrorCode::kTimeout, "timed out waiting for a quorum to confirm the leader"));
  }
  for (auto it = forward_waiting_.begin(); it != forward_waiting_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    auto done = std::move(it->done);
    it = forward_waiting_.erase(it);
    done(Status(ErrorCode::kTimeout, "timed out waiting for the leader to confirm a read point"));
  }
  retry_changes();
  if (!promotions_.empty() || transfer_) {
    const NodeStatus st = node_->status();
    check_promotions(st, /*tick=*/true);
    check_transfer(st);
  }
  schedule_ready();
}

void Raft::Impl::on_message(pb::Message message) {
  if (stopped_) return;
  // Ticks that fell due before this message is stepped come first. Had the core thread been
  // held up (a slow fsync), stepping the message first would date its effects back: a
  // heartbeat would restart the election timer, then the missed ticks would run it out at
  // once, and the acknowledgement just sent would promise the leader a lease that this node
  // no longer keeps.
  catch_up_ticks();
  const NodeId from = message.from();
  const bool from_leader = !from.empty() && from == node_->leader();
  Status s = node_->step(std::move(message));
  if (!s.ok()) {
    logger_->log(LogLevel::kDebug,
                 fmt::format("{}: message from {} refused: {}", options_.id, from, s.to_string()));
  }
  if (from_leader || from == node_->leader()) {
    std::lock_guard lock(view_mu_);
    view_.last_contact = Clock::now();
  }
  schedule_ready();
}

void Raft::Impl::send(std::vector<pb::Message>& messages) {
  static const std::string kLearned;  // the address the peer advertised to the transport
  for (pb::Message& m : messages) {
    auto it = addresses_.find(m.to());
    const NodeId to = m.to();
    Status s = transport_->send(to, it == addresses_.end() ? kLearned : it->second, std::move(m));
    if (!s.ok()) {
      logger_->log(LogLevel::kDebug,
                   fmt::format("{}: message to {} dropped: {}", options_.id, to, s.to_string()));
    }
  }
}

void Raft::Impl::process_ready() {
  ready_scheduled_ = false;
  while (!stopped_ && node_->has_ready()) {
    Ready rd = node_->ready();
    // A configuration that arrives in this Ready may name a server the messages go to.
    for (const pb::Entry& e : rd.entries) {
      if (e.type() == pb::ENTRY_CONF_CHANGE) learn_addresses(e);
    }
    send(rd.messages);
    if (Status s = storage_->persist(rd); !s.ok()) {
      fail_node(Status(s.code(), "persisting to the log failed, the node stops: " + s.message()));
      return;
    }
    send(rd.persisted_messages);
    if (rd.snapshot) {
      auto reader = storage_->open_newest_snapshot();
      if (!reader.ok()) {
        fail_node(reader.status());
        return;
      }
      {
        std::lock_guard lock(view_mu_);
        view_.snapshot_index = rd.snapshot->index();
        view_.snapshot_term = rd.snapshot->term();
      }
      snapshots_->note_installed(rd.snapshot->index());
      apply_->enqueue_restore(*rd.snapshot, std::move(reader).value());
    }
    if (!rd.committed_entries.empty()) apply_->enqueue_entries(std::move(rd.committed_entries));
    for (ReadState& rs : rd.read_states) {
      auto it = reads_.find(rs.context);
      if (it == reads_.end()) continue;  // timed out already
      PendingRead read = std::move(it->second);
      reads_.erase(it);
      if (!rs.status.ok()) {
        read.done(rs.status);
      } else if (read.wait_apply) {
        apply_->wait_applied(rs.index, read.deadline, std::move(read.done));
      } else {
        read.done(rs.index);
      }
    }
    node_->advance();
    update_view();
  }
}

void Raft::Impl::learn_addresses(const pb::Entry& entry) {
  pb::Configuration c;
  if (!c.ParseFromString(entry.data())) return;
  for (const auto& s : c.servers()) addresses_[s.id()] = s.address();
}

void Raft::Impl::update_view() {
  NodeStatus st = node_->status();
  for (const auto& s : st.configuration.servers()) addresses_[s.id()] = s.address();
  SoftState soft{st.leader, st.role};
  const bool role_changed = soft.role != soft_.role;
  const bool leader_changed = soft.leader != soft_.leader;
  const bool config_changed = st.configuration_index != config_index_seen_;
  soft_ = soft;
  config_index_seen_ = st.configuration_index;
  RaftEvent event;
  {
    std::lock_guard lock(view_mu_);
    if (!stopped_) view_.state = to_state(st.role);
    view_.term = st.term;
    view_.leader = st.leader;
    view_.commit = st.commit;
    view_.last_index = st.last_index;
    view_.last_term = st.last_term;
    view_.configuration = ConfigurationInfo{st.configuration, st.configuration_index};
    if (st.role == Role::kLeader) view_.last_contact = Clock::now();
    event.state = view_.state;
    event.configuration = view_.configuration;
  }
  event.leader = leader();
  if (role_changed) {
    event.kind = RaftEvent::Kind::kStateChanged;
    emit(event);
    if (soft.role != Role::kLeader) {
      // Conf changes waiting to be retried can no longer be made here.
      auto changes = std::move(changes_);
      changes_.clear();
      for (auto& c : changes) c.done(Status::not_leader(st.leader));
    }
  }
  if (leader_changed) {
    event.kind = RaftEvent::Kind::kLeaderChanged;
    emit(event);
    logger_->log(LogLevel::kInfo, fmt::format("{}: leader is now {} (term {})", options_.id,
                                              st.leader.empty() ? "unknown" : st.leader, st.term));
    if (!st.leader.empty()) reissue_reads(st);
  }
  if (config_changed) {
    forget_removed_peers(st.configuration);
    event.kind = RaftEvent::Kind::kConfigurationChanged;
    emit(event);
  }
  check_transfer(st);
  check_promotions(st, /*tick=*/false);
}

// A server that left the configuration is no longer sent anything: the transport drops its
// queue and stops dialling it (a removed server that is down would be dialled forever).
void Raft::Impl::forget_removed_peers(const pb::Configuration& configuration) {
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    if (it->first == options_.id || find_server(configuration, it->first) != nullptr) {
      ++it;
      continue;
    }
    transport_->forget_peer(it->first);
    it = addresses_.erase(it);
  }
}

void Raft::Impl::emit(const RaftEvent& event) {
  std::function<void(const RaftEvent&)> observer;
  {
    std::lock_guard lock(observer_mu_);
    observer = observer_;
  }
  if (observer) observer(event);
}

void Raft::Impl::note_snapshot(const SnapshotMeta& meta) {
  std::lock_guard lock(view_mu_);
  if (meta.index > view_.snapshot_index) {
    view_.snapshot_index = meta.index;
    view_.snapshot_term = meta.term;
  }
}

void Raft::Impl::compact(const SnapshotMeta& meta) {
  if (stopped_) return;
  if (Status s = storage_->compact(meta.index, options_.trailing_logs); !s.ok()) {
    logger_->log(LogLevel::kError, fmt::format("{}: compacting the log to {} failed: {}",
                                               options_.id, meta.index, s.to_string()));
  }
}

void Raft::Impl::fail_pending(const Status& status) {
  auto reads = std::move(reads_);
  reads_.clear();
  for (auto& [ctx, r] : reads) r.done(status);
  auto waiting = std::move(forward_waiting_);
  forward_waiting_.clear();
  for (auto& r : waiting) r.done(status);
  auto changes = std::move(changes_);
  changes_.clear();
  for (auto& c : changes) c.done(status);
  auto promotions = std::move(promotions_);
  promotions_.clear();
  for (auto& p : promotions) p.done(status);
  if (transfer_) {
    auto t = std::move(*transfer_);
    transfer_.reset();
    t.done(status);
  }
}

// An I/O error (or a state machine that cannot restore): stop consensus here rather than
// acknowledge anything not durable. Entries already handed to the apply thread were durable
// and committed: they are still applied.
void Raft::Impl::fail_node(const Status& status) {
  if (stopped_) return;
  stopped_ = true;
  logger_->log(LogLevel::kError,
               fmt::format("{}: node stopped: {}", options_.id, status.to_string()));
  {
    std::lock_guard lock(view_mu_);
    view_.state = RaftState::kShutdown;
    view_.error = status;
    view_.leader.clear();
  }
  ticker_.cancel();
  fail_pending(status);
  apply_->fail_all(
      Status(status.code(), "the node stopped (outcome unknown): " + status.message()));
  RaftEvent event;
  event.kind = RaftEvent::Kind::kStopped;
  event.state = RaftState::kShutdown;
  event.error = status;
  emit(event);
}

bool Raft::Impl::on_runtime_thread() const {
  const void* owner = runtime::t_thread_owner;
  return owner != nullptr && (owner == this || owner == apply_.get() || owner == snapshots_.get());
}

bool Raft::Impl::refuse_requests() {
  std::lock_guard lock(post_mu_);  // see post()
  if (stopping_.load()) return false;
  stopping_.store(true);
  return true;
}

void Raft::Impl::post_core_stop() {
  if (!core_running_) return;
  asio::post(io_, [this] {
    ticker_.cancel();
    // Stopped first, as fail_node() does: nothing the failed requests' callbacks start
    // (a follower's next forwarded read, say) reaches the core.
    const bool was_stopped = stopped_;
    stopped_ = true;
    if (!was_stopped) fail_pending(Status(ErrorCode::kShutdown, "the node is shutting down"));
    work_.reset();
    io_.stop();
  });
}

void Raft::Impl::shutdown() {
  // From a callback or the observer: the threads cannot be joined from one of them (a thread
  // joining itself throws), so the core is only told to stop; the rest is done by the next
  // shutdown() from another thread, at the latest the destructor's.
  if (on_runtime_thread()) {
    if (refuse_requests()) post_core_stop();
    return;
  }
  {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  const bool first = refuse_requests();
  if (transport_) transport_->stop();  // no more messages reach the core
  if (first) post_core_stop();
  if (core_thread_.joinable()) core_thread_.join();
  // Committed entries still queued are applied (their futures complete with their result).
  if (apply_) apply_->stop();
  if (snapshots_) snapshots_->stop();
  if (apply_) {
    apply_->fail_all(Status(ErrorCode::kShutdown,
                            "the node shut down before the command was applied here: outcome "
                            "unknown (it may commit on the other nodes)"));
  }
  bool was_failed;
  {
    std::lock_guard lock(view_mu_);
    was_failed = view_.state == RaftState::kShutdown;
    view_.state = RaftState::kShutdown;
    view_.leader.clear();
  }
  node_.reset();
  storage_.reset();  // closes the files and releases the data directory's lock
  if (!was_failed) {
    RaftEvent event;
    event.kind = RaftEvent::Kind::kStopped;
    event.state = RaftState::kShutdown;
    emit(event);
  }
  logger_->log(LogLevel::kInfo, fmt::format("{}: raft shut down", options_.id));
}

}  // namespace raft
