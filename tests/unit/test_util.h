// Helpers for the unit tests of the consensus core: a RawNode over a MemoryStorage driven
// through the Ready contract of raft/ready.h, builders of hand-made messages, and a tiny
// in-memory cluster for the few tests that need real peers. Header-only, tests only.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/config.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"
#include "raft/ready.h"
#include "raft/status.h"
#include "raft/types.h"

namespace Catch {
template <>
struct StringMaker<raft::Role> {
  static std::string convert(raft::Role role) { return std::string(raft::to_string(role)); }
};
template <>
struct StringMaker<raft::ErrorCode> {
  static std::string convert(raft::ErrorCode code) { return std::string(raft::to_string(code)); }
};
template <>
struct StringMaker<raft::ProgressState> {
  static std::string convert(raft::ProgressState state) {
    return std::string(raft::to_string(state));
  }
};
}  // namespace Catch

namespace raft::test {

inline const std::vector<NodeId> kThreeIds = {"n1", "n2", "n3"};
constexpr int kElectionTick = 10;
constexpr int kHeartbeatTick = 1;

// ---------------------------------------------------------------------------------------------
// Values.

inline pb::Configuration make_configuration(const std::vector<NodeId>& voters) {
  pb::Configuration configuration;
  for (const NodeId& id : voters) {
    pb::Server* server = configuration.add_servers();
    server->set_id(id);
    server->set_address(id + ":7000");
    server->set_suffrage(pb::VOTER);
  }
  return configuration;
}

inline pb::Entry make_entry(Index index, Term term, std::string data = {},
                            pb::EntryType type = pb::ENTRY_NORMAL) {
  pb::Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  entry.set_type(type);
  entry.set_data(std::move(data));
  return entry;
}

// Entries 1..terms.size(), entry i having term terms[i - 1].
inline std::vector<pb::Entry> make_log(const std::vector<Term>& terms) {
  std::vector<pb::Entry> entries;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    entries.push_back(make_entry(i + 1, terms[i], "cmd" + std::to_string(i + 1)));
  }
  return entries;
}

inline pb::HardState make_hard_state(Term term, NodeId vote = {}, Index commit = 0) {
  pb::HardState hard_state;
  hard_state.set_term(term);
  hard_state.set_vote(std::move(vote));
  hard_state.set_commit(commit);
  return hard_state;
}

// A config with the tests' defaults: election 10 ticks, heartbeat 1 tick, PreVote and
// CheckQuorum off unless a test turns them on.
inline Config make_config(const NodeId& id, bool pre_vote = false, bool check_quorum = false) {
  Config config;
  config.id = id;
  config.election_tick = kElectionTick;
  config.heartbeat_tick = kHeartbeatTick;
  config.pre_vote = pre_vote;
  config.check_quorum = check_quorum;
  config.random_seed = 42;
  return config;
}

