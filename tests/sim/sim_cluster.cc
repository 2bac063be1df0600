#include "sim/sim_cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace raft::sim {
namespace {

std::vector<NodeId> make_ids(int n) {
  std::vector<NodeId> ids;
  for (int i = 0; i < n; ++i) ids.push_back(fmt::format("n{}", i + 1));
  return ids;
}

pb::Configuration make_configuration(const std::vector<NodeId>& ids) {
  pb::Configuration configuration;
  for (const NodeId& id : ids) {
    pb::Server* server = configuration.add_servers();
    server->set_id(id);
    server->set_address(id);
    server->set_suffrage(pb::VOTER);
  }
  return configuration;
}

// Draining one node's Ready never needs this many rounds; more means has_ready() is stuck.
constexpr int kMaxReadyRounds = 10000;

}  // namespace

SimCluster::SimCluster(const SimOptions& options)
    : options_(options),
      random_(options.seed),
      network_(options.num_nodes + options.extra_nodes, options.network),
      trace_(options.keep_trace_lines),
      checker_(make_ids(options.num_nodes + options.extra_nodes), [this] { return context(); }) {
  const std::vector<NodeId> ids = make_ids(options.num_nodes + options.extra_nodes);
  const pb::Configuration configuration =
      make_configuration(std::vector<NodeId>(ids.begin(), ids.begin() + options.num_nodes));
  // Extra nodes start with no configuration: they wait to be added.
  // Disk mode: each node's file system is seeded from the run (no random number drawn).
  for (std::size_t k = 0; k < ids.size(); ++k) {
    nodes_.push_back(std::make_unique<SimNode>(
        ids[k], static_cast<int>(k) < options.num_nodes ? configuration : pb::Configuration(),
        options.storage, (options.seed ^ 0xd15cf5ull) * 0x9e3779b97f4a7c15ull + k,
        DurableStorage::Options{{options.disk_segment_size, options.disk_preallocate}, 2}));
  }
  checker_.set_commit_volatile(options.storage == StorageKind::kDisk);
  pending_writes_.resize(nodes_.size());
  pause_.resize(nodes_.size());
  draw_tick_intervals();
  for (int i = 0; i < size(); ++i) start_node(i, /*restarted=*/false);
}

SimCluster::~SimCluster() = default;

int SimCluster::index_of(const NodeId& id) const {
  for (int i = 0; i < size(); ++i) {
    if (this->id(i) == id) return i;
  }
  return -1;
}

std::string SimCluster::context() const {
  return fmt::format("  seed={} time={:.3f}ms\n  recent events:\n{}", options_.seed,
                     static_cast<double>(now_) / static_cast<double>(kMillisecond),
                     trace_.recent());
}

void SimCluster::fail(const std::string& what) const {
  throw SimFailure(fmt::format("{}\n{}", what, context()));
}

// ---------------------------------------------------------------------------------------------
// Event loop.

void SimCluster::draw_tick_intervals() {
  const SimTime base = options_.tick_interval;
  tick_intervals_.assign(nodes_.size(), base);
  const double skew = options_.clock_skew;
  if (!(skew >= 0.0 && skew < 1.0)) fail(fmt::format("clock_skew {} is not in [0, 1)", skew));
  // No skew draws nothing, so seeds keep the meaning they had before clock skew existed.
  if (skew == 0.0) return;
  const auto lo = std::max<SimTime>(
      1, static_cast<SimTime>(std::llround(static_cast<double>(base) * (1.0 - skew))));
  const auto hi = std::max<SimTime>(
      lo, static_cast<SimTime>(std::llround(static_cast<double>(base) * (1.0 + skew))));
  for (int i = 0; i < size(); ++i) {
    const SimTime interval = random_.uniform_signed(lo, hi);
    tick_intervals_[static_cast<std::size_t>(i)] = interval;
    TraceRecord r;
    r.time = now_;
    r.kind = TraceKind::kClock;
    r.node = i;
    r.value = static_cast<std::uint64_t>(interval);
    trace_.record(std::move(r));
  }
}

