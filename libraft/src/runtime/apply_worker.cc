#include "runtime/apply_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/snapshot_adapters.h"
#include "os/thread_name.h"
#include "runtime/thread_owner.h"

namespace raft::runtime {

ApplyWorker::ApplyWorker(StateMachine& fsm, Logger& logger, SnapshotWorker& snapshots,
                         Position start, std::uint64_t snapshot_threshold,
                         std::uint64_t max_queued_bytes, std::function<void(Status)> on_fatal)
    : fsm_(fsm),
      logger_(logger),
      snapshots_(snapshots),
      snapshot_threshold_(snapshot_threshold),
      max_queued_bytes_(max_queued_bytes),
      on_fatal_(std::move(on_fatal)),
      configuration_(std::move(start.configuration)),
      applied_(start.applied),
      applied_term_(start.applied_term) {}

ApplyWorker::~ApplyWorker() { stop(); }

void ApplyWorker::start() {
  thread_ = std::thread([this] {
    set_thread_name("raft-apply");
    t_thread_owner = this;
    run();
  });
}

void ApplyWorker::stop() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ApplyWorker::check_snapshot() { push(Task{}); }

void ApplyWorker::push(Task task) {
  const std::uint64_t bytes = task.bytes;
  {
    std::unique_lock lock(queue_mu_);
    space_cv_.wait(lock, [&] {
      return stopping_ || queued_bytes_ == 0 || queued_bytes_ + bytes <= max_queued_bytes_;
    });
    queued_bytes_ += bytes;
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
}

void ApplyWorker::enqueue_entries(std::vector<pb::Entry> entries) {
  Task task;
  for (const auto& e : entries) task.bytes += e.data().size() + 32;
  queued_entries_ += entries.size();
  task.entries = std::move(entries);
  push(std::move(task));
}

void ApplyWorker::enqueue_restore(pb::SnapshotMetadata metadata,
                                  std::unique_ptr<SnapshotReader> reader) {
  Task task;
  task.restore = std::move(reader);
  task.restore_metadata = std::move(metadata);
  push(std::move(task));
}

void ApplyWorker::request_snapshot(Callback<SnapshotMeta> done) {
  Task task;
  task.snapshot = std::move(done);
  push(std::move(task));
}

void ApplyWorker::register_proposal(Index index, Term term, std::uint64_t bytes,
                                    Clock::time_point deadline, Callback<ApplyResult> done) {
  // Several proposals may wait at one index: an earlier term's, still pending when this node,
  // leading again with its log cut back below it, proposed another there. Either entry may
  // end up committed (the old one through another leader that holds it), so both wait until
  // the entry at that index is applied: its term says which one it was.
  std::lock_guard lock(wait_mu_);
  proposed_bytes_ += bytes;
  proposals_.emplace(index, Proposal{term, bytes, deadline, std::move(done)});
}

void ApplyWorker::wait_applied(Index index, Clock::time_point deadline, Callback<Index> done) {
  {
    std::lock_guard lock(wait_mu_);
    if (applied_.load() < index) {
      waits_.emplace(index, Wait{deadline, std::move(done)});
      return;
    }
  }
  done(index);
}

void ApplyWorker::expire(Clock::time_point now) {
  std::vector<Callback<ApplyResult>> proposals;
  std::vector<Callback<Index>> waits;
  {
    std::lock_guard lock(wait_mu_);
    for (auto it = proposals_.begin(); it != proposals_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      proposed_bytes_ -= it->second.bytes;
      proposals.push_back(std::move(it->second.done));
      it = proposals_.erase(it);
    }
    for (auto it = waits_.begin(); it != waits_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      waits.push_back(std::move(it->second.done));
      it = waits_.erase(it);
    }
  }
  for (auto& done : proposals) {
    done(Status(ErrorCode::kTimeout,
                "timed out before the command was applied here: outcome unknown (it was "
                "appended and may still commit)"));
  }
  for (auto& done : waits) {
    done(Status(ErrorCode::kTimeout, "timed out waiting for this node to apply the read index"));
  }
}

void ApplyWorker::fail_all(const Status& status) {
  std::multimap<Index, Proposal> proposals;
  std::multimap<Index, Wait> waits;
  {
    std::lock_guard lock(wait_mu_);
    proposals.swap(proposals_);
    waits.swap(waits_);
    proposed_bytes_ = 0;
  }
  for (auto& [index, p] : proposals) p.done(status);
  for (auto& [index, w] : waits) w.done(status);
}

void ApplyWorker::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was applied
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= task.bytes;
    }
    space_cv_.notify_all();
    if (failed_) {
      queued_entries_ -= task.entries.size();
      if (task.snapshot) (*task.snapshot)(Status(ErrorCode::kShutdown, "the node stopped"));
      continue;
    }
    if (task.restore) {
      restore(task);
    } else if (task.snapshot) {
      std::vector<Callback<SnapshotMeta>> waiters;
      waiters.push_back(std::move(*task.snapshot));
      take_snapshot(std::move(waiters));
    } else {
      apply_entries(task.entries);
      queued_entries_ -= task.entries.size();
      if (snapshot_due() && !snapshots_.busy()) {
        bool stopping;
        {
          std::lock_guard lock(queue_mu_);
          stopping = stopping_;
        }
        if (!stopping) take_snapshot({});
      }
    }
  }
}

