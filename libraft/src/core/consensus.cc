#include "core/consensus.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <stdexcept>

#include "core/quorum.h"

namespace raft::core {

namespace {
// Mixes the node id into the seed, so nodes sharing one seed still draw different timeouts.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}
}  // namespace

Consensus::Consensus(const Config& config, const LogReader* storage, const InitialState& initial)
    : id_(config.id),
      config_(config),
      logger_(config.logger ? config.logger : &null_logger()),
      rng_(config.random_seed ^ fnv1a(config.id)),
      // Whatever the state machine applied was committed, even if the commit index on disk
      // (saved lazily) is older.
      log_(storage,
           std::min(std::max(initial.hard_state.commit(), config.applied), storage->last_index()),
           config.applied) {
  load_configurations(initial.configuration);
  term_ = initial.hard_state.term();
  vote_ = initial.hard_state.vote();
  prev_hard_ = hard_state();
  become_follower(term_, "");
  restart_guard_ = config_.lease_read && config_.check_quorum && term_ > 0;
  prev_soft_ = soft_state();
  log(LogLevel::kInfo, "started: commit {} applied {} last index {} last term {} voters {}",
      log_.committed(), log_.applied(), log_.last_index(), log_.last_term(), voters_.size());
}

pb::HardState Consensus::hard_state() const {
  pb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(config_.bugs.forget_to_persist_vote ? std::string() : vote_);
  hs.set_commit(log_.committed());
  return hs;
}

// ---------------------------------------------------------------------------------------
// Roles

void Consensus::reset(Term term) {
  fail_pending_reads(/*same_term=*/term_ == term);
  if (term_ != term) {
    term_ = term;
    vote_.clear();
    incoming_.reset();
    timeout_now_sent_ = false;
  }
  round_ticks_.clear();
  read_round_tick_ = -1;
  removal_transfer_tried_ = false;
  lead_.clear();
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  votes_.clear();
  progress_.clear();
  pending_bcast_ = false;
}

void Consensus::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      config_.election_tick +
      static_cast<int>(rng_.below(static_cast<std::uint64_t>(config_.election_tick)));
}

void Consensus::become_follower(Term term, const NodeId& lead) {
  reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Consensus::become_pre_candidate() {
  // PreVote changes neither term nor vote (dissertation 9.6).
  votes_.clear();
  progress_.clear();
  lead_.clear();
  // A fresh timeout, so pre-candidates that collided do not collide again.
  reset_randomized_election_timeout();
  role_ = Role::kPreCandidate;
  log(LogLevel::kInfo, "became pre-candidate");
}

void Consensus::become_candidate() {
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
  log(LogLevel::kInfo, "became candidate");
}

void Consensus::become_leader() {
  reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  const Index next = log_.last_index() + 1;
  for (const auto& member : members_) {
    auto [it, inserted] = progress_.emplace(
        member, Progress(next, config_.max_inflight_msgs, voters_.count(member) > 0));
    it->second.set_recent_active(true);
    it->second.start_catchup(next - 1, leader_ticks_);
  }
  // The leader's own copy counts only once it is durable.
  if (auto it = progress_.find(id_); it != progress_.end()) {
    it->second.maybe_update(log_.last_persisted_index());
    it->second.become_replicate();
  }
  // A no-op of the new term commits everything before it (figure 8, dissertation 3.6.2).
  append_entry(pb::ENTRY_NOOP, {});
  log(LogLevel::kInfo, "became leader at last index {}", log_.last_index());
}

void Consensus::start_campaign(CampaignType type) {
  if (!promotable()) {
    log(LogLevel::kWarn, "is not a voter and cannot campaign");
    return;
  }
  Term vote_term;
  pb::MessageType vote_type;
  if (type == CampaignType::kPreElection) {
    become_pre_candidate();
    vote_term = term_ + 1;
    vote_type = pb::MSG_PRE_VOTE;
  } else {
    become_candidate();
    vote_term = term_;
    vote_type = pb::MSG_VOTE;
  }
  if (poll(id_, true) == VoteResult::kWon) {
    // A single voter wins at once.
    if (type == CampaignType::kPreElection) {
      start_campaign(CampaignType::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (const auto& voter : voters_) {
    if (voter == id_) continue;
    pb::Message m = make_message(vote_type, voter);
    m.set_term(vote_term);
    m.set_index(log_.last_index());
    m.set_log_term(log_.last_term());
    m.set_transfer(type == CampaignType::kTransfer);
    send(std::move(m));
  }
}

VoteResult Consensus::poll(const NodeId& from, bool granted) {
  if (voters_.count(from) == 0) return VoteResult::kPending;
  votes_.emplace(from, granted);  // the first answer of each voter counts
  std::size_t yes = 0, no = 0;
  for (const auto& [voter, v] : votes_) (v ? yes : no)++;
  return vote_result(voters_.size(), yes, no);
}

// ---------------------------------------------------------------------------------------
// Time

void Consensus::tick() {
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Consensus::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) restart_guard_ = false;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    start_campaign(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
  }
}

void Consensus::tick_heartbeat() {
  ++leader_ticks_;
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      if (!quorum_active()) {
        log(LogLevel::kWarn, "stepped down: no majority heard from within an election timeout");
        become_follower(term_, "");
        return;
      }
      for (auto& [id, pr] : progress_) {
        if (id != id_) pr.set_recent_active(false);
      }
    }
    if (!lead_transferee_.empty()) {
      log(LogLevel::kInfo, "leadership transfer to {} timed out; aborted", lead_transferee_);
      abort_leader_transfer();
      maybe_step_down_removed();
    }
  }
  if (role_ != Role::kLeader) return;
  maybe_promote_staging();
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    bcast_heartbeat();
  }
}

