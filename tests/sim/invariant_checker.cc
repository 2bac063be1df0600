#include "sim/invariant_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "sim/sim_failure.h"

namespace raft::sim {
namespace {

std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

}  // namespace

InvariantChecker::InvariantChecker(std::vector<NodeId> ids, std::function<std::string()> context)
    : ids_(std::move(ids)), context_(std::move(context)), nodes_(ids_.size()) {}

void InvariantChecker::fail(int node, const std::string& what) const {
  throw SimFailure(fmt::format("invariant violated on {}: {}\n{}",
                               node >= 0 ? ids_[static_cast<std::size_t>(node)] : "-", what,
                               context_ ? context_() : std::string()));
}

InvariantChecker::Fingerprint InvariantChecker::fingerprint(const pb::Entry& entry) {
  Fingerprint f;
  f.term = entry.term();
  f.type = entry.type();
  f.data_hash = fnv1a(entry.data());
  return f;
}

std::string InvariantChecker::describe(const pb::Entry& entry) const {
  return fmt::format("entry index={} term={} type={} data='{}'", entry.index(), entry.term(),
                     pb::EntryType_Name(entry.type()),
                     entry.data().size() <= 40 ? entry.data() : entry.data().substr(0, 40) + "...");
}

Index InvariantChecker::max_committed() const {
  return committed_.empty() ? 0 : committed_.rbegin()->first;
}

void InvariantChecker::check_committed(int node, const pb::Entry& entry, const char* what) {
  Fingerprint f = fingerprint(entry);
  f.seen_in_term = nodes_[static_cast<std::size_t>(node)].hard_term;
  auto [it, inserted] = committed_.emplace(entry.index(), f);
  if (inserted) return;
  const Fingerprint& c = it->second;
  if (c.term != f.term || c.type != f.type || c.data_hash != f.data_hash) {
    fail(node, fmt::format("{}: {} differs from the entry committed at that index (term {})", what,
                           describe(entry), c.term));
  }
}

bool InvariantChecker::established_leader(int node, const RawNode& raw) const {
  const NodeState& s = nodes_[static_cast<std::size_t>(node)];
  return s.leader_term != 0 && raw.role() == Role::kLeader && raw.term() == s.leader_term;
}

void InvariantChecker::before_append(int node, bool from_established_leader,
                                     const DurableView& storage,
                                     const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  const Index first = entries.front().index();
  const Index last_durable = storage.log.last_index();
  if (first == 0 || first > last_durable + 1) {
    fail(node, fmt::format("Ready.entries start at index {} but the durable log ends at {}", first,
                           last_durable));
  }
  // Leader append-only: a node that was already leader in this term before this event only
  // ever appends after its last entry.
  if (from_established_leader && first != last_durable + 1) {
    fail(node, fmt::format("a leader truncates its own log: appends at {} over a log ending at {}",
                           first, last_durable));
  }
  // Entries below the compaction point are ignored by the storage (a snapshot covers them);
  // they can only be committed ones. The first entry at or above it follows the entry at
  // first_index() - 1, whose term the storage still answers.
  const Index first_kept = storage.log.first_index();
  std::optional<Term> prev_term;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const pb::Entry& e = entries[k];
    if (e.index() != first + k) {
      fail(node,
           fmt::format("Ready.entries are not contiguous: {} after {}", e.index(), first + k - 1));
    }
    if (e.index() < first_kept) {
      check_committed(node, e, "an entry below the compaction point is not the committed one");
      continue;
    }
    if (!prev_term) {
      prev_term = 0;
      if (e.index() > 1) {
        auto t = storage.log.term(e.index() - 1);
        if (!t.ok()) {
          fail(node, "cannot read the term before Ready.entries: " + t.status().to_string());
        }
        prev_term = t.value();
      }
    }
    if (e.term() < *prev_term) {
      fail(node, fmt::format("log terms decrease: {} follows an entry of term {}", describe(e),
                             *prev_term));
    }
    if (e.index() <= s.checked_commit) {
      check_committed(node, e, "a committed entry is overwritten");
    }
    Fingerprint f = fingerprint(e);
    f.prev_term = *prev_term;
    auto [it, inserted] = entry_ids_.emplace(std::make_pair(e.index(), e.term()), f);
    if (!inserted) {
      const Fingerprint& seen = it->second;
      if (seen.type != f.type || seen.data_hash != f.data_hash) {
        fail(node, fmt::format("log matching: {} differs from another entry with the same index "
                               "and term",
                               describe(e)));
      }
      if (seen.prev_term != f.prev_term) {
        fail(node, fmt::format("log matching: {} follows an entry of term {} here and of term {} "
                               "elsewhere",
                               describe(e), f.prev_term, seen.prev_term));
      }
    }
    *prev_term = e.term();
  }
}