void ApplyWorker::apply_entries(std::vector<pb::Entry>& entries) {
  // Entries covered by a snapshot restored meanwhile are skipped; the rest must follow the
  // applied index without a gap. They go to the state machine in batches.
  Index next = applied_.load() + 1;
  std::size_t first = 0;
  while (first < entries.size() && entries[first].index() < next) ++first;
  for (std::size_t k = first; k < entries.size(); ++k) {
    if (entries[k].index() != next + (k - first)) {
      failed_ = true;
      on_fatal_(Status(ErrorCode::kCorruption,
                       fmt::format("apply: entry {} follows applied index {} (gap)",
                                   entries[k].index(), next + (k - first) - 1)));
      return;
    }
  }
  std::vector<pb::Entry> batch;
  for (std::size_t k = first; k < entries.size(); k += kMaxApplyBatch) {
    const std::size_t end = std::min(entries.size(), k + kMaxApplyBatch);
    batch.assign(std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(k)),
                 std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(end)));
    std::vector<std::string> responses = fsm_.apply_batch(batch);
    responses.resize(batch.size());  // a short answer must not leave futures hanging
    complete_applied(batch, responses);
  }
}

void ApplyWorker::complete_applied(const std::vector<pb::Entry>& entries,
                                   std::vector<std::string>& responses) {
  Index applied = applied_.load();
  Term applied_term = applied_term_.load();
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const pb::Entry& e = entries[k];
    std::string& response = responses[k];
    if (e.type() == pb::ENTRY_CONF_CHANGE) {
      pb::Configuration c;
      if (c.ParseFromString(e.data())) configuration_ = std::move(c);
    }
    applied = e.index();
    applied_term = e.term();
    std::vector<Proposal> here;
    {
      std::lock_guard lock(wait_mu_);
      auto [first, last] = proposals_.equal_range(applied);
      for (auto it = first; it != last; ++it) {
        proposed_bytes_ -= it->second.bytes;
        here.push_back(std::move(it->second));
      }
      proposals_.erase(first, last);
    }
    for (Proposal& proposal : here) {  // at most one of them has the entry's term
      if (proposal.term == e.term()) {
        proposal.done(ApplyResult{e.index(), e.term(), std::move(response)});
      } else {
        proposal.done(Status(ErrorCode::kLeadershipLost,
                             fmt::format("leadership was lost and the new leader replaced the "
                                         "command at index {}: it will not be applied",
                                         e.index())));
      }
    }
  }
  publish_applied(applied, applied_term);
}

