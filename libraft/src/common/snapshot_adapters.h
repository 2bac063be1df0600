// Adapters between raft::StateMachine's snapshot streams (SnapshotSink, SnapshotSource) and
// the places a host keeps snapshot bytes: a raft::SnapshotWriter / SnapshotReader of a
// snapshot store (DurableStorage::begin_snapshot, open_newest_snapshot), or a string
// (MemoryStorage). Each adapter borrows what it wraps, which must outlive it; one thread at a
// time, like what they wrap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "raft/snapshot_store.h"
#include "raft/state_machine.h"

namespace raft {

// A SnapshotSink that appends every chunk to a SnapshotWriter (the caller commits it).
class SnapshotWriterSink final : public SnapshotSink {
 public:
  explicit SnapshotWriterSink(SnapshotWriter& writer) : writer_(writer) {}
  Status write(std::string_view chunk) override {
    bytes_ += chunk.size();
    return writer_.write(chunk);
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  SnapshotWriter& writer_;
  std::uint64_t bytes_ = 0;
};

// A SnapshotSource that reads a SnapshotReader's data from its start, in order (the reader
// verifies the checksum when the end is reached).
class SnapshotReaderSource final : public SnapshotSource {
 public:
  explicit SnapshotReaderSource(SnapshotReader& reader) : reader_(reader) {}
  Status read(std::size_t max_bytes, std::string* out) override {
    out->clear();
    Status s = reader_.read(offset_, max_bytes, out);
    if (s.ok()) offset_ += out->size();
    return s;
  }

 private:
  SnapshotReader& reader_;
  std::uint64_t offset_ = 0;
};

// A SnapshotSink that collects the bytes in a string.
class StringSnapshotSink final : public SnapshotSink {
 public:
  Status write(std::string_view chunk) override {
    data_.append(chunk);
    ++chunks_;
    return Status::ok_status();
  }
  std::string& data() { return data_; }
  int chunks() const { return chunks_; }

 private:
  std::string data_;
  int chunks_ = 0;
};

// A SnapshotSource over a string it borrows.
class StringSnapshotSource final : public SnapshotSource {
 public:
  explicit StringSnapshotSource(const std::string& data) : data_(data) {}
  Status read(std::size_t max_bytes, std::string* out) override {
    const std::size_t n = std::min(max_bytes, data_.size() - offset_);
    out->assign(data_, offset_, n);
    offset_ += n;
    return Status::ok_status();
  }

 private:
  const std::string& data_;
  std::size_t offset_ = 0;
};

}  // namespace raft