// ---------------------------------------------------------------------------------------
// Requests

Status Consensus::campaign() {
  if (role_ == Role::kLeader) return {};
  if (!promotable()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} is not a voter and cannot campaign", id_));
  }
  start_campaign(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
  return {};
}

Result<Index> Consensus::propose(std::string data) {
  if (role_ != Role::kLeader) return Status::not_leader(lead_);
  if (!lead_transferee_.empty()) {
    return Status(ErrorCode::kTransferInProgress,
                  fmt::format("leadership is being transferred to {}", lead_transferee_));
  }
  append_entry(pb::ENTRY_NORMAL, std::move(data));
  return log_.last_index();
}

Status Consensus::transfer_leadership(const NodeId& target) {
  if (role_ != Role::kLeader) return Status::not_leader(lead_);
  if (target == id_)
    return Status(ErrorCode::kInvalidArgument, fmt::format("{} is already the leader", id_));
  auto it = progress_.find(target);
  if (it == progress_.end() || !it->second.is_voter()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} is not a voter of this cluster", target));
  }
  if (lead_transferee_ == target) return {};
  abort_leader_transfer();
  lead_transferee_ = target;
  // The transfer must finish within one election timeout.
  election_elapsed_ = 0;
  log(LogLevel::kInfo, "transferring leadership to {}", target);
  if (it->second.match() == log_.last_index()) {
    send_timeout_now(target);
  } else {
    send_append(target);
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// Messages

Status Consensus::step(pb::Message& m) {
  try {
    return step_checked(m);
  } catch (const std::logic_error& e) {
    log(LogLevel::kError, "refused {} from {}: {}", pb::MessageType_Name(m.type()), m.from(),
        e.what());
    return Status(ErrorCode::kCorruption, e.what());
  }
}

Status Consensus::step_checked(pb::Message& m) {
  if (m.type() == pb::MSG_UNKNOWN || !pb::MessageType_IsValid(m.type())) {
    return Status(ErrorCode::kInvalidArgument, "unknown message type");
  }
  if (m.from() == id_ || m.from().empty()) {
    return Status(
        ErrorCode::kInvalidArgument,
        fmt::format("message from '{}' delivered to {}: no node sends to itself", m.from(), id_));
  }
  if (m.to() != id_) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("message for {} delivered to {}", m.to(), id_));
  }
  // No index past kMaxIndex (a broken peer): the log could not take it, and a snapshot
  // there would be installed, then refused by the log, on every start.
  Index highest = std::max({m.index(), m.commit(), m.reject_hint(), m.snapshot().index()});
  for (const pb::Entry& e : m.entries()) highest = std::max(highest, e.index());
  if (highest > kMaxIndex) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} from {} carries index {}, past the highest index {}",
                              pb::MessageType_Name(m.type()), m.from(), highest, kMaxIndex));
  }
  Term highest_term = std::max({m.term(), m.log_term(), m.snapshot().term()});
  for (const pb::Entry& e : m.entries()) highest_term = std::max(highest_term, e.term());
  if (highest_term > kMaxTerm) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} from {} carries term {}, past the highest term {}",
                              pb::MessageType_Name(m.type()), m.from(), highest_term, kMaxTerm));
  }
  // Vote requests are answered on their merits whatever our configuration says of the
  // candidate (dissertation 4.1): configurations differ between nodes while a change
  // travels, and a lagging node that ignored a candidate it does not yet know as a voter
  // could leave the cluster without any electable leader. A removed server cannot disrupt
  // the cluster anyway: its pre-votes fail (its log lacks the entry that removed it) and
  // followers that hear from a leader ignore vote requests (the lease below).
  const bool is_vote = m.type() == pb::MSG_VOTE || m.type() == pb::MSG_PRE_VOTE;
  if (m.term() > term_) {
    if (is_vote) {
      // A follower that heard from a leader within the election timeout keeps it: a node
      // that was cut off (or removed) cannot depose a healthy leader (dissertation 4.2.3).
      if (in_follower_lease() && !m.transfer()) {
        log(LogLevel::kDebug, "ignored {} from {} at term {}: leader {} is alive",
            pb::MessageType_Name(m.type()), m.from(), m.term(), lead_);
        return {};
      }
    }
    if (m.type() == pb::MSG_PRE_VOTE || (m.type() == pb::MSG_PRE_VOTE_RESP && !m.reject())) {
      // Neither a pre-vote request nor a granted pre-vote moves our term.
    } else if (m.type() == pb::MSG_APPEND || m.type() == pb::MSG_HEARTBEAT ||
               m.type() == pb::MSG_SNAPSHOT) {
      log(LogLevel::kInfo, "saw term {} from leader {}", m.term(), m.from());
      become_follower(m.term(), m.from());
    } else {
      log(LogLevel::kInfo, "saw term {} in {} from {}", m.term(), pb::MessageType_Name(m.type()),
          m.from());
      become_follower(m.term(), "");
    }
  } else if (m.term() < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type() == pb::MSG_APPEND || m.type() == pb::MSG_HEARTBEAT ||
         m.type() == pb::MSG_SNAPSHOT)) {
      // A stale leader (cut off, now back) learns the new term and steps down. Without this
      // it would never hear of it: with PreVote/CheckQuorum we do not campaign against it.
      send(make_message(pb::MSG_APPEND_RESP, m.from()));
    } else if (m.type() == pb::MSG_PRE_VOTE) {
      pb::Message resp = make_message(pb::MSG_PRE_VOTE_RESP, m.from());
      resp.set_reject(true);
      send(std::move(resp));
    } else if (m.type() == pb::MSG_READ_INDEX) {
      // A follower of an older term asks its old leader: refuse (it learns the new term), so
      // its host retries at once instead of timing out.
      refuse_read_index(m);
    }
    return {};
  }

  if (is_vote) {
    handle_vote_request(m);
    return {};
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
  return {};
}

