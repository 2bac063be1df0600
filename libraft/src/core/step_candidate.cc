// The (pre-)candidate's side: counting votes, and yielding to a leader of its term.
#include "core/consensus.h"

namespace raft::core {

void Consensus::step_candidate(pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APPEND:
      become_follower(m.term(), m.from());
      handle_append(m);
      break;
    case pb::MSG_HEARTBEAT:
      become_follower(m.term(), m.from());
      handle_heartbeat(m);
      break;
    case pb::MSG_SNAPSHOT:
      become_follower(m.term(), m.from());
      handle_snapshot(m);
      break;
    case pb::MSG_VOTE_RESP:
    case pb::MSG_PRE_VOTE_RESP: {
      const bool mine = (role_ == Role::kPreCandidate) == (m.type() == pb::MSG_PRE_VOTE_RESP);
      if (!mine) break;
      switch (poll(m.from(), !m.reject())) {
        case VoteResult::kWon:
          if (role_ == Role::kPreCandidate) {
            start_campaign(CampaignType::kElection);
          } else {
            become_leader();
          }
          break;
        case VoteResult::kLost:
          log(LogLevel::kInfo, "lost the {}",
              role_ == Role::kPreCandidate ? "pre-vote" : "election");
          become_follower(term_, "");
          break;
        case VoteResult::kPending:
          break;
      }
      break;
    }
    case pb::MSG_READ_INDEX:
      refuse_read_index(m);
      break;
    case pb::MSG_READ_INDEX_RESP:
      // An answer to a request made as a follower of this term (before a pre-vote).
      handle_read_index_response(m);
      break;
    default:
      break;
  }
}

}  // namespace raft::core
