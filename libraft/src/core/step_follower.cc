// The follower's side: accepting the leader's log, commit index and TimeoutNow, and relaying
// read requests (ReadIndex) to the leader.
#include <algorithm>

#include "core/consensus.h"

namespace raft::core {

void Consensus::step_follower(pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APPEND:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_append(m);
      break;
    case pb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_heartbeat(m);
      break;
    case pb::MSG_SNAPSHOT:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_snapshot(m);
      break;
    case pb::MSG_TIMEOUT_NOW:
      log(LogLevel::kInfo, "received TimeoutNow from {}; campaigning at once", m.from());
      start_campaign(CampaignType::kTransfer);
      break;
    case pb::MSG_READ_INDEX:
      refuse_read_index(m);
      break;
    case pb::MSG_READ_INDEX_RESP:
      handle_read_index_response(m);
      break;
    default:
      break;
  }
}

void Consensus::handle_append(pb::Message& m) {
  pb::Message resp = make_message(pb::MSG_APPEND_RESP, m.from());
  if (m.index() < log_.committed()) {
    // Everything up to our commit index is known to match the leader.
    resp.set_index(log_.committed());
    send(std::move(resp));
    return;
  }
  std::vector<pb::Entry> entries;
  entries.reserve(static_cast<std::size_t>(m.entries_size()));
  for (pb::Entry& e : *m.mutable_entries()) entries.push_back(std::move(e));
  const Index leader_commit = config_.bugs.apply_before_commit
                                  ? m.index() + static_cast<Index>(entries.size())
                                  : m.commit();
  // The log takes the entries by move; configuration changes among them are noted after.
  std::vector<pb::Entry> changes;
  for (const pb::Entry& e : entries) {
    if (e.type() == pb::ENTRY_CONF_CHANGE) changes.push_back(e);
  }
  if (auto appended =
          log_.maybe_append(m.index(), m.log_term(), leader_commit, std::move(entries))) {
    if (appended->conflict != 0) note_appended(changes, appended->conflict, true);
    resp.set_index(appended->last_new);
    send(std::move(resp));
    return;
  }
  // Figure 2: reply false if the log has no entry at prevLogIndex with prevLogTerm. The
  // hint is the last index that may still match: at most our last index, and skipping
  // every entry whose term is above the leader's prevLogTerm.
  Index hint = std::min(m.index(), log_.last_index());
  hint = log_.find_conflict_by_term(hint, m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(log_.term_or_zero(hint));
  log(LogLevel::kDebug, "rejected append at {}@{} from {}; hint {}@{}", m.index(), m.log_term(),
      m.from(), hint, resp.log_term());
  send(std::move(resp));
}

void Consensus::handle_heartbeat(const pb::Message& m) {
  // The leader sends min(its commit, our match), so this never passes what we hold.
  log_.commit_to(std::min(m.commit(), log_.last_index()));
  pb::Message resp = make_message(pb::MSG_HEARTBEAT_RESP, m.from());
  resp.set_read_seq(m.read_seq());  // confirms the leader's read rounds up to it
  send(std::move(resp));
}

}  // namespace raft::core