void SimCluster::start_node(int i, bool restarted) {
  Config config;
  config.election_tick = options_.election_tick;
  config.heartbeat_tick = options_.heartbeat_tick;
  config.pre_vote = options_.pre_vote;
  config.check_quorum = options_.check_quorum;
  config.random_seed = random_.next();
  config.logger = options_.logger;
  config.bugs = options_.bugs;
  config.lease_read = options_.lease_read && options_.check_quorum;
  config.lease_drift_ticks = lease_drift_ticks();
  config.max_size_per_msg = options_.max_size_per_msg;
  config.max_snapshot_chunk = options_.max_snapshot_chunk;
  SimNode& n = mutable_node(i);
  Status st = n.start(config);
  if (!st.ok()) fail(fmt::format("cannot start {}: {}", n.id(), st.to_string()));
  // A random phase, so the nodes do not tick in lockstep.
  schedule_tick(i, now_ + random_.uniform_signed(1, tick_interval(i)));
  if (restarted && restart_observer_) restart_observer_(i);
  drain(i);
}

int SimCluster::lease_drift_ticks() const {
  // A tick of one node lasts at most (1 + skew) / (1 - skew) ticks of another: the lease of
  // election_tick - 1 - d leader ticks must fit in election_tick - 1 follower ticks.
  const double skew = options_.clock_skew;
  const double needed = (options_.election_tick - 1) * 2 * skew / (1 + skew);
  return std::max(options_.lease_drift_ticks, static_cast<int>(std::ceil(needed - 1e-9)));
}

void SimCluster::schedule_tick(int i, SimTime at) {
  Event e;
  e.time = at;
  e.kind = EventKind::kTick;
  e.node = i;
  e.incarnation = node(i).incarnation();
  queue_.push(std::move(e));
}

void SimCluster::run_for(SimTime duration) {
  const SimTime deadline = now_ + duration;
  while (!queue_.empty() && queue_.next_time() <= deadline) process(queue_.pop());
  now_ = std::max(now_, deadline);
}

bool SimCluster::run_until(const std::function<bool()>& done, SimTime timeout) {
  if (done()) return true;
  const SimTime deadline = now_ + timeout;
  while (!queue_.empty() && queue_.next_time() <= deadline) {
    process(queue_.pop());
    if (done()) return true;
  }
  now_ = std::max(now_, deadline);
  return done();
}

void SimCluster::process(Event event) {
  now_ = event.time;
  SimNode& n = mutable_node(event.node);
  if (event.kind == EventKind::kPersist) {
    // A write of an earlier life was lost in the crash (crash() dropped it).
    auto& pending = pending_writes_[static_cast<std::size_t>(event.node)];
    if (!n.alive() || n.incarnation() != event.incarnation || !pending) return;
    // A stopped process does not see its write complete before it continues.
    if (paused(event.node)) {
      pending->due = true;
      return;
    }
    finish_write(event.node);
    return;
  }
  if (event.kind == EventKind::kSnapshotWrite) {
    // A snapshot of an earlier life was lost in the crash.
    if (!n.alive() || n.incarnation() != event.incarnation ||
        n.snapshot_in_flight_index() != event.snapshot_index) {
      return;
    }
    // A stopped process writes nothing: the write completes some time after it resumes.
    if (paused(event.node)) {
      event.time = now_ + tick_interval(event.node);
      queue_.push(std::move(event));
      return;
    }
    finish_snapshot(event.node);
    return;
  }
  if (event.kind == EventKind::kTick) {
    // A tick scheduled by an earlier life of the node is stale.
    if (!n.alive() || n.incarnation() != event.incarnation) return;
    // A paused node loses its ticks (with lease_read they are caught up at resume).
    if (paused(event.node)) {
      if (options_.lease_read) ++pause_[static_cast<std::size_t>(event.node)].missed_ticks;
      schedule_tick(event.node, now_ + tick_interval(event.node));
      return;
    }
    TraceRecord r;
    r.time = now_;
    r.kind = TraceKind::kTick;
    r.node = event.node;
    r.term = n.raw().term();
    r.value = static_cast<std::uint64_t>(n.raw().role());
    trace_.record(std::move(r));
    n.raw().tick();
    drain(event.node);
    schedule_tick(event.node, now_ + tick_interval(event.node));
    return;
  }
  // Whether a message arrives is decided again at delivery time.
  if (!n.alive() || !network_.can_communicate(event.from, event.node)) {
    trace_.record_message(now_, TraceKind::kDrop, event.node, event.from, event.message,
                          n.alive() ? "cut off at delivery" : "receiver down at delivery");
    return;
  }
  if (paused(event.node)) {
    trace_.record_message(now_, TraceKind::kBuffer, event.node, event.from, event.message);
    pause_[static_cast<std::size_t>(event.node)].buffer.push_back(
        Buffered{event.from, std::move(event.message)});
    return;
  }
  deliver(event.node, event.from, event.message);
}