// "index:term" of each entry, to compare entries in assertions (and print them on failure).
inline std::vector<std::string> ids_of(const std::vector<pb::Entry>& entries) {
  std::vector<std::string> ids;
  for (const pb::Entry& entry : entries) {
    ids.push_back(std::to_string(entry.index()) + ":" + std::to_string(entry.term()));
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Messages.

inline pb::Message make_message(pb::MessageType type, const NodeId& from, const NodeId& to,
                                Term term) {
  pb::Message message;
  message.set_type(type);
  message.set_from(from);
  message.set_to(to);
  message.set_term(term);
  return message;
}

inline pb::Message vote_request(const NodeId& from, const NodeId& to, Term term, Index last_index,
                                Term last_term, bool pre_vote = false, bool transfer = false) {
  pb::Message m = make_message(pre_vote ? pb::MSG_PRE_VOTE : pb::MSG_VOTE, from, to, term);
  m.set_index(last_index);
  m.set_log_term(last_term);
  m.set_transfer(transfer);
  return m;
}

inline pb::Message vote_response(const NodeId& from, const NodeId& to, Term term, bool reject,
                                 bool pre_vote = false) {
  pb::Message m =
      make_message(pre_vote ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP, from, to, term);
  m.set_reject(reject);
  return m;
}

inline pb::Message append_request(const NodeId& from, const NodeId& to, Term term, Index prev_index,
                                  Term prev_term, const std::vector<pb::Entry>& entries,
                                  Index commit) {
  pb::Message m = make_message(pb::MSG_APPEND, from, to, term);
  m.set_index(prev_index);
  m.set_log_term(prev_term);
  for (const pb::Entry& entry : entries) *m.add_entries() = entry;
  m.set_commit(commit);
  return m;
}

inline pb::Message append_response(const NodeId& from, const NodeId& to, Term term, Index index,
                                   bool reject = false, Index reject_hint = 0, Term log_term = 0) {
  pb::Message m = make_message(pb::MSG_APPEND_RESP, from, to, term);
  m.set_index(index);
  m.set_reject(reject);
  m.set_reject_hint(reject_hint);
  m.set_log_term(log_term);
  return m;
}

inline pb::Message heartbeat(const NodeId& from, const NodeId& to, Term term, Index commit) {
  pb::Message m = make_message(pb::MSG_HEARTBEAT, from, to, term);
  m.set_commit(commit);
  return m;
}

inline pb::Message heartbeat_response(const NodeId& from, const NodeId& to, Term term) {
  return make_message(pb::MSG_HEARTBEAT_RESP, from, to, term);
}

inline pb::SnapshotMetadata make_snapshot_metadata(Index index, Term term,
                                                   const pb::Configuration& configuration,
                                                   std::uint64_t size) {
  pb::SnapshotMetadata metadata;
  metadata.set_index(index);
  metadata.set_term(term);
  *metadata.mutable_configuration() = configuration;
  metadata.set_size(size);
  return metadata;
}

// One InstallSnapshot chunk: `data` at `offset` of the snapshot `metadata`.
inline pb::Message snapshot_chunk(const NodeId& from, const NodeId& to, Term term,
                                  const pb::SnapshotMetadata& metadata, std::uint64_t offset,
                                  std::string data) {
  pb::Message m = make_message(pb::MSG_SNAPSHOT, from, to, term);
  *m.mutable_snapshot() = metadata;
  m.set_offset(offset);
  m.set_data(std::move(data));
  return m;
}

// A follower's answer to a chunk of the snapshot index@snapshot_term: it expects `offset`.
inline pb::Message snapshot_response(const NodeId& from, const NodeId& to, Term term,
                                     Index snapshot_index, Term snapshot_term, std::uint64_t offset,
                                     bool reject = false) {
  pb::Message m = make_message(pb::MSG_SNAPSHOT_RESP, from, to, term);
  m.mutable_snapshot()->set_index(snapshot_index);
  m.mutable_snapshot()->set_term(snapshot_term);
  m.set_offset(offset);
  m.set_reject(reject);
  return m;
}

// The messages of `type` in `messages`, optionally only those addressed to `to`.
inline std::vector<pb::Message> filter(const std::vector<pb::Message>& messages,
                                       pb::MessageType type, const NodeId& to = {}) {
  std::vector<pb::Message> out;
  for (const pb::Message& m : messages) {
    if (m.type() == type && (to.empty() || m.to() == to)) out.push_back(m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One node driven by hand.

// What a test node handed out over one or more Readys.
struct Drained {
  std::vector<pb::Message> messages;            // Ready::messages (sendable at once)
  std::vector<pb::Message> persisted_messages;  // Ready::persisted_messages
  std::vector<pb::Entry> entries;               // Ready::entries (persisted)
  std::vector<pb::HardState> hard_states;       // every Ready::hard_state that was set
  std::vector<pb::Entry> committed_entries;     // Ready::committed_entries (applied)
  std::vector<SnapshotChunk> snapshot_chunks;   // Ready::snapshot_chunks (written)
  std::vector<pb::SnapshotMetadata> snapshots;  // every Ready::snapshot (installed)
  std::vector<ReadState> read_states;           // Ready::read_states
  std::size_t readies = 0;

  // Everything sent, in the order the host sends it.
  std::vector<pb::Message> sent() const {
    std::vector<pb::Message> all = messages;
    all.insert(all.end(), persisted_messages.begin(), persisted_messages.end());
    return all;
  }
  void add(const Drained& other) {
    messages.insert(messages.end(), other.messages.begin(), other.messages.end());
    persisted_messages.insert(persisted_messages.end(), other.persisted_messages.begin(),
                              other.persisted_messages.end());
    entries.insert(entries.end(), other.entries.begin(), other.entries.end());
    hard_states.insert(hard_states.end(), other.hard_states.begin(), other.hard_states.end());
    committed_entries.insert(committed_entries.end(), other.committed_entries.begin(),
                             other.committed_entries.end());
    snapshot_chunks.insert(snapshot_chunks.end(), other.snapshot_chunks.begin(),
                           other.snapshot_chunks.end());
    snapshots.insert(snapshots.end(), other.snapshots.begin(), other.snapshots.end());
    read_states.insert(read_states.end(), other.read_states.begin(), other.read_states.end());
    readies += other.readies;
  }
};

// How to build a TestNode: its config, the voters, and durable state it starts from.
struct NodeSetup {
  Config config = make_config("n1");
  std::vector<NodeId> voters = kThreeIds;
  std::vector<pb::Entry> entries;  // pre-existing durable log, from index 1
  pb::HardState hard_state;        // pre-existing durable hard state
};

class TestNode {
 public:
  explicit TestNode(NodeSetup setup) : config_(std::move(setup.config)) {
    storage_.set_configuration(make_configuration(setup.voters));
    if (!setup.entries.empty()) {
      Status st = storage_.append(setup.entries);
      REQUIRE(st.ok());
    }
    storage_.set_hard_state(setup.hard_state);
    start();
  }
  // The RawNode points at storage_: a TestNode stays where it was built.
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  RawNode& node() { return *node_; }
  RawNode* operator->() { return node_.get(); }
  MemoryStorage& storage() { return storage_; }
  const Config& config() const { return config_; }
  const NodeId& id() const { return config_.id; }
  // Every committed entry handed out so far, across restarts.
  const std::vector<pb::Entry>& applied() const { return applied_; }
  // Every ReadState handed out so far, across restarts.
  const std::vector<ReadState>& read_states() const { return read_states_; }

  // Drops the RawNode (losing everything not persisted) and builds a new one from storage.
  void restart() {
    node_.reset();
    config_.applied = applied_.empty() ? config_.applied : applied_.back().index();
    config_.applied = std::max(config_.applied, storage_.snapshot().index());
    start();
  }

  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) node_->tick();
  }
  void step(const pb::Message& message) { static_cast<void>(node_->step(message)); }

  // Step 2 of the Ready contract: write snapshot chunks, install a complete snapshot, append
  // entries, store the hard state.
  void persist(const Ready& rd) {
    for (const SnapshotChunk& chunk : rd.snapshot_chunks) {
      if (chunk.offset == 0) receiving_snapshot_.clear();
      receiving_snapshot_.resize(chunk.offset);
      receiving_snapshot_ += chunk.data;
    }
    if (rd.snapshot) {
      storage_.apply_snapshot(*rd.snapshot, receiving_snapshot_);
      receiving_snapshot_.clear();
    }
    if (!rd.entries.empty()) {
      Status st = storage_.append(rd.entries);
      REQUIRE(st.ok());
    }
    if (rd.hard_state) storage_.set_hard_state(*rd.hard_state);
  }

  // Takes one Ready, acts on it as ready.h says (records messages, persists, applies) and
  // calls advance(). Records what it handed out into `out` when given.
  Ready handle_ready(Drained* out = nullptr) {
    REQUIRE(node_->has_ready());
    Ready rd = node_->ready();
    persist(rd);
    for (const pb::Entry& entry : rd.committed_entries) applied_.push_back(entry);
    read_states_.insert(read_states_.end(), rd.read_states.begin(), rd.read_states.end());
    node_->advance();
    if (out != nullptr) {
      out->messages.insert(out->messages.end(), rd.messages.begin(), rd.messages.end());
      out->persisted_messages.insert(out->persisted_messages.end(), rd.persisted_messages.begin(),
                                     rd.persisted_messages.end());
      out->entries.insert(out->entries.end(), rd.entries.begin(), rd.entries.end());
      if (rd.hard_state) out->hard_states.push_back(*rd.hard_state);
      out->committed_entries.insert(out->committed_entries.end(), rd.committed_entries.begin(),
                                    rd.committed_entries.end());
      out->snapshot_chunks.insert(out->snapshot_chunks.end(), rd.snapshot_chunks.begin(),
                                  rd.snapshot_chunks.end());
      if (rd.snapshot) out->snapshots.push_back(*rd.snapshot);
      out->read_states.insert(out->read_states.end(), rd.read_states.begin(), rd.read_states.end());
      ++out->readies;
    }
    return rd;
  }

  // Handles Readys until there is none left.
  Drained drain() {
    Drained out;
    for (int i = 0; i < 100 && node_->has_ready(); ++i) handle_ready(&out);
    REQUIRE_FALSE(node_->has_ready());
    return out;
  }

 private:
  void start() {
    auto created = RawNode::create(config_, &storage_);
    INFO(created.status().to_string());
    REQUIRE(created.ok());
    node_ = std::move(created).value();
  }

  Config config_;
  MemoryStorage storage_;
  std::unique_ptr<RawNode> node_;
  std::vector<pb::Entry> applied_;
  std::vector<ReadState> read_states_;
  std::string receiving_snapshot_;  // the partial snapshot being received from a leader
};

// Answers the (pre-)vote requests in `sent` with grants. Returns how many it answered.
inline int grant_votes(TestNode& node, const std::vector<pb::Message>& sent) {
  int answered = 0;
  for (const pb::Message& m : sent) {
    if (m.type() == pb::MSG_VOTE || m.type() == pb::MSG_PRE_VOTE) {
      node.step(vote_response(m.to(), m.from(), m.term(), false, m.type() == pb::MSG_PRE_VOTE));
      ++answered;
    }
  }
  return answered;
}

// Answers the MSG_APPENDs in `sent` as followers that accept everything (optionally only
// those to `only`).
inline int ack_appends(TestNode& node, const std::vector<pb::Message>& sent,
                       const std::set<NodeId>& only = {}) {
  int answered = 0;
  for (const pb::Message& m : sent) {
    if (m.type() != pb::MSG_APPEND || (!only.empty() && only.count(m.to()) == 0)) continue;
    node.step(append_response(m.to(), m.from(), m.term(),
                              m.index() + static_cast<Index>(m.entries_size())));
    ++answered;
  }
  return answered;
}

// Campaigns and grants every (pre-)vote until the node is leader. Returns what it handed
// out, including the new leader's first AppendEntries.
inline Drained elect(TestNode& node) {
  Drained all;
  Status st = node->campaign();
  REQUIRE(st.ok());
  for (int i = 0; i < 10 && node->role() != Role::kLeader; ++i) {
    Drained d = node.drain();
    all.add(d);
    grant_votes(node, d.sent());
  }
  REQUIRE(node->role() == Role::kLeader);
  all.add(node.drain());
  return all;
}

// Elects the node and lets every follower acknowledge everything, so that the followers are
// in replicate state and the new leader's no-op is committed.
inline void elect_and_replicate(TestNode& node) {
  Drained d = elect(node);
  for (int i = 0; i < 10 && ack_appends(node, d.sent()) > 0; ++i) d = node.drain();
  REQUIRE(node->status().commit == node->status().last_index);
}

// ---------------------------------------------------------------------------------------------
// A few connected nodes with a perfect (but partitionable) in-memory network.

class Cluster {
 public:
  explicit Cluster(bool pre_vote, bool check_quorum, std::vector<NodeId> ids = kThreeIds) {
    std::uint64_t seed = 1;
    for (const NodeId& id : ids) {
      NodeSetup setup;
      setup.config = make_config(id, pre_vote, check_quorum);
      setup.config.random_seed = seed++;
      setup.voters = ids;
      nodes_.emplace(id, std::make_unique<TestNode>(std::move(setup)));
    }
  }

  TestNode& node(const NodeId& id) { return *nodes_.at(id); }
  void isolate(const NodeId& id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }
  // Messages for which `drop` returns true are lost (in addition to isolation).
  void set_drop(std::function<bool(const pb::Message&)> drop) { drop_ = std::move(drop); }

  // Handles every Ready and delivers every message until the cluster is quiet.
  void stabilize() {
    for (int round = 0; round < 1000; ++round) {
      bool busy = false;
      for (auto& [id, node] : nodes_) {
        while (node->node().has_ready()) {
          Drained d;
          node->handle_ready(&d);
          for (const pb::Message& m : d.sent()) in_flight_.push_back(m);
          busy = true;
        }
      }
      while (!in_flight_.empty()) {
        pb::Message m = in_flight_.front();
        in_flight_.pop_front();
        busy = true;
        if (isolated_.count(m.from()) != 0 || isolated_.count(m.to()) != 0) continue;
        if (drop_ && drop_(m)) continue;
        auto it = nodes_.find(m.to());
        if (it != nodes_.end()) it->second->step(m);
      }
      if (!busy) return;
    }
    FAIL("cluster did not become quiet");
  }

  // Ticks every node once and stabilizes, n times.
  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node->tick();
      stabilize();
    }
  }

  // The leader of the highest term among the nodes, or "" if none.
  NodeId leader() {
    NodeId best;
    Term best_term = 0;
    for (auto& [id, node] : nodes_) {
      if (node->node().role() == Role::kLeader && node->node().term() >= best_term) {
        best = id;
        best_term = node->node().term();
      }
    }
    return best;
  }

  // Ticks until some node is leader; fails after `max_ticks`.
  NodeId wait_for_leader(int max_ticks = 20 * kElectionTick) {
    for (int i = 0; i < max_ticks; ++i) {
      tick();
      NodeId id = leader();
      if (!id.empty()) return id;
    }
    FAIL("no leader elected");
    return {};
  }

 private:
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::deque<pb::Message> in_flight_;
  std::set<NodeId> isolated_;
  std::function<bool(const pb::Message&)> drop_;
};

}  // namespace raft::test