void Consensus::handle_vote_request(const pb::Message& m) {
  const bool pre = m.type() == pb::MSG_PRE_VOTE;
  // Figure 2, RequestVote: grant if we have not voted for another in this term and the
  // candidate's log is at least as up to date as ours. A pre-vote for a future term is
  // granted on the log check alone.
  const bool can_vote =
      vote_ == m.from() || (vote_.empty() && lead_.empty()) || (pre && m.term() > term_);
  const bool up_to_date =
      config_.bugs.vote_without_log_check || log_.is_up_to_date(m.index(), m.log_term());
  pb::Message resp = make_message(pre ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP, m.from());
  if (can_vote && up_to_date) {
    log(LogLevel::kInfo, "granted {} to {} (its last {}@{}, ours {}@{})", pre ? "pre-vote" : "vote",
        m.from(), m.index(), m.log_term(), log_.last_index(), log_.last_term());
    // A pre-vote answer carries the term it was asked for, so the candidate counts it.
    resp.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    log(LogLevel::kInfo, "rejected {} from {} (its last {}@{}, ours {}@{}, vote '{}')",
        pre ? "pre-vote" : "vote", m.from(), m.index(), m.log_term(), log_.last_index(),
        log_.last_term(), vote_);
    resp.set_reject(true);
  }
  send(std::move(resp));
}

