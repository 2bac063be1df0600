#include "storage/segment_preparer.h"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "os/thread_name.h"

namespace raft {

namespace {

// The spare is written in writes of this size; cancellation is checked between them.
constexpr std::uint64_t kChunk = 1u << 20;

std::string_view zero_chunk(std::uint64_t n) {
  static const std::string* const block = new std::string(kChunk, '\0');  // never freed
  return std::string_view(*block).substr(0, static_cast<std::size_t>(n));
}

}  // namespace

SegmentPreparer::SegmentPreparer(FileSystem& fs, std::string path, std::uint64_t size,
                                 bool background)
    : fs_(fs), path_(std::move(path)), size_(size), background_(background) {}

SegmentPreparer::~SegmentPreparer() { stop(); }

void SegmentPreparer::start() {
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kIdle) return;  // ready, or under way
    state_ = State::kRunning;
  }
  join();  // a worker that failed has finished; reap it
  cancel_ = false;
  if (!background_) {
    prepare();
    return;
  }
  try {
    thread_ = std::thread([this] {
      set_thread_name("raft-segprep");
      prepare();
    });
  } catch (const std::system_error& e) {  // no thread to be had: no spare this time
    std::lock_guard lock(mutex_);
    error_ = Status(ErrorCode::kIoError,
                    fmt::format("{}: cannot start the preparing thread: {}", path_, e.what()));
    state_ = State::kIdle;
  }
}

std::unique_ptr<WritableFile> SegmentPreparer::take() {
  std::unique_ptr<WritableFile> spare;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kReady) return nullptr;
    spare = std::move(ready_);
    state_ = State::kIdle;
  }
  join();  // the worker set kReady as its last step: this waits for its exit, no more
  return spare;
}

void SegmentPreparer::stop() {
  cancel_ = true;
  join();
}

bool SegmentPreparer::ready() const {
  std::lock_guard lock(mutex_);
  return state_ == State::kReady;
}

Status SegmentPreparer::last_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void SegmentPreparer::join() {
  if (thread_.joinable()) thread_.join();
}

void SegmentPreparer::prepare() {
  std::unique_ptr<WritableFile> spare;
  Status s = write_spare(&spare);
  std::lock_guard lock(mutex_);
  if (s.ok()) {
    ready_ = std::move(spare);
    state_ = State::kReady;
  } else {
    error_ = s;
    state_ = State::kIdle;
  }
}

Status SegmentPreparer::write_spare(std::unique_ptr<WritableFile>* out) {
  // A file left by an earlier attempt is emptied: its blocks are written again.
  auto file = fs_.create_writable(path_);
  if (!file.ok()) return file.status();
  for (std::uint64_t at = 0; at < size_; at += kChunk) {
    if (cancel_) {
      return Status(ErrorCode::kShutdown, fmt::format("{}: preparation cancelled", path_));
    }
    if (Status s = (*file)->append(zero_chunk(std::min(kChunk, size_ - at))); !s.ok()) return s;
  }
  if (Status s = (*file)->sync(); !s.ok()) return s;
  *out = std::move(*file);
  return Status();
}

}  // namespace raft