void ApplyWorker::publish_applied(Index applied, Term term) {
  std::vector<std::pair<Index, Callback<Index>>> ready;
  std::vector<Callback<ApplyResult>> overtaken;
  {
    std::lock_guard lock(wait_mu_);
    applied_.store(applied);
    applied_term_.store(term);
    while (!waits_.empty() && waits_.begin()->first <= applied) {
      ready.emplace_back(waits_.begin()->first, std::move(waits_.begin()->second.done));
      waits_.erase(waits_.begin());
    }
    // Proposals at or below the applied index that were not met on the way (a restored
    // snapshot jumped over them): their outcome is unknown here.
    while (!proposals_.empty() && proposals_.begin()->first <= applied) {
      proposed_bytes_ -= proposals_.begin()->second.bytes;
      overtaken.push_back(std::move(proposals_.begin()->second.done));
      proposals_.erase(proposals_.begin());
    }
  }
  for (auto& [index, done] : ready) done(index);
  for (auto& done : overtaken) {
    done(Status(ErrorCode::kTimeout,
                "outcome unknown: this node installed a snapshot that covers the command"));
  }
}

void ApplyWorker::restore(Task& task) {
  const pb::SnapshotMetadata& meta = task.restore_metadata;
  SnapshotReaderSource source(*task.restore);
  if (Status s = fsm_.restore(meta, source); !s.ok()) {
    failed_ = true;
    on_fatal_(Status(s.code(), fmt::format("restoring the state machine from snapshot {}@{}: {}",
                                           meta.index(), meta.term(), s.message())));
    return;
  }
  configuration_ = meta.configuration();
  snapshots_.note_installed(meta.index());
  logger_.log(LogLevel::kInfo,
              fmt::format("state machine restored from snapshot {}@{}", meta.index(), meta.term()));
  publish_applied(meta.index(), meta.term());
}

bool ApplyWorker::snapshot_due() const {
  if (snapshot_threshold_ == 0) return false;
  // After k failed snapshots in a row, the next automatic one waits for threshold * 2^k (at
  // most 64 thresholds) more entries past the last failure: a snapshot store that keeps
  // failing (a full disk) must not cost a state machine view after every applied batch.
  const std::uint32_t failures = snapshots_.consecutive_failures();
  const Index base = failures == 0 ? snapshots_.newest_index()
                                   : std::max(snapshots_.newest_index(), snapshots_.failed_index());
  const std::uint64_t factor = std::uint64_t{1} << std::min<std::uint32_t>(failures, 6);
  const std::uint64_t wait =
      snapshot_threshold_ > UINT64_MAX / factor ? UINT64_MAX : snapshot_threshold_ * factor;
  const Index applied = applied_.load();
  return applied >= base && applied - base >= wait;
}

void ApplyWorker::take_snapshot(std::vector<Callback<SnapshotMeta>> waiters) {
  const Index applied = applied_.load();
  if (applied == 0 || applied <= snapshots_.newest_index()) {
    for (auto& w : waiters) {
      w(Status(ErrorCode::kAlreadyExists,
               fmt::format("nothing new to snapshot: the newest snapshot is at index {}",
                           snapshots_.newest_index())));
    }
    return;
  }
  if (snapshots_.busy()) {
    for (auto& w : waiters) {
      w(Status(ErrorCode::kUnavailable, "a snapshot is already being written; retry later"));
    }
    return;
  }
  auto view = fsm_.snapshot();
  if (!view.ok()) {
    snapshots_.note_failed(applied);
    logger_.log(LogLevel::kError,
                fmt::format("state machine snapshot failed: {}", view.status().to_string()));
    for (auto& w : waiters) w(view.status());
    return;
  }
  SnapshotWorker::Job job;
  job.view = std::move(view).value();
  job.index = applied;
  job.term = applied_term_.load();
  job.configuration = configuration_;
  job.waiters = std::move(waiters);
  if (!snapshots_.submit(job)) {
    for (auto& w : job.waiters) {
      w(Status(ErrorCode::kUnavailable, "a snapshot is already being written; retry later"));
    }
  }
}

}  // namespace raft::runtime