pb::Message Consensus::make_message(pb::MessageType type, const NodeId& to) const {
  pb::Message m;
  m.set_type(type);
  m.set_from(id_);
  m.set_to(to);
  m.set_term(term_);
  return m;
}

void Consensus::send(pb::Message m) {
  switch (m.type()) {
    case pb::MSG_APPEND:
    case pb::MSG_HEARTBEAT:
    case pb::MSG_TIMEOUT_NOW:
    case pb::MSG_SNAPSHOT:
    // A forwarded read goes to the leader of the follower's term, which holds that term
    // durably; it promises nothing.
    case pb::MSG_READ_INDEX:
      // Leader traffic depends only on state that is already durable (or, for the leader's
      // own new entries, is replicated in parallel with its fsync).
      msgs_.push_back(std::move(m));
      break;
    case pb::MSG_READ_INDEX_RESP:
      // A leader's answer names a committed index of its (durable) term. A non-leader's
      // refusal may carry a term not yet durable: it waits like the other answers.
      (role_ == Role::kLeader ? msgs_ : msgs_after_persist_).push_back(std::move(m));
      break;
    default:
      msgs_after_persist_.push_back(std::move(m));
  }
}

// ---------------------------------------------------------------------------------------
// Ready / advance

bool Consensus::has_ready() const {
  if (ready_outstanding_) return false;  // the host owes an advance() first
  if (pending_bcast_ || !msgs_.empty() || !msgs_after_persist_.empty()) return true;
  if (read_round_due() || !read_states_.empty()) return true;
  if (!log_.unstable().empty() || log_.has_next_committed_entries()) return true;
  if (!snapshot_chunks_.empty() || log_.unstable().snapshot()) return true;
  if (soft_state() != prev_soft_) return true;
  const pb::HardState hs = hard_state();
  return hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote() ||
         hs.commit() != prev_hard_.commit();
}

