#include "runtime/snapshot_worker.h"

#include <fmt/format.h>

#include "common/snapshot_adapters.h"
#include "os/thread_name.h"
#include "runtime/thread_owner.h"

namespace raft::runtime {
namespace {

// A sink that gives up as soon as the runtime shuts down, so stop() never waits for a
// large snapshot to be written out.
class AbortableSink final : public SnapshotSink {
 public:
  AbortableSink(SnapshotSink& inner, const std::atomic<bool>& stopping)
      : inner_(inner), stopping_(stopping) {}
  Status write(std::string_view chunk) override {
    if (stopping_.load()) return Status(ErrorCode::kShutdown, "snapshot aborted: shutting down");
    return inner_.write(chunk);
  }

 private:
  SnapshotSink& inner_;
  const std::atomic<bool>& stopping_;
};

}  // namespace

SnapshotWorker::SnapshotWorker(DurableStorage& storage, Logger& logger, Index newest_index,
                               std::function<void(const SnapshotMeta&)> on_committed)
    : storage_(storage),
      logger_(logger),
      on_committed_(std::move(on_committed)),
      newest_index_(newest_index) {}

SnapshotWorker::~SnapshotWorker() { stop(); }

void SnapshotWorker::start() {
  thread_ = std::thread([this] {
    set_thread_name("raft-snapshot");
    t_thread_owner = this;
    run();
  });
}

void SnapshotWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (job_) {  // submitted but never started
    for (auto& w : job_->waiters) w(Status(ErrorCode::kShutdown, "shut down before the snapshot"));
    job_.reset();
  }
}

bool SnapshotWorker::submit(Job& job) {
  {
    std::lock_guard lock(mu_);
    if (busy_.load() || stopping_.load()) return false;
    busy_.store(true);
    job_ = std::move(job);
  }
  cv_.notify_all();
  return true;
}

void SnapshotWorker::note_installed(Index index) {
  Index cur = newest_index_.load();
  while (cur < index && !newest_index_.compare_exchange_weak(cur, index)) {
  }
  failures_.store(0);
}

void SnapshotWorker::note_failed(Index index) {
  failed_index_.store(index);
  ++failures_;
}

void SnapshotWorker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_.load() || job_.has_value(); });
      if (stopping_.load()) return;
      job = std::move(*job_);
      job_.reset();
    }
    Result<SnapshotMeta> result = write(job);
    if (result.ok()) {
      note_installed(result->index);
    } else if (result.status().code() != ErrorCode::kShutdown) {
      note_failed(job.index);
      logger_.log(LogLevel::kError,
                  fmt::format("snapshot at index {} failed ({} in a row): {}", job.index,
                              failures_.load(), result.status().to_string()));
    }
    job.view.reset();
    // Idle before on_committed_, which may have the apply thread look for the next snapshot
    // at once: one that still found this one busy would skip it.
    busy_.store(false);
    if (result.ok()) on_committed_(*result);
    for (auto& w : job.waiters) w(result);
  }
}

Result<SnapshotMeta> SnapshotWorker::write(Job& job) {
  if (job.index <= newest_index_.load()) {
    return Status(ErrorCode::kAlreadyExists,
                  fmt::format("nothing new to snapshot: the newest snapshot is at index {}",
                              newest_index_.load()));
  }
  auto writer = storage_.begin_snapshot(job.index, job.term, job.configuration);
  if (!writer.ok()) return writer.status();
  SnapshotWriterSink sink(**writer);
  AbortableSink abortable(sink, stopping_);
  if (Status s = job.view->write_to(abortable); !s.ok()) {
    (void)(*writer)->abort();
    return s;
  }
  return (*writer)->commit();
}

}  // namespace raft::runtime
