// ReadIndex (dissertation 6.4): linearizable reads without writing to the log.
//
// The leader records its commit index as the read point of a request, then proves that it
// still leads: a quorum of voters must acknowledge a heartbeat sent after the request was
// taken. Heartbeats carry a read sequence number that only grows; followers echo it; the
// leader keeps, per peer, the highest number echoed. A request taken while the number is s
// is served by the next heartbeat round (s + 1), and any later heartbeat (they all carry the
// current number) also confirms it. One round is in flight at a time: the next leaves when
// a quorum has answered the last (or a tick after it left, should it be lost), so every
// request taken meanwhile shares one broadcast — under load, a round per round trip rather
// than per ready(). A leader that has not yet committed an entry of its term does not know
// the newest commit index yet (dissertation 6.4, step 1): requests wait for that commit.
//
// Followers forward requests to the leader they know (MSG_READ_INDEX) and hand the answer
// (MSG_READ_INDEX_RESP) back to their host as a ReadState; they keep no state for them, so a
// lost request or answer is timed out by the host.
//
// Leader lease (dissertation 6.4.1): every heartbeat round has a sequence number of its own
// and the leader remembers the tick each recent round left at. A voter that acknowledges a
// round received it after it left, and from then on ignores vote requests for an election
// timeout of its own ticks (in_follower_lease); so while the leader's clock is below
//   (send tick of the newest round a quorum acknowledged) + election_tick - 1 - drift
// no other leader can have been elected, and the commit index is a safe read point with no
// round at all. See Config::lease_read for the clock assumption and RawNode::read_index for
// when a lease read falls back to a round.
#include <algorithm>
#include <functional>
#include <limits>

#include "core/consensus.h"
#include "core/quorum.h"

namespace raft::core {

Status Consensus::read_index(std::string context, ReadMode mode) {
  if (role_ == Role::kLeader) {
    if (mode == ReadMode::kLease && lease_holds()) {
      ReadState rs;
      rs.context = std::move(context);
      rs.index = log_.committed();
      read_states_.push_back(std::move(rs));
      return {};
    }
    take_read(std::move(context), id_);
    return {};
  }
  if (mode == ReadMode::kLease) return Status::not_leader(lead_);
  if (lead_.empty()) return Status::not_leader(lead_);
  pb::Message m = make_message(pb::MSG_READ_INDEX, lead_);
  m.set_context(std::move(context));
  send(std::move(m));
  return {};
}

void Consensus::take_read(std::string context, const NodeId& from) {
  PendingRead read{std::move(context), from, 0, 0};
  if (!committed_in_term()) {
    reads_awaiting_commit_.push_back(std::move(read));
    return;
  }
  queue_read(std::move(read));
  confirm_reads();
}

void Consensus::queue_read(PendingRead read) {
  read.index = log_.committed();
  if (config_.bugs.read_index_without_quorum) {
    answer_read(read, Status());
    return;
  }
  read.seq = read_seq_ + 1;
  reads_.push_back(std::move(read));
  read_round_pending_ = true;
}

std::uint64_t Consensus::quorum_read_ack() const {
  // The same majority arithmetic as commit, over the voters of the configuration in force;
  // the leader's own acknowledgement is implicit (it counts if it is a voter).
  std::vector<std::uint64_t> acks;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_voter()) continue;
    acks.push_back(id == id_ ? std::numeric_limits<std::uint64_t>::max() : pr.read_ack());
  }
  return committed_index(std::move(acks));
}

bool Consensus::read_round_due() const {
  if (!read_round_pending_) return false;
  if (role_ != Role::kLeader) return true;  // nothing leaves; ready() clears the flag
  // A round whose messages or answers were lost is followed by another a tick later.
  return leader_ticks_ > read_round_tick_ || quorum_read_ack() >= read_seq_;
}

void Consensus::confirm_reads() {
  if (role_ != Role::kLeader || reads_.empty()) return;
  const std::uint64_t confirmed = quorum_read_ack();
  while (!reads_.empty() && reads_.front().seq <= confirmed) {
    answer_read(reads_.front(), Status());
    reads_.pop_front();
  }
  // Nothing left to prove: no round is needed (a single voter answers at once).
  if (reads_.empty()) read_round_pending_ = false;
}