void SimCluster::deliver(int to, int from, const pb::Message& message, std::string note) {
  SimNode& n = mutable_node(to);
  trace_.record_message(now_, TraceKind::kDeliver, to, from, message, std::move(note));
  if (delivery_observer_) delivery_observer_(message);
  // Messages a node refuses for ordinary reasons (stale term, unknown sender) are dropped by
  // the core. kCorruption (the message contradicts committed state) and kInvalidArgument (the
  // simulator misrouted it) mean something is broken.
  const Status st = n.raw().step(message);
  if (st.code() == ErrorCode::kCorruption || st.code() == ErrorCode::kInvalidArgument) {
    fail(fmt::format("{} refused a {} from {}: {}", n.id(), pb::MessageType_Name(message.type()),
                     id(from), st.to_string()));
  }
  drain(to);
}

void SimCluster::finish_write(int i) {
  SimNode& n = mutable_node(i);
  auto& pending = pending_writes_[static_cast<std::size_t>(i)];
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kPersist;
  r.node = i;
  r.n_entries = pending->ready.entries.size();
  r.index = pending->ready.entries.empty() ? 0 : pending->ready.entries.back().index();
  trace_.record(std::move(r));
  PendingWrite write = std::move(*pending);
  pending.reset();
  complete_write(i, write.ready, write.from_established_leader);
  n.raw().advance();
  drain(i);
}

void SimCluster::drain(int i) {
  SimNode& n = mutable_node(i);
  RawNode& raw = n.raw();
  auto& pending = pending_writes_[static_cast<std::size_t>(i)];
  int rounds = 0;
  // With a write in flight, the next ready() waits for its advance().
  while (!pending && raw.has_ready()) {
    if (++rounds > kMaxReadyRounds) fail(fmt::format("{}: has_ready() never turns false", n.id()));
    Ready rd = raw.ready();
    const bool from_established_leader = checker_.established_leader(i, raw);
    // 1. Messages that depend only on already-durable state go out at once, and read
    // states are acted on (they need no persistence).
    for (const pb::Message& m : rd.messages) send(i, m);
    for (const ReadState& rs : rd.read_states) {
      TraceRecord r;
      r.time = now_;
      r.kind = TraceKind::kReadState;
      r.node = i;
      r.term = raw.term();
      r.index = rs.index;
      r.value = static_cast<std::uint64_t>(rs.status.code());
      r.note = rs.context;
      trace_.record(std::move(r));
      if (read_observer_) read_observer_(i, rs);
    }
    if (options_.disk_delay_max <= 0) {
      complete_write(i, rd, from_established_leader);
      raw.advance();
      continue;
    }
    pending = PendingWrite{std::move(rd), from_established_leader, false};
    Event e;
    e.time = now_ + random_.uniform_signed(options_.disk_delay_min, options_.disk_delay_max);
    e.kind = EventKind::kPersist;
    e.node = i;
    e.incarnation = n.incarnation();
    queue_.push(std::move(e));
  }
  checker_.after_event(i, raw, n.durable(), !pending.has_value());
}

