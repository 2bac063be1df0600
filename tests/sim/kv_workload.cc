#include "sim/kv_workload.h"

#include <fmt/format.h>

namespace raft::sim {

KvWorkload::KvWorkload(SimCluster& cluster, const WorkloadOptions& options)
    : cluster_(cluster),
      options_(options),
      machines_(static_cast<std::size_t>(cluster.size())),
      read_choice_(cluster.seed() ^ 0x4eadd1ceull),
      lease_choice_(cluster.seed() ^ 0x1ea5e5ull) {
  for (int i = 0; i < options_.clients; ++i) {
    Client c;
    c.id = static_cast<std::uint64_t>(i + 1);
    c.target = random_node();
    clients_.push_back(std::move(c));
  }
}

int KvWorkload::random_node() { return cluster_.random().index(cluster_.size()); }

bool KvWorkload::idle() const {
  for (const auto& c : clients_) {
    if (c.pending) return false;
  }
  return true;
}

void KvWorkload::step() {
  const SimTime now = cluster_.now();
  for (auto& c : clients_) {
    if (c.next_action > now) continue;
    if (!c.pending) {
      if (final_phase_ || all_issued()) continue;
      start_operation(c);
      continue;
    }
    Pending& p = *c.pending;
    if (!final_phase_ && now >= p.give_up_at) {
      abandon(c);
      continue;
    }
    if (p.queued_at_paused && now < p.try_deadline && !cluster_.paused(p.node)) {
      // The node resumed and reads the request from its socket.
      p.queued_at_paused = false;
      c.target = p.node;
      try_propose(c);
      continue;
    }
    if (p.node < 0 || now >= p.try_deadline) {
      // No answer in time (or no node took it yet): try again, elsewhere if need be.
      if (p.node >= 0) c.target = random_node();
      try_propose(c);
    }
  }
}

void KvWorkload::start_operation(Client& c) {
  SimRandom& r = cluster_.random();
  KvCommand cmd;
  cmd.client = c.id;
  cmd.seq = ++c.seq;
  cmd.key = fmt::format("k{}", r.index(options_.keys));
  const int roll = r.index(100);
  if (roll < 35) {
    cmd.kind = lincheck::OpKind::kPut;
    cmd.value = fmt::format("c{}s{}", c.id, cmd.seq);
  } else if (roll < 70) {
    cmd.kind = lincheck::OpKind::kGet;
  } else if (roll < 90) {
    cmd.kind = lincheck::OpKind::kCas;
    cmd.value = fmt::format("c{}s{}", c.id, cmd.seq);
    if (!c.seen.empty() && !r.chance(0.2))
      cmd.expected = c.seen[static_cast<std::size_t>(r.index(static_cast<int>(c.seen.size())))];
  } else {
    cmd.kind = lincheck::OpKind::kDelete;
  }
  Pending p;
  p.command = cmd;
  p.op.client = c.id;
  p.op.kind = cmd.kind;
  p.op.key = cmd.key;
  p.op.value = cmd.value;
  p.op.expected = cmd.expected;
  p.op.call = static_cast<std::uint64_t>(cluster_.now());
  if (cmd.kind == lincheck::OpKind::kGet && options_.read_index_fraction > 0) {
    p.via_read_index = read_choice_.chance(options_.read_index_fraction);
    if (p.via_read_index && options_.lease_read_fraction > 0) {
      p.lease = lease_choice_.chance(options_.lease_read_fraction);
    }
  }
  p.give_up_at = cluster_.now() + options_.op_budget;
  c.pending = std::move(p);
  ++issued_;
  // Like clients behind a load balancer: each new operation goes to any node, and "not
  // leader" answers redirect it.
  c.target = random_node();
  try_propose(c);
}

void KvWorkload::try_propose(Client& c) {
  Pending& p = *c.pending;
  const SimTime now = cluster_.now();
  const int node = c.target;
  p.node = -1;
  p.queued_at_paused = false;
  // Clients reach any running node, whatever partitions cut the nodes apart: a leader cut off
  // from its peers may well still be reachable by clients (the classic stale-read setting).
  if (cluster_.alive(node) && cluster_.paused(node)) {
    // A stopped process accepts the request into its socket and answers it when it resumes,
    // unless the client times out first.
    p.node = node;
    p.queued_at_paused = true;
    p.try_deadline = now + options_.attempt_timeout;
    return;
  }
  if (!cluster_.alive(node)) {
    // Connection refused: try elsewhere soon.
    c.target = random_node();
    c.next_action = now + milliseconds(5);
    return;
  }
  RawNode* raw = cluster_.raw(node);
  if (options_.leader_local_read && p.command.kind == lincheck::OpKind::kGet &&
      raw->role() == Role::kLeader) {
    KvResult local;
    local.read = machines_[static_cast<std::size_t>(node)].local_get(p.command.key);
    finish(c, local);
    return;
  }
  if (p.via_read_index) {
    try_read_index(c);
    return;
  }
  Result<Index> r = cluster_.propose(node, p.command.encode());
  if (r.ok()) {
    p.node = node;
    p.try_deadline = now + options_.attempt_timeout;
    return;
  }
  redirect(c, r.status());
}

void KvWorkload::redirect(Client& c, const Status& refusal) {
  const SimTime now = cluster_.now();
  if (refusal.code() == ErrorCode::kNotLeader && !refusal.leader_hint().empty()) {
    const int hinted = cluster_.index_of(refusal.leader_hint());
    c.target = hinted >= 0 ? hinted : random_node();
    c.next_action = now + milliseconds(1);
  } else {
    // No leader known (election running) or a transfer in progress: back off.
    c.target = random_node();
    c.next_action = now + milliseconds(10);
  }
}

void KvWorkload::try_read_index(Client& c) {
  Pending& p = *c.pending;
  const int node = c.target;
  // Each try has its own context: a late answer to an earlier try is ignored.
  p.read_context = fmt::format("c{}s{}t{}", c.id, p.command.seq, ++p.tries);
  p.read_point.reset();
  // Set before asking: a single voter answers within the call.
  p.node = node;
  p.try_deadline = cluster_.now() + options_.attempt_timeout;
  Status st =
      cluster_.read_index(node, p.read_context, p.lease ? ReadMode::kLease : ReadMode::kReadIndex);
  if (st.ok() || !c.pending) return;
  p.node = -1;
  redirect(c, st);
}

void KvWorkload::on_read_state(int node, const ReadState& read) {
  for (auto& c : clients_) {
    if (!c.pending || !c.pending->via_read_index || c.pending->node != node ||
        c.pending->read_context != read.context) {
      continue;
    }
    Pending& p = *c.pending;
    if (!read.status.ok()) {
      // Leadership lost, or the leader refused: try again (step() does, at next_action).
      p.node = -1;
      redirect(c, read.status);
      return;
    }
    p.read_point = read.index;
    serve_reads(node);
    return;
  }
}

void KvWorkload::serve_reads(int node) {
  const Index applied = cluster_.node(node).applied_index();
  for (auto& c : clients_) {
    if (!c.pending || c.pending->node != node || !c.pending->read_point ||
        *c.pending->read_point > applied) {
      continue;
    }
    KvResult result;
    result.read = machines_[static_cast<std::size_t>(node)].local_get(c.pending->command.key);
    ++read_index_reads_;
    if (c.pending->lease) ++lease_reads_;
    finish(c, result);
  }
}

void KvWorkload::on_apply(int node, const pb::Entry& entry) {
  if (entry.type() != pb::ENTRY_NORMAL) {
    serve_reads(node);
    return;
  }
  auto cmd = KvCommand::decode(entry.data());
  if (!cmd)
    cluster_.fail(
        fmt::format("node {} applied an entry that is not a KV command: '{}'", node, entry.data()));
  const KvResult result = machines_[static_cast<std::size_t>(node)].apply(*cmd);
  for (auto& c : clients_) {
    if (c.id == cmd->client && c.pending && c.pending->node == node &&
        c.pending->command.seq == cmd->seq) {
      finish(c, result);
    }
  }
  serve_reads(node);
}

void KvWorkload::on_restore(int node) {
  KvStateMachine rebuilt;
  for (const pb::Entry& e : cluster_.node(node).applied_log()) {
    if (e.type() != pb::ENTRY_NORMAL) continue;
    auto cmd = KvCommand::decode(e.data());
    if (!cmd) {
      cluster_.fail(
          fmt::format("node {} restored an entry that is not a KV command: '{}'", node, e.data()));
    }
    rebuilt.apply(*cmd);
  }
  machines_[static_cast<std::size_t>(node)] = std::move(rebuilt);
  serve_reads(node);
}

void KvWorkload::finish(Client& c, const KvResult& result) {
  lincheck::KvOp op = std::move(c.pending->op);
  op.ret = static_cast<std::uint64_t>(cluster_.now());
  op.read = result.read;
  op.cas_ok = result.cas_ok;
  if (result.read) c.seen.push_back(*result.read);
  if (op.kind == lincheck::OpKind::kPut || (op.kind == lincheck::OpKind::kCas && op.cas_ok))
    c.seen.push_back(op.value);
  if (c.seen.size() > 8) c.seen.erase(c.seen.begin());
  history_.push_back(std::move(op));
  c.pending.reset();
  ++completed_;
  c.next_action = cluster_.now() + cluster_.random().uniform_signed(0, milliseconds(20));
}

void KvWorkload::abandon(Client& c) {
  lincheck::KvOp op = std::move(c.pending->op);
  op.known = false;
  history_.push_back(std::move(op));
  c.pending.reset();
  ++unknown_;
  c.target = random_node();
  c.next_action = cluster_.now();
}

std::string KvWorkload::describe_pending() const {
  std::string out;
  for (const auto& c : clients_) {
    if (!c.pending) continue;
    out += fmt::format("  client {}: {} (last tried on node {})\n", c.id,
                       lincheck::describe(c.pending->op), c.pending->node);
  }
  return out;
}

}  // namespace raft::sim