void Consensus::answer_read(const PendingRead& read, Status status) {
  if (read.from == id_) {
    ReadState rs;
    rs.context = read.context;
    rs.index = status.ok() ? read.index : 0;
    rs.status = std::move(status);
    read_states_.push_back(std::move(rs));
    return;
  }
  pb::Message m = make_message(pb::MSG_READ_INDEX_RESP, read.from);
  m.set_context(read.context);
  if (status.ok()) {
    m.set_index(read.index);
  } else {
    m.set_reject(true);
  }
  send(std::move(m));
}

void Consensus::release_waiting_reads() {
  if (reads_awaiting_commit_.empty() || !committed_in_term()) return;
  std::vector<PendingRead> waiting = std::move(reads_awaiting_commit_);
  reads_awaiting_commit_.clear();
  for (PendingRead& read : waiting) queue_read(std::move(read));
  confirm_reads();
}

void Consensus::fail_pending_reads(bool same_term) {
  if (reads_.empty() && reads_awaiting_commit_.empty()) return;
  log(LogLevel::kInfo, "failing {} pending read(s): leadership lost",
      reads_.size() + reads_awaiting_commit_.size());
  const Status lost(ErrorCode::kNotLeader, "leadership was lost before the read was confirmed");
  auto fail = [&](const PendingRead& read) {
    if (read.from == id_ || same_term) answer_read(read, lost);
  };
  // In request order: the waiting ones came before any of reads_ was taken.
  for (const PendingRead& read : reads_awaiting_commit_) fail(read);
  for (const PendingRead& read : reads_) fail(read);
  reads_awaiting_commit_.clear();
  reads_.clear();
  read_round_pending_ = false;
}

void Consensus::refuse_read_index(const pb::Message& m) {
  log(LogLevel::kDebug, "refused a read from {}: not the leader (leader '{}')", m.from(), lead_);
  pb::Message resp = make_message(pb::MSG_READ_INDEX_RESP, m.from());
  resp.set_context(m.context());
  resp.set_reject(true);
  send(std::move(resp));
}

void Consensus::handle_read_index_response(const pb::Message& m) {
  ReadState rs;
  rs.context = m.context();
  if (m.reject()) {
    // The hint names the leader this node knows now, unless that is the one that refused.
    rs.status = Status(ErrorCode::kNotLeader,
                       fmt::format("{} refused the read: it is not the leader", m.from()),
                       lead_ == m.from() ? NodeId() : lead_);
  } else {
    rs.index = m.index();
  }
  read_states_.push_back(std::move(rs));
}

bool Consensus::lease_holds() const {
  if (!config_.lease_read || role_ != Role::kLeader || !committed_in_term()) return false;
  // A successor may be elected before the lease ends: the transfer's election ignores it.
  if (!lead_transferee_.empty() || timeout_now_sent_) return false;
  if (config_.bugs.lease_read_ignores_expiry) return true;
  const std::optional<std::int64_t> sent = quorum_ack_send_tick();
  if (!sent) return false;
  return leader_ticks_ < *sent + config_.election_tick - 1 - config_.lease_drift_ticks;
}

std::optional<std::int64_t> Consensus::quorum_ack_send_tick() const {
  // The majority-th newest send tick among the voters (unknown: none).
  std::vector<std::int64_t> sent;
  std::size_t voters = 0;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_voter()) continue;
    ++voters;
    if (id == id_) {
      sent.push_back(leader_ticks_);
    } else if (std::optional<std::int64_t> tick = round_send_tick(pr.read_ack())) {
      sent.push_back(*tick);
    }
  }
  const std::size_t need = majority(voters);
  if (voters == 0 || sent.size() < need) return std::nullopt;
  std::sort(sent.begin(), sent.end(), std::greater<>());
  return sent[need - 1];
}

std::optional<std::int64_t> Consensus::round_send_tick(std::uint64_t seq) const {
  auto it = std::lower_bound(round_ticks_.begin(), round_ticks_.end(), seq,
                             [](const auto& round, std::uint64_t s) { return round.first < s; });
  if (it == round_ticks_.end() || it->first != seq) return std::nullopt;
  return it->second;
}

void Consensus::note_round_sent(std::uint64_t seq) {
  if (!config_.lease_read || role_ != Role::kLeader) return;
  round_ticks_.emplace_back(seq, leader_ticks_);
  // A round older than an election timeout can no longer hold a lease.
  while (!round_ticks_.empty() &&
         round_ticks_.front().second + config_.election_tick < leader_ticks_) {
    round_ticks_.pop_front();
  }
}

bool Consensus::in_follower_lease() const {
  return config_.check_quorum && election_elapsed_ < config_.election_tick &&
         (!lead_.empty() || restart_guard_);
}

}  // namespace raft::core