Ready Consensus::ready() {
  if (ready_outstanding_) {
    // A host bug; answering with nothing keeps the node consistent.
    log(LogLevel::kError, "ready() called again before advance(); returning an empty Ready");
    assert(false && "ready() called twice without advance()");
    return Ready{};
  }
  if (pending_bcast_) {
    pending_bcast_ = false;
    if (role_ == Role::kLeader) bcast_append();
  }
  if (read_round_due()) {
    // One heartbeat round for every read request taken since the last round left.
    if (role_ == Role::kLeader) bcast_heartbeat();
    read_round_pending_ = false;
  }
  Ready rd;
  if (SoftState ss = soft_state(); ss != prev_soft_) {
    rd.soft_state = ss;
    prev_soft_ = ss;
  }
  const pb::HardState hs = hard_state();
  const bool term_or_vote_changed =
      hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote();
  if (term_or_vote_changed || hs.commit() != prev_hard_.commit()) {
    rd.must_sync = term_or_vote_changed;
    rd.hard_state = hs;
    prev_hard_ = hs;
  }
  rd.snapshot_chunks = std::move(snapshot_chunks_);
  snapshot_chunks_.clear();
  if (const auto& snap = log_.unstable().snapshot()) {
    rd.snapshot = *snap;
    rd.must_sync = true;
    ready_snapshot_index_ = snap->index();
  } else {
    ready_snapshot_index_.reset();
  }
  rd.entries = log_.unstable().entries();
  if (!rd.entries.empty()) {
    rd.must_sync = true;
    ready_last_entry_ = {rd.entries.back().index(), rd.entries.back().term()};
  } else {
    ready_last_entry_.reset();
  }
  rd.committed_entries = log_.next_committed_entries(config_.max_committed_size_per_ready);
  ready_last_committed_ = rd.committed_entries.empty() ? 0 : rd.committed_entries.back().index();
  // A message of an older term was overtaken by a term change in this same batch (e.g. a
  // vote granted, then a newer leader's heartbeat stepped before this ready()). Its promise
  // was never made durable — the Ready persists the newer term instead — so it must not
  // leave. Dropping it is always safe: the network may drop it too.
  drop_stale(msgs_);
  drop_stale(msgs_after_persist_);
  if (term_or_vote_changed && !msgs_.empty()) {
    // Leader traffic may leave before the fsync only in a term already durable. A leader
    // elected without a vote round (the only voter) has its term in this very Ready: were its
    // appends to leave now and the node crash before the fsync, it could take the same term
    // again after restart and write other entries at the same indexes, which a non-voter
    // holding the first ones would then take as matching. So they wait for the fsync too.
    msgs_.insert(msgs_.end(), std::make_move_iterator(msgs_after_persist_.begin()),
                 std::make_move_iterator(msgs_after_persist_.end()));
    msgs_after_persist_ = std::move(msgs_);
    msgs_.clear();
  }
  rd.messages = std::move(msgs_);
  rd.persisted_messages = std::move(msgs_after_persist_);
  msgs_.clear();
  msgs_after_persist_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  ready_outstanding_ = true;
  return rd;
}

void Consensus::drop_stale(std::vector<pb::Message>& msgs) const {
  std::erase_if(msgs, [this](const pb::Message& m) {
    if (m.term() >= term_) return false;
    log(LogLevel::kDebug, "dropped {} to {} of term {}: overtaken by term {}",
        pb::MessageType_Name(m.type()), m.to(), m.term(), term_);
    return true;
  });
}

void Consensus::advance() {
  if (!ready_outstanding_) return;
  ready_outstanding_ = false;
  if (ready_snapshot_index_) log_.stable_snapshot_to(*ready_snapshot_index_);
  if (ready_last_entry_) {
    const auto [index, term] = *ready_last_entry_;
    log_.stable_to(index, term);
    // The leader's own copy is now durable and counts towards the commit quorum.
    if (role_ == Role::kLeader && log_.match_term(index, term)) {
      if (auto it = progress_.find(id_); it != progress_.end() && it->second.maybe_update(index)) {
        if (maybe_commit()) pending_bcast_ = true;
      }
    }
  }
  if (ready_last_committed_ != 0) log_.applied_to(ready_last_committed_);
  configs_.commit_to(log_.committed());
  maybe_step_down_removed();
}

NodeStatus Consensus::status() const {
  NodeStatus s;
  s.id = id_;
  s.role = role_;
  s.term = term_;
  s.vote = vote_;
  s.leader = lead_;
  s.commit = log_.committed();
  s.applied = log_.applied();
  s.last_index = log_.last_index();
  s.last_term = log_.last_term();
  s.transfer_target = lead_transferee_;
  s.configuration = configs_.latest();
  s.configuration_index = configs_.latest_index();
  s.in_configuration = members_.count(id_) > 0;
  for (const auto& [id, pr] : progress_) {
    s.progress[id] =
        PeerProgress{pr.match(),         pr.next(),           pr.state(), pr.inflights().count(),
                     pr.recent_active(), pr.snapshot_offset()};
  }
  return s;
}

}  // namespace raft::core