void InvariantChecker::before_send(int node, const DurableView& storage,
                                   const pb::Message& message) {
  if (message.reject()) return;
  if (message.type() == pb::MSG_VOTE_RESP) {
    const pb::HardState& hs = storage.hard_state;
    if (hs.term() != message.term() || hs.vote() != message.to()) {
      fail(node, fmt::format("grants its vote to {} in term {} before that vote is durable "
                             "(durable term {}, vote '{}')",
                             message.to(), message.term(), hs.term(), hs.vote()));
    }
  } else if (message.type() == pb::MSG_APPEND_RESP) {
    if (storage.log.last_index() < message.index()) {
      fail(node, fmt::format("acknowledges entries up to {} to {} before they are durable "
                             "(durable log ends at {})",
                             message.index(), message.to(), storage.log.last_index()));
    }
  }
}

void InvariantChecker::after_persist(int node, const DurableView& storage) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  const pb::HardState& hs = storage.hard_state;
  if (hs.term() < s.hard_term) {
    fail(node, fmt::format("durable term went back from {} to {}", s.hard_term, hs.term()));
  }
  if (hs.term() == s.hard_term && !s.hard_vote.empty() && hs.vote() != s.hard_vote) {
    fail(node, fmt::format("vote changed within term {}: from {} to '{}'", hs.term(), s.hard_vote,
                           hs.vote()));
  }
  s.hard_term = hs.term();
  s.hard_vote = hs.vote();

  const Index commit = hs.commit();
  if (commit < s.life_commit || (!commit_volatile_ && commit < s.checked_commit)) {
    fail(node, fmt::format("durable commit index went back from {} to {}",
                           std::max(s.life_commit, s.checked_commit), commit));
  }
  s.life_commit = commit;
  if (commit > storage.log.last_index()) {
    fail(node, fmt::format("durable commit index {} is beyond the durable log (last index {})",
                           commit, storage.log.last_index()));
  }
  max_log_length_ =
      std::max(max_log_length_, storage.log.last_index() + 1 - storage.log.first_index());
  if (commit <= s.checked_commit) return;
  // Compaction stays below the applied index, and a snapshot install checks what it covers
  // (on_restore) before it is persisted, so every entry up to the commit index that was not
  // checked yet is still in the log.
  if (storage.log.first_index() > s.checked_commit + 1) {
    fail(node, fmt::format("entries {}..{} were compacted before they were checked as committed",
                           s.checked_commit + 1, storage.log.first_index() - 1));
  }
  auto entries = storage.log.entries(s.checked_commit + 1, commit + 1, kNoLimit);
  if (!entries.ok()) fail(node, "cannot read committed entries: " + entries.status().to_string());
  for (const pb::Entry& e : entries.value()) {
    check_committed(node, e, "committed prefixes differ");
  }
  if (entries.value().size() != commit - s.checked_commit) {
    fail(node, "storage returned fewer committed entries than asked for");
  }
  s.checked_commit = commit;
}

void InvariantChecker::on_apply(int node, const DurableView& storage, const pb::Entry& entry) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  if (entry.index() != s.last_applied + 1) {
    fail(node, fmt::format("applied {} right after index {} (must be applied in order, exactly "
                           "once)",
                           describe(entry), s.last_applied));
  }
  if (entry.index() > storage.hard_state.commit()) {
    fail(node, fmt::format("applied {} beyond the durable commit index {}", describe(entry),
                           storage.hard_state.commit()));
  }
  check_committed(node, entry, "state machine safety");
  s.last_applied = entry.index();
}

void InvariantChecker::after_event(int node, const RawNode& raw, const DurableView& storage,
                                   bool log_durable) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  if (raw.role() != Role::kLeader) {
    s.leader_term = 0;
    s.completeness_due = false;
    return;
  }
  const Term term = raw.term();
  const NodeId& id = ids_[static_cast<std::size_t>(node)];
  auto [it, inserted] = leader_by_term_.emplace(term, id);
  if (!inserted && it->second != id) {
    fail(node,
         fmt::format("election safety: two leaders in term {}: {} and {}", term, it->second, id));
  }
  if (s.leader_term != term) {
    s.leader_term = term;
    s.completeness_due = true;
  }
  if (s.completeness_due && log_durable) {
    s.completeness_due = false;
    check_leader_completeness(node, term, storage);
  }
}