void SimCluster::complete_write(int i, const Ready& rd, bool from_established_leader) {
  SimNode& n = mutable_node(i);
  if (n.storage_kind() == StorageKind::kMemory) {
    MemoryStorage& storage = n.storage();
    // 2. Write snapshot chunks; install a completed snapshot (storage reset to it, state
    // machine restored) before appending the entries that follow it. Then persist entries and
    // hard state (MemoryStorage writes count as durable).
    for (const SnapshotChunk& chunk : rd.snapshot_chunks) {
      Status st = n.write_snapshot_chunk(chunk);
      if (!st.ok()) fail(fmt::format("{}: {}", n.id(), st.to_string()));
    }
    if (rd.snapshot) install_snapshot(i, *rd.snapshot);
    checker_.before_append(i, from_established_leader, storage, rd.entries);
    if (!rd.entries.empty()) {
      Status st = storage.append(rd.entries);
      if (!st.ok()) {
        fail(fmt::format("{}: appending Ready.entries failed: {}", n.id(), st.to_string()));
      }
    }
    if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
  } else {
    // 2. DurableStorage::persist: a snapshot first (chunks, then the install), so the
    // checker sees the log reset before the entries that follow it.
    const bool has_snapshot = !rd.snapshot_chunks.empty() || rd.snapshot.has_value();
    if (has_snapshot) {
      Ready part;
      part.snapshot_chunks = rd.snapshot_chunks;
      part.snapshot = rd.snapshot;
      part.must_sync = true;
      Status st = n.persist(part);
      if (!st.ok())
        fail(fmt::format("{}: persisting a snapshot failed: {}", n.id(), st.to_string()));
      if (rd.snapshot) install_snapshot(i, *rd.snapshot);
    }
    checker_.before_append(i, from_established_leader, n.durable(), rd.entries);
    Status st;
    if (has_snapshot) {
      Ready rest;
      rest.entries = rd.entries;
      rest.hard_state = rd.hard_state;
      rest.must_sync = rd.must_sync;
      st = n.persist(rest);
    } else {
      st = n.persist(rd);
    }
    if (!st.ok()) fail(fmt::format("{}: persisting a Ready failed: {}", n.id(), st.to_string()));
  }
  checker_.after_persist(i, n.durable());
  // 3. Messages that promise durability.
  for (const pb::Message& m : rd.persisted_messages) send(i, m);
  // 4. Apply committed entries, in order.
  for (const pb::Entry& e : rd.committed_entries) {
    checker_.on_apply(i, n.durable(), e);
    n.apply(e);
    if (apply_observer_) apply_observer_(i, e);
  }
  if (!rd.committed_entries.empty() && options_.snapshot_threshold > 0 &&
      n.applied_index() - n.snapshot_index() >= options_.snapshot_threshold) {
    take_snapshot(i);
  }
}

void SimCluster::install_snapshot(int i, const pb::SnapshotMetadata& metadata) {
  SimNode& n = mutable_node(i);
  Status st = n.install_snapshot(metadata);
  if (!st.ok()) fail(fmt::format("{}: installing a snapshot failed: {}", n.id(), st.to_string()));
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kRestore;
  r.node = i;
  r.term = metadata.term();
  r.index = metadata.index();
  r.value = metadata.size();
  trace_.record(std::move(r));
  checker_.on_restore(i, n.durable(), metadata, n.applied_log());
  if (restore_observer_) restore_observer_(i, metadata.index());
}

void SimCluster::take_snapshot(int i) {
  SimNode& n = mutable_node(i);
  if (!n.begin_snapshot()) return;
  // Disk mode: the snapshot is written while the node goes on (never in memory mode, whose
  // runs draw no more random numbers than they always did).
  if (n.storage_kind() == StorageKind::kDisk && options_.disk_delay_max > 0 && n.alive()) {
    Event e;
    e.time = now_ + random_.uniform_signed(options_.disk_delay_min, options_.disk_delay_max);
    e.kind = EventKind::kSnapshotWrite;
    e.node = i;
    e.incarnation = n.incarnation();
    e.snapshot_index = n.snapshot_in_flight_index();
    queue_.push(std::move(e));
    return;
  }
  finish_snapshot(i);
}

void SimCluster::finish_snapshot(int i) {
  SimNode& n = mutable_node(i);
  Status st = n.finish_snapshot(options_.snapshot_trailing);
  if (!st.ok()) fail(fmt::format("{}: taking a snapshot failed: {}", n.id(), st.to_string()));
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kSnapshot;
  r.node = i;
  r.index = n.snapshot_index();
  r.value = n.log().first_index();
  trace_.record(std::move(r));
}

