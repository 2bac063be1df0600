// log_store_bench: throughput of SegmentedLog::append on the real disk, next to the raw
// write + fdatasync rate of the same disk, and the time to open a 1,000,000-entry log.
// Prints figures; never run as a test.
//
//   log_store_bench [--dir DIR] [--seconds S] [--repeat N] [--slice MS] [--size B]
//                   [--batch N] [--segment-mib M] [--spare auto|off|inline|background]
//
// (--size or --batch also skips the open of the big log.) --segment-mib sets the log's
// segment size (default 64 MiB) and --spare how its next segment is prepared (default auto:
// background; see "The spare segment" in raft/segmented_log.h), to compare them.
// Each point (entry size x batch size; --size / --batch restrict them) is measured N times
// (default 1), each time for S seconds of log appends (default 1) and S seconds of the raw
// baseline, taken in alternating slices of MS milliseconds (default 100), so that both see
// the disk as it was at that moment (a shared machine's disk drifts by a factor of several
// within a minute). Medians are printed; "vs raw" is the median of the per-repetition
// ratios.
//
// The raw baseline of a point writes exactly the bytes one append() of that point writes
// (batch x one record: the entry serialized plus the 8-byte record header) with one pwrite,
// at consecutive offsets cycling through a region of a file that was written and synced
// beforehand, then fdatasync: an overwrite in place, with no block to allocate or convert
// and no metadata to flush, whose pages stay in the page cache: the disk's limit for one
// sync per batch. (The log's appends get new page-cache pages instead; a baseline that drops
// its pages is no fairer, because a write of part of a page not cached reads it first.) The log is
// opened fresh for each repetition and kept open across its slices, so that its own costs
// (zeroing ahead, creating the next segment) are included at their natural rate. Its
// background thread, writing the next segment's spare (see "The spare segment" in
// raft/segmented_log.h), runs on during the raw slices and competes with them for the disk:
// compare the "raw ovw/s" of runs with --spare off to see by how much.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "raft/file_system.h"
#include "raft/segmented_log.h"
#include "storage/segment_format.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

raft::pb::Entry make_entry(raft::Index index, std::size_t size) {
  raft::pb::Entry e;
  e.set_index(index);
  e.set_term(1);
  e.set_data(std::string(size, static_cast<char>('a' + index % 26)));
  return e;
}

void fail(const raft::Status& s) {
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  std::exit(1);
}

// Raw write + fdatasync with plain system calls, `bytes` per sync at consecutive offsets.
enum class RawMode {
  kGrow,       // appending: the file size changes with every sync (a segment without
               // preallocation)
  kOverwrite,  // cycling through a region of at least 4 MiB of a file written and synced
               // beforehand, whose pages stay cached: no metadata to flush, the disk's limit
};

class RawWriter {
 public:
  RawWriter(const std::string& path, std::size_t bytes, RawMode mode)
      : path_(path), block_(bytes, 'x'), mode_(mode) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(raft::Status(raft::ErrorCode::kIoError, "open " + path));
    const std::uint64_t region = std::max<std::uint64_t>(4u << 20, 4 * bytes);
    writes_ = std::max<std::uint64_t>(1, region / bytes);
    if (mode_ != RawMode::kGrow) {
      const std::string zeros(1u << 20, '\0');
      for (std::uint64_t done = 0; done < writes_ * bytes; done += zeros.size()) {
        if (::write(fd_, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) {
          fail({raft::ErrorCode::kIoError, "write"});
        }
      }
      if (::fsync(fd_) != 0) fail({raft::ErrorCode::kIoError, "fsync"});
    }
  }
  ~RawWriter() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  RawWriter(const RawWriter&) = delete;
  RawWriter& operator=(const RawWriter&) = delete;

  // Writes and syncs until `seconds` have passed; returns the syncs done.
  std::uint64_t run(double seconds) {
    std::uint64_t n = 0;
    const auto start = Clock::now();
    while (seconds_since(start) < seconds) {
      const std::uint64_t slot = mode_ == RawMode::kGrow ? next_ : next_ % writes_;
      const auto at = static_cast<off_t>(slot * block_.size());
      if (::pwrite(fd_, block_.data(), block_.size(), at) != static_cast<ssize_t>(block_.size())) {
        fail({raft::ErrorCode::kIoError, "pwrite"});
      }
      if (::fdatasync(fd_) != 0) fail({raft::ErrorCode::kIoError, "fdatasync"});
      ++next_;
      ++n;
    }
    return n;
  }

