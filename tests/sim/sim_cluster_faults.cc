// SimCluster's faults: crashes (with lost or torn disk writes), restarts, pauses, network
// partitions and one-way link faults, and the observers. The event loop, requests and harness
// checks are in sim_cluster.cc.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sim/sim_cluster.h"

namespace raft::sim {

// ---------------------------------------------------------------------------------------------
// Crashes and restarts.

void SimCluster::crash(int i) {
  SimNode& n = mutable_node(i);
  if (!n.alive()) return;
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kCrash;
  r.node = i;
  r.term = n.raw().term();
  r.index = n.log().last_index();
  auto& pending = pending_writes_[static_cast<std::size_t>(i)];
  r.n_entries = pending ? pending->ready.entries.size() : 0;
  // A paused process dies with its socket buffer (noted only then, so traces of runs
  // without pauses keep their hashes).
  PauseState& pause = pause_[static_cast<std::size_t>(i)];
  if (pause.paused) r.note = fmt::format("paused, {} buffered dropped", pause.buffer.size());
  pause = PauseState{};
  trace_.record(std::move(r));
  n.crash();
  if (n.storage_kind() == StorageKind::kDisk) {
    crash_disk(i, pending ? &pending->ready : nullptr);
  } else if (pending && options_.torn_writes) {
    // A disk write in flight is lost, or torn.
    tear_write(i, *pending);
  }
  pending.reset();
  checker_.on_crash(i);
}

void SimCluster::crash_disk(int i, const Ready* write) {
  SimNode& n = mutable_node(i);
  using CrashMode = FaultInjectingFileSystem::CrashMode;
  CrashMode mode = CrashMode::kDropUnsynced;
  std::uint64_t crash_at = 0;
  const bool torn = write != nullptr && options_.torn_writes;
  if (torn) {
    mode = random_.chance(0.5) ? CrashMode::kTearTail : CrashMode::kZeroTail;
    crash_at = random_.uniform(1, 16);
  }
  n.crash_storage(mode, torn ? write : nullptr, crash_at);
  // The machine reboots: recovery runs now, and the checker sees what survived.
  Status st = n.reopen_storage();
  if (!st.ok()) fail(fmt::format("{}: recovery after a crash failed: {}", n.id(), st.to_string()));
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kRestore;
  r.node = i;
  r.term = n.hard_state().term();
  r.index = n.applied_index();
  r.commit = n.hard_state().commit();
  r.value = n.log().last_index();
  r.note = fmt::format("reboot ({}{}): log {}..{}", torn ? "write in flight torn at call " : "",
                       torn ? std::to_string(crash_at) : "power loss", n.log().first_index(),
                       n.log().last_index());
  trace_.record(std::move(r));
  checker_.on_restart(i, n.durable(), n.applied_index());
  if (restore_observer_) restore_observer_(i, n.applied_index());
}

void SimCluster::tear_write(int i, const PendingWrite& write) {
  MemoryStorage& storage = mutable_node(i).storage();
  const std::vector<pb::Entry>& entries = write.ready.entries;
  // A snapshot install comes first in the write and only counts once it is whole (a host
  // writes the snapshot file, fsyncs, then renames it into place), so a torn write with one
  // keeps nothing of it nor of the entries after it: the old log stays. Its chunks went to
  // the partial snapshot, which the crash dropped anyway.
  const bool lost_snapshot = write.ready.snapshot.has_value();
  // A strict prefix of the records reached the disk whole; the storage layer cuts the rest.
  std::size_t kept = 0;
  if (!entries.empty() && !lost_snapshot) {
    kept = static_cast<std::size_t>(random_.uniform(0, entries.size() - 1));
  }
  // The hard state file was replaced atomically, or not at all.
  const bool keep_hard_state = write.ready.hard_state.has_value() && random_.chance(0.5);

  const std::vector<pb::Entry> prefix(entries.begin(),
                                      entries.begin() + static_cast<std::ptrdiff_t>(kept));
  checker_.before_append(i, write.from_established_leader, storage, prefix);
  if (!prefix.empty()) {
    const Status st = storage.append(prefix);
    if (!st.ok()) fail(fmt::format("{}: keeping a torn write failed: {}", id(i), st.to_string()));
  }
  if (keep_hard_state) {
    pb::HardState hs = *write.ready.hard_state;
    // The commit index may not point past what survived of the log (see sim_cluster.h).
    const Index durable_last = entries.empty() || lost_snapshot
                                   ? storage.last_index()
                                   : entries.front().index() - 1 + kept;
    hs.set_commit(std::max(storage.hard_state().commit(), std::min(hs.commit(), durable_last)));
    storage.set_hard_state(hs);
  }
  checker_.after_persist(i, storage);

  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kTornWrite;
  r.node = i;
  r.term = storage.hard_state().term();
  r.index = storage.last_index();
  r.commit = storage.hard_state().commit();
  r.n_entries = kept;
  r.value = keep_hard_state ? 1 : 0;
  r.note = fmt::format("kept {} of {} entries, hard state {}{}", kept, entries.size(),
                       !write.ready.hard_state ? "none"
                       : keep_hard_state       ? "kept"
                                               : "lost",
                       lost_snapshot ? ", snapshot install lost" : "");
  trace_.record(std::move(r));
}

void SimCluster::restart(int i) {
  crash(i);
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kRestart;
  r.node = i;
  r.index = node(i).applied_index();
  trace_.record(std::move(r));
  start_node(i, /*restarted=*/true);
}

const Ready* SimCluster::write_in_flight(int i) const {
  const auto& pending = pending_writes_[static_cast<std::size_t>(i)];
  return pending ? &pending->ready : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Pauses.

void SimCluster::pause(int i) {
  if (!alive(i) || paused(i)) return;
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kPause;
  r.node = i;
  r.term = node(i).raw().term();
  r.index = node(i).log().last_index();
  trace_.record(std::move(r));
  pause_[static_cast<std::size_t>(i)].paused = true;
}

void SimCluster::resume(int i) {
  if (!paused(i)) return;
  PauseState& pause = pause_[static_cast<std::size_t>(i)];
  std::vector<Buffered> buffer = std::move(pause.buffer);
  const int missed_ticks = pause.missed_ticks;
  pause = PauseState{};
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kResume;
  r.node = i;
  r.term = node(i).raw().term();
  r.n_entries = buffer.size();
  trace_.record(std::move(r));
  // The write that finished while the process was stopped is seen first (it was issued
  // before any of the buffered messages were read) ...
  const auto& pending = pending_writes_[static_cast<std::size_t>(i)];
  if (pending && pending->due) finish_write(i);
  // ... with lease reads, the process catches up on the time it missed (a leader must not
  // believe its lease younger than it is; beyond a few election timeouts more ticks change
  // nothing) ...
  const int catch_up = std::min(missed_ticks, 4 * options_.election_tick);
  for (int t = 0; t < catch_up && alive(i); ++t) {
    SimNode& n = mutable_node(i);
    TraceRecord tr;
    tr.time = now_;
    tr.kind = TraceKind::kTick;
    tr.node = i;
    tr.term = n.raw().term();
    tr.value = static_cast<std::uint64_t>(n.raw().role());
    tr.note = "caught up after resume";
    trace_.record(std::move(tr));
    n.raw().tick();
    drain(i);
  }
  // ... then the socket buffer is read, in arrival order.
  for (const Buffered& b : buffer) deliver(i, b.from, b.message, "after resume");
}

std::vector<pb::Message> SimCluster::buffered_messages(int i) const {
  std::vector<pb::Message> out;
  for (const Buffered& b : pause_[static_cast<std::size_t>(i)].buffer) out.push_back(b.message);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The network.

void SimCluster::trace_network(const std::string& what) {
  TraceRecord r;
  r.time = now_;
  r.kind = TraceKind::kNetwork;
  r.note = what;
  trace_.record(std::move(r));
}

std::string SimCluster::group_names(const std::vector<int>& group) const {
  std::string out = "{";
  for (int i : group) out += " " + id(i);
  return out + " }";
}

void SimCluster::disconnect(int i) {
  network_.disconnect(i);
  trace_network("disconnect " + id(i));
}

void SimCluster::connect(int i) {
  network_.connect(i);
  trace_network("connect " + id(i));
}

void SimCluster::partition(const std::vector<std::vector<int>>& groups) {
  network_.partition(groups);
  std::string what = "partition";
  for (const auto& g : groups) what += " " + group_names(g);
  trace_network(what);
}

void SimCluster::heal() {
  network_.heal();
  trace_network("heal");
}

void SimCluster::set_network(const NetworkOptions& options) {
  network_.set_options(options);
  trace_network(fmt::format("options delay=[{},{}] drop={} dup={} long={}@{}", options.min_delay,
                            options.max_delay, options.drop_probability,
                            options.duplicate_probability, options.long_delay_probability,
                            options.long_delay_max));
}

void SimCluster::block_link(int from, int to) {
  network_.block_link(from, to);
  trace_network(fmt::format("block {}->{}", id(from), id(to)));
}

void SimCluster::unblock_link(int from, int to) {
  network_.unblock_link(from, to);
  trace_network(fmt::format("unblock {}->{}", id(from), id(to)));
}

void SimCluster::bridge(const std::vector<int>& a, const std::vector<int>& b, int bridge_node) {
  network_.bridge(a, b, bridge_node);
  trace_network(
      fmt::format("bridge {} {} via {}", group_names(a), group_names(b), id(bridge_node)));
}

// ---------------------------------------------------------------------------------------------
// Observers.

void SimCluster::set_delivery_observer(std::function<void(const pb::Message&)> observer) {
  delivery_observer_ = std::move(observer);
}

void SimCluster::set_apply_observer(
    std::function<void(int node, const pb::Entry& entry)> observer) {
  apply_observer_ = std::move(observer);
}

void SimCluster::set_restart_observer(std::function<void(int node)> observer) {
  restart_observer_ = std::move(observer);
}

void SimCluster::set_read_observer(std::function<void(int node, const ReadState& read)> observer) {
  read_observer_ = std::move(observer);
}

void SimCluster::set_restore_observer(std::function<void(int node, Index index)> observer) {
  restore_observer_ = std::move(observer);
}

}  // namespace raft::sim