void InvariantChecker::check_leader_completeness(int node, Term term, const DurableView& storage) {
  // Leader completeness binds the entries committed in earlier terms. An entry is recorded
  // with the durable term of the node that first saw it committed, which is at least the
  // term it was committed in; entries first seen in this term or later are left out (a stale
  // leader checked late, e.g. after a pause, need not hold what newer leaders committed).
  Index last = 0;
  for (const auto& [index, f] : committed_) {
    if (f.seen_in_term < term) last = index;
  }
  if (last == 0) return;
  if (storage.log.last_index() < last) {
    fail(node, fmt::format("leader completeness: leader of term {} has log up to {} but "
                           "entries up to {} were committed in earlier terms",
                           term, storage.log.last_index(), last));
  }
  // A compacted prefix is covered by the node's snapshot (checked when taken or restored);
  // the entry at the compaction point must still be the committed one.
  const Index lo = std::max<Index>(1, storage.log.first_index());
  if (lo > 1) {
    auto found = committed_.find(lo - 1);
    auto t = storage.log.term(lo - 1);
    if (found != committed_.end() && (!t.ok() || t.value() != found->second.term)) {
      fail(node, fmt::format("leader completeness: leader of term {} compacted its log at {} "
                             "(term {}) where an entry of term {} was committed",
                             term, lo - 1, t.ok() ? t.value() : 0, found->second.term));
    }
  }
  if (lo > last) return;
  auto entries = storage.log.entries(lo, last + 1, kNoLimit);
  if (!entries.ok()) fail(node, "cannot read the log: " + entries.status().to_string());
  for (const pb::Entry& e : entries.value()) {
    const Fingerprint f = fingerprint(e);
    auto found = committed_.find(e.index());
    if (found == committed_.end()) fail(node, "committed entries are not contiguous");
    const Fingerprint& c = found->second;
    if (c.term != f.term || c.data_hash != f.data_hash || c.type != f.type) {
      fail(node, fmt::format("leader completeness: leader of term {} has {} where entry of "
                             "term {} was committed",
                             term, describe(e), c.term));
    }
  }
}

void InvariantChecker::on_restore(int node, const DurableView& storage,
                                  const pb::SnapshotMetadata& metadata,
                                  const std::vector<pb::Entry>& entries) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  const Index index = metadata.index();
  if (index < s.last_applied) {
    fail(node, fmt::format("a snapshot at {} takes the state machine back from index {}", index,
                           s.last_applied));
  }
  if (entries.size() != index) {
    fail(node, fmt::format("the snapshot at {} restores {} entries", index, entries.size()));
  }
  for (std::size_t k = 0; k < entries.size(); ++k) {
    if (entries[k].index() != k + 1) {
      fail(node, fmt::format("the snapshot at {} holds index {} in place {}", index,
                             entries[k].index(), k + 1));
    }
    check_committed(node, entries[k], "a restored snapshot differs from the committed entries");
  }
  if (index > 0 && entries.back().term() != metadata.term()) {
    fail(node, fmt::format("the snapshot at {} says term {} but its last entry has term {}", index,
                           metadata.term(), entries.back().term()));
  }
  if (storage.log.first_index() != index + 1) {
    fail(node, fmt::format("after installing the snapshot at {} the log starts at {}", index,
                           storage.log.first_index()));
  }
  s.last_applied = index;
  s.checked_commit = std::max(s.checked_commit, index);
  s.life_commit = std::max(s.life_commit, index);
}

void InvariantChecker::on_restart(int node, const DurableView& storage, Index applied) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  const Index last = storage.log.last_index();
  if (last < s.checked_commit) {
    fail(node, fmt::format("the crash lost committed entries: the durable log ends at {} but "
                           "held committed entries up to {}",
                           last, s.checked_commit));
  }
  if (storage.hard_state.commit() < applied) {
    fail(node, fmt::format("after a restart the durable commit index {} is below the applied "
                           "index {} (the snapshot the state machine restarts from)",
                           storage.hard_state.commit(), applied));
  }
  if (applied + 1 < storage.log.first_index()) {
    fail(node, fmt::format("after a restart the state machine starts at {} but the log starts "
                           "at {}: entries in between are lost",
                           applied, storage.log.first_index()));
  }
  // The state machine starts again at `applied`; entries after it are applied again.
  s.last_applied = applied;
  s.life_commit = 0;
  after_persist(node, storage);
}

void InvariantChecker::on_crash(int node) {
  NodeState& s = nodes_[static_cast<std::size_t>(node)];
  s.leader_term = 0;
  s.completeness_due = false;
}

}  // namespace raft::sim