 private:
  std::string path_;
  std::string block_;
  RawMode mode_;
  int fd_ = -1;
  std::uint64_t writes_ = 1;  // writes per cycle through the region
  std::uint64_t next_ = 0;
};

double raw_sync_rate(const std::string& dir, double seconds, RawMode mode) {
  RawWriter raw(dir + "/raw", 4096, mode);
  const auto start = Clock::now();
  const std::uint64_t n = raw.run(seconds);
  return static_cast<double>(n) / seconds_since(start);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The bytes one record of an entry of `size` bytes takes in a segment (at a typical index).
std::size_t record_bytes(std::size_t size) {
  return raft::segment_format::kRecordHeaderSize + make_entry(100'000, size).ByteSizeLong();
}

struct PointRate {
  double appends = 0;        // entries per second
  double syncs = 0;          // append() calls (one fdatasync each) per second
  double raw = 0;            // raw overwrites of the same bytes (one fdatasync each) per second
  std::size_t segments = 0;  // segments at the end
  std::uint64_t spares = 0;  // of which started from the spare
};

// One repetition of a point: a fresh log in `log_dir`, appended to in batches of `batch`
// entries of `size` bytes, alternating slices of `slice` seconds with `raw`, until each
// has run `seconds`. The log is removed afterwards.
PointRate measure_point(const std::string& log_dir, RawWriter& raw, std::size_t size,
                        std::size_t batch, double seconds, double slice,
                        const raft::SegmentedLog::Options& options) {
  auto& fs = raft::posix_file_system();
  PointRate rate;
  {
    auto log = raft::SegmentedLog::open(fs, log_dir, options);
    if (!log.ok()) fail(log.status());
    // The entries are built once and renumbered for each append: what is timed is the log's
    // work (encoding, checksums, write, sync), not building payloads.
    std::vector<raft::pb::Entry> batch_entries;
    for (std::size_t k = 0; k < batch; ++k) batch_entries.push_back(make_entry(k + 1, size));
    raft::Index next = 1;
    std::uint64_t entries = 0;
    std::uint64_t syncs = 0;
    std::uint64_t raw_syncs = 0;
    double log_time = 0;
    double raw_time = 0;
    while (log_time < seconds || raw_time < seconds) {
      if (raw_time < seconds) {
        const auto start = Clock::now();
        raw_syncs += raw.run(slice);
        raw_time += seconds_since(start);
      }
      if (log_time < seconds) {
        const auto start = Clock::now();
        while (seconds_since(start) < slice) {
          for (auto& entry : batch_entries) entry.set_index(next++);
          if (auto s = (*log)->append(batch_entries); !s.ok()) fail(s);
          entries += batch;
          ++syncs;
        }
        log_time += seconds_since(start);
      }
    }
    rate.appends = static_cast<double>(entries) / log_time;
    rate.syncs = static_cast<double>(syncs) / log_time;
    rate.raw = static_cast<double>(raw_syncs) / raw_time;
    rate.segments = (*log)->segment_count();
    rate.spares = (*log)->spares_used();
  }
  (void)fs.remove_all(log_dir);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  std::string parent = "/tmp";
  double seconds = 1.0;
  double slice = 0.1;
  int repeat = 1;
  bool all_points = true;  // also time the open of a big log
  std::vector<std::size_t> sizes = {100, 1024, 64 * 1024};
  std::vector<std::size_t> batches = {1, 16, 256};
  raft::SegmentedLog::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--slice" && i + 1 < argc) {
      slice = std::max(0.001, std::atof(argv[++i]) / 1000);
    } else if (arg == "--size" && i + 1 < argc) {
      sizes = {static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])))};
      all_points = false;
    } else if (arg == "--segment-mib" && i + 1 < argc) {
      options.segment_size = std::uint64_t{1} << 20;
      options.segment_size *= static_cast<std::uint64_t>(std::max(1, std::atoi(argv[++i])));
    } else if (arg == "--spare" && i + 1 < argc) {
      const std::string mode = argv[++i];
      using Spare = raft::SegmentedLog::Options::Spare;
      options.spare = mode == "off"          ? Spare::kOff
                      : mode == "inline"     ? Spare::kInline
                      : mode == "background" ? Spare::kBackground
                                             : Spare::kAuto;
    } else if (arg == "--batch" && i + 1 < argc) {
      batches = {static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])))};
      all_points = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--dir DIR] [--seconds S] [--repeat N] [--slice MS] [--size B] "
                   "[--batch N] [--segment-mib M] [--spare auto|off|inline|background]\n",
                   argv[0]);
      return 2;
    }
  }
  std::string pattern = parent + "/log_store_bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", pattern.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string dir = pattern;
  auto& fs = raft::posix_file_system();

  const double raw_grow = raw_sync_rate(dir, seconds, RawMode::kGrow);
  const double raw = raw_sync_rate(dir, seconds, RawMode::kOverwrite);
  fmt::print("raw 4 KiB write + fdatasync in {}:\n", dir);
  fmt::print("  overwrite (no size change): {:.0f} syncs/s ({:.3f} ms each)\n", raw, 1000.0 / raw);
  fmt::print("  append (file grows):        {:.0f} syncs/s ({:.3f} ms each)\n\n", raw_grow,
             1000.0 / raw_grow);
  fmt::print(
      "raw = one pwrite of the bytes one append writes (batch x record bytes) at consecutive\n"
      "offsets of a region written and synced beforehand, whose pages stay cached, +\n"
      "fdatasync (overwrite in place: the disk's limit). Slices of {:.0f} ms alternate raw and\n"
      "log, {} x {} s each; medians (of the per-repetition ratios for \"vs raw\").\n",
      slice * 1000, repeat, seconds);
  fmt::print("{:>9} {:>6} {:>12} {:>10} {:>13} {:>10} {:>10} {:>7}\n", "entry", "batch",
             "appends/s", "MB/s", "fdatasyncs/s", "raw bytes", "raw ovw/s", "vs raw");
  int point = 0;
  for (std::size_t size : sizes) {
    for (std::size_t batch : batches) {
      const std::size_t write_bytes = batch * record_bytes(size);
      RawWriter raw_writer(dir + "/raw", write_bytes, RawMode::kOverwrite);
      std::vector<double> appends;
      std::vector<double> syncs;
      std::vector<double> raws;
      std::vector<double> ratios;
      std::size_t segments = 0;
      std::uint64_t spares = 0;
      for (int r = 0; r < repeat; ++r) {
        const PointRate rate = measure_point(fmt::format("{}/log{}", dir, point++), raw_writer,
                                             size, batch, seconds, slice, options);
        segments += rate.segments;
        spares += rate.spares;
        appends.push_back(rate.appends);
        syncs.push_back(rate.syncs);
        raws.push_back(rate.raw);
        ratios.push_back(rate.syncs / rate.raw);
      }
      const double appends_per_s = median(appends);
      fmt::print("{:>7} B {:>6} {:>12.0f} {:>10.1f} {:>13.0f} {:>10} {:>10.0f} {:>6.0f}%\n", size,
                 batch, appends_per_s, appends_per_s * static_cast<double>(size) / 1e6,
                 median(syncs), write_bytes, median(raws), 100.0 * median(ratios));
      if (!all_points) {  // a closer look: how many segments came from the spare
        fmt::print("{:>17} segments in all, {} from the spare\n", segments, spares);
      }
      std::fflush(stdout);
    }
  }

  // Opening a 1,000,000-entry log (100-byte entries, batches of 1,000).
  if (all_points) {
    constexpr raft::Index kEntries = 1'000'000;
    const std::string log_dir = dir + "/big";
    {
      auto log = raft::SegmentedLog::open(fs, log_dir);
      if (!log.ok()) fail(log.status());
      std::vector<raft::pb::Entry> batch_entries;
      for (raft::Index i = 1; i <= kEntries; i += 1000) {
        batch_entries.clear();
        for (raft::Index k = i; k < i + 1000; ++k) batch_entries.push_back(make_entry(k, 100));
        if (auto s = (*log)->append(batch_entries); !s.ok()) fail(s);
      }
    }
    const auto start = Clock::now();
    auto log = raft::SegmentedLog::open(fs, log_dir);
    if (!log.ok()) fail(log.status());
    const double took = seconds_since(start);
    fmt::print("\nopen of a {}-entry log ({} segments): {:.3f} s (page cache warm)\n",
               (*log)->last_index(), (*log)->segment_count(), took);
  }
  (void)fs.remove_all(dir);
  return 0;
}
