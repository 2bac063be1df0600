// ReadIndex (dissertation 6.4): linearizable reads without writing to the log.
//
// The leader records its commit index as the read point of a request, then proves that it
// still leads: a quorum of voters must acknowledge a heartbeat sent after the request was
// taken. Heartbeats carry a read sequence number that only grows; followers echo it; the
// leader keeps, per peer, the highest number echoed. A request taken while the number is s
// is served by the next heartbeat round (s + 1), so every request taken between two ready()
// calls shares one broadcast, and any later heartbeat (they all carry the current number)
// also confirms it. A leader that has not yet committed an entry of its term does not know
// the newest commit index yet (dissertation 6.4, step 1): requests wait for that commit.
//
// Followers forward requests to the leader they know (MSG_READ_INDEX) and hand the answer
// (MSG_READ_INDEX_RESP) back to their host as a ReadState; they keep no state for them, so a
// lost request or answer is timed out by the host.
#include <limits>

#include "core/consensus.h"
#include "core/quorum.h"

namespace raft::core {

Status Consensus::read_index(std::string context) {
  if (role_ == Role::kLeader) {
    take_read(std::move(context), id_);
    return {};
  }
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

void Consensus::confirm_reads() {
  if (role_ != Role::kLeader || reads_.empty()) return;
  // The same majority arithmetic as commit, over the voters of the configuration in force;
  // the leader's own acknowledgement is implicit (it counts if it is a voter).
  std::vector<std::uint64_t> acks;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_voter()) continue;
    acks.push_back(id == id_ ? std::numeric_limits<std::uint64_t>::max() : pr.read_ack());
  }
  const std::uint64_t confirmed = committed_index(std::move(acks));
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

}  // namespace raft::core