void SimCluster::send(int from, const pb::Message& message) {
  checker_.before_send(from, node(from).durable(), message);
  network_.count_sent(from, message);
  const int to = index_of(message.to());
  if (to < 0) {
    trace_.record_message(now_, TraceKind::kDrop, to, from, message, "unknown receiver");
    return;
  }
  if (!node(to).alive() || !network_.can_communicate(from, to)) {
    trace_.record_message(now_, TraceKind::kDrop, to, from, message,
                          node(to).alive() ? "cut off" : "receiver down");
    return;
  }
  const Route route = network_.route(random_);
  if (route.copies == 0) {
    trace_.record_message(now_, TraceKind::kDrop, to, from, message, "lost");
    return;
  }
  for (int c = 0; c < route.copies; ++c) {
    Event e;
    e.time = now_ + route.delays[static_cast<std::size_t>(c)];
    e.kind = EventKind::kDeliver;
    e.node = to;
    e.from = from;
    e.message = message;
    queue_.push(std::move(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Requests.

namespace {

Status paused_status(const NodeId& id) {
  return Status(ErrorCode::kTimeout, id + " is paused (a stopped process answers nothing)");
}

}  // namespace

Result<Index> SimCluster::propose(int i, std::string data) {
  if (!alive(i)) return Status(ErrorCode::kShutdown, id(i) + " is down");
  if (paused(i)) return paused_status(id(i));
  SimNode& n = mutable_node(i);
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kPropose;
  r.node = i;
  r.note = data;
  Result<Index> result = n.raw().propose(std::move(data));
  r.term = n.raw().term();
  r.index = result.ok() ? result.value() : 0;
  r.value = static_cast<std::uint64_t>(result.status().code());
  trace_.record(std::move(r));
  drain(i);
  return result;
}

std::vector<Result<Index>> SimCluster::propose_batch(int i, const std::vector<std::string>& data) {
  std::vector<Result<Index>> results;
  if (!alive(i)) {
    for (std::size_t k = 0; k < data.size(); ++k) {
      results.emplace_back(Status(ErrorCode::kShutdown, id(i) + " is down"));
    }
    return results;
  }
  if (paused(i)) {
    for (std::size_t k = 0; k < data.size(); ++k) results.emplace_back(paused_status(id(i)));
    return results;
  }
  SimNode& n = mutable_node(i);
  for (const std::string& d : data) {
    Result<Index> result = n.raw().propose(d);
    TraceRecord r;
    r.time = now_;
    r.kind = TraceKind::kPropose;
    r.node = i;
    r.note = d;
    r.term = n.raw().term();
    r.index = result.ok() ? result.value() : 0;
    r.value = static_cast<std::uint64_t>(result.status().code());
    trace_.record(std::move(r));
    results.push_back(std::move(result));
  }
  drain(i);
  return results;
}

Status SimCluster::transfer_leadership(int leader, int target) {
  if (!alive(leader)) return Status(ErrorCode::kShutdown, id(leader) + " is down");
  if (paused(leader)) return paused_status(id(leader));
  SimNode& n = mutable_node(leader);
  Status st = n.raw().transfer_leadership(id(target));
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kTransfer;
  r.node = leader;
  r.peer = target;
  r.term = n.raw().term();
  r.value = static_cast<std::uint64_t>(st.code());
  trace_.record(std::move(r));
  drain(leader);
  return st;
}

Status SimCluster::campaign(int i) {
  if (!alive(i)) return Status(ErrorCode::kShutdown, id(i) + " is down");
  if (paused(i)) return paused_status(id(i));
  SimNode& n = mutable_node(i);
  Status st = n.raw().campaign();
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kCampaign;
  r.node = i;
  r.term = n.raw().term();
  r.value = static_cast<std::uint64_t>(st.code());
  trace_.record(std::move(r));
  drain(i);
  return st;
}

Status SimCluster::read_index(int i, std::string context, ReadMode mode) {
  if (!alive(i)) return Status(ErrorCode::kShutdown, id(i) + " is down");
  if (paused(i)) return paused_status(id(i));
  SimNode& n = mutable_node(i);
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kReadIndex;
  r.node = i;
  r.note = mode == ReadMode::kLease ? context + " (lease)" : context;
  Status st = n.raw().read_index(std::move(context), mode);
  r.term = n.raw().term();
  r.value = static_cast<std::uint64_t>(st.code());
  trace_.record(std::move(r));
  drain(i);
  return st;
}

Result<Index> SimCluster::propose_conf_change(int i, const ConfChange& change) {
  if (!alive(i)) return Status(ErrorCode::kShutdown, id(i) + " is down");
  if (paused(i)) return paused_status(id(i));
  SimNode& n = mutable_node(i);
  Result<Index> result = n.raw().propose_conf_change(change);
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kConfChange;
  r.node = i;
  r.term = n.raw().term();
  r.index = result.ok() ? result.value() : 0;
  r.value = static_cast<std::uint64_t>(result.status().code());
  r.note = fmt::format("{} {}", to_string(change.type), change.id);
  trace_.record(std::move(r));
  drain(i);
  return result;
}

Result<Index> SimCluster::change_membership(const ConfChange& change, SimTime timeout) {
  const SimTime deadline = now_ + timeout;
  // The last proposal a leader accepted: the entry at `index` of term `term` (for a change
  // that changes nothing, the existing configuration entry, which is committed already).
  struct Accepted {
    Index index = 0;
    Term term = 0;
  };
  std::optional<Accepted> accepted;
  // Whether some node applied the accepted entry (the same index and term everywhere).
  auto applied = [&] {
    if (!accepted) return false;
    for (int k = 0; k < size(); ++k) {
      const pb::Entry* e = node(k).applied_at(accepted->index);
      if (e != nullptr && e->term() == accepted->term && e->type() == pb::ENTRY_CONF_CHANGE) {
        return true;
      }
    }
    return false;
  };
  int start = 0;
  while (now_ < deadline) {
    if (applied()) return accepted->index;
    bool proposed = false;
    for (int k = 0; k < size() && !proposed; ++k) {
      start = (start + 1) % size();
      if (!alive(start) || paused(start) || !connected(start)) continue;
      const Index last_before = node(start).raw().status().last_index;
      Result<Index> r = propose_conf_change(start, change);
      if (r.ok()) {
        proposed = true;
        Term term = node(start).raw().term();
        if (r.value() <= last_before) {
          // Nothing to change: the answer is the committed configuration entry.
          const pb::Entry* e = node(start).applied_at(r.value());
          if (e == nullptr) {
            auto t = node(start).log().term(r.value());
            term = t.ok() ? t.value() : 0;
          } else {
            term = e->term();
          }
        }
        accepted = Accepted{r.value(), term};
        break;
      }
      const ErrorCode code = r.status().code();
      const bool retry = code == ErrorCode::kNotLeader ||
                         code == ErrorCode::kConfChangeInProgress ||
                         code == ErrorCode::kTransferInProgress || code == ErrorCode::kTimeout ||
                         code == ErrorCode::kShutdown;
      if (!retry) {
        // Retrying a change that went through is refused (e.g. removing a server twice).
        if (applied()) return accepted->index;
        return r.status();
      }
    }
    if (!proposed) {
      run_for(milliseconds(50));
      continue;
    }
    run_until(applied, std::min<SimTime>(seconds(2), std::max<SimTime>(0, deadline - now_)));
  }
  if (applied()) return accepted->index;
  return Status(ErrorCode::kTimeout,
                fmt::format("{} {} was not applied within {:.0f} ms", to_string(change.type),
                            change.id, static_cast<double>(timeout) / kMillisecond));
}

pb::Configuration SimCluster::configuration(int i) const {
  if (alive(i)) return node(i).raw().status().configuration;
  // Down: the newest configuration entry of its durable log, else the snapshot's (or base).
  const LogReader& storage = node(i).log();
  if (storage.last_index() >= storage.first_index()) {
    auto entries =
        storage.entries(storage.first_index(), storage.last_index() + 1, ~std::uint64_t{0});
    if (entries.ok()) {
      for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
        if (it->type() != pb::ENTRY_CONF_CHANGE) continue;
        pb::Configuration c;
        if (c.ParseFromString(it->data())) return c;
      }
    }
  }
  auto initial = storage.initial_state();
  return initial.ok() ? initial->configuration : pb::Configuration();
}

Status SimCluster::snapshot(int i) {
  if (node(i).applied_index() == 0) {
    return Status(ErrorCode::kInvalidArgument, id(i) + " has applied nothing to snapshot");
  }
  take_snapshot(i);
  return Status::ok_status();
}

// ---------------------------------------------------------------------------------------------
// Inspection and harness checks.

RawNode* SimCluster::raw(int i) { return alive(i) ? &mutable_node(i).raw() : nullptr; }

bool SimCluster::is_leader(int i) const {
  return alive(i) && !paused(i) && connected(i) && node(i).raw().role() == Role::kLeader;
}

std::vector<int> SimCluster::leaders() const {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (is_leader(i)) out.push_back(i);
  }
  return out;
}

std::optional<int> SimCluster::leader() const {
  std::optional<int> best;
  for (int i : leaders()) {
    if (!best || node(i).raw().term() > node(*best).raw().term()) best = i;
  }
  return best;
}

int SimCluster::check_one_leader() {
  if (!run_until([this] { return leader().has_value(); }, seconds(5))) {
    fail("check_one_leader: no leader among the live connected nodes within 5 s");
  }
  return *leader();
}

void SimCluster::check_no_leader() {
  for (int i : leaders()) {
    fail(fmt::format("check_no_leader: {} is leader in term {}", id(i), node(i).raw().term()));
  }
}

Term SimCluster::check_terms() {
  std::optional<Term> term;
  for (int i = 0; i < size(); ++i) {
    if (!alive(i) || paused(i) || !connected(i)) continue;
    const Term t = node(i).raw().term();
    if (term && *term != t)
      fail(fmt::format("check_terms: servers disagree on term ({} vs {})", *term, t));
    term = t;
  }
  if (!term) fail("check_terms: no live connected node");
  return *term;
}

Committed SimCluster::n_committed(Index index) const {
  Committed c;
  const pb::Entry* first = nullptr;
  for (int i = 0; i < size(); ++i) {
    const pb::Entry* e = node(i).applied_at(index);
    if (e == nullptr) continue;
    if (first != nullptr && (first->term() != e->term() || first->data() != e->data())) {
      fail(fmt::format("n_committed: values differ at index {}: '{}' vs '{}'", index, first->data(),
                       e->data()));
    }
    if (first == nullptr) {
      first = e;
      if (e->type() == pb::ENTRY_NORMAL) c.command = e->data();
    }
    ++c.count;
  }
  return c;
}

Index SimCluster::one(const std::string& command, int expected_servers, bool retry) {
  const SimTime deadline = now_ + seconds(10);
  int starts = 0;
  while (now_ < deadline) {
    // Try every server; maybe one is the leader.
    std::optional<Index> index;
    for (int k = 0; k < size(); ++k) {
      starts = (starts + 1) % size();
      if (!alive(starts) || !connected(starts)) continue;
      Result<Index> r = propose(starts, command);
      if (r.ok()) {
        index = r.value();
        break;
      }
    }
    if (!index) {
      run_for(milliseconds(50));
      continue;
    }
    // Somebody accepted it as leader; wait a while for agreement.
    const Index at = *index;
    run_until(
        [&] {
          const Committed c = n_committed(at);
          return c.count > 0 && c.count >= expected_servers;
        },
        seconds(2));
    const Committed c = n_committed(at);
    if (c.count > 0 && c.count >= expected_servers && c.command == command) return at;
    if (!retry) {
      fail(
          fmt::format("one('{}', {}) failed to reach agreement: proposed at index {}, applied "
                      "by {} node(s)",
                      command, expected_servers, at, c.count));
    }
  }
  fail(fmt::format("one('{}', {}) failed to reach agreement within 10 s", command,
                   expected_servers));
}

}  // namespace raft::sim
