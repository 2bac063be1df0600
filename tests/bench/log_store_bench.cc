// log_store_bench: throughput of SegmentedLog::append on the real disk, next to the raw
// 4 KiB write + fdatasync rate of the same disk (the physical limit of one sync per batch),
// and the time to open a 1,000,000-entry log. Prints figures; never run as a test.
//
//   log_store_bench [--dir DIR] [--seconds S] [--repeat N]
//
// S seconds per measured point (default 1). Each point is measured N times (default 1),
// each time right after a raw overwrite measurement of S seconds, and the medians are
// printed: "raw ovw/s" is the raw overwrite rate measured next to the point, and "vs raw
// overwrite" the median of the per-repetition ratios, so that a disk whose speed drifts
// (a shared machine) compares each point with the disk as it was at that moment.
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

// Raw 4 KiB write + fdatasync with plain system calls: syncs per second. `grow`: appending
// (the file size changes with every sync, as in a log segment); otherwise overwriting the
// first 4 MiB of an already written file in a cycle (no metadata to flush: the disk's limit).
double raw_sync_rate(const std::string& dir, double seconds, bool grow) {
  const std::string path = dir + "/raw";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(raft::Status(raft::ErrorCode::kIoError, "open " + path));
  const std::string block(4096, 'x');
  constexpr int kBlocks = 1024;
  if (!grow) {
    for (int i = 0; i < kBlocks; ++i) {
      if (::write(fd, block.data(), block.size()) != 4096)
        fail({raft::ErrorCode::kIoError, "write"});
    }
    ::fsync(fd);
  }
  std::uint64_t n = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const off_t at = grow ? static_cast<off_t>(n * 4096) : static_cast<off_t>((n % kBlocks) * 4096);
    if (::pwrite(fd, block.data(), block.size(), at) != 4096)
      fail({raft::ErrorCode::kIoError, "pwrite"});
    if (::fdatasync(fd) != 0) fail({raft::ErrorCode::kIoError, "fdatasync"});
    ++n;
  }
  const double rate = static_cast<double>(n) / seconds_since(start);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct LogRate {
  double appends = 0;  // entries per second
  double syncs = 0;    // append() calls (one fdatasync each) per second
};

// Appends batches of `batch` entries of `size` bytes to a fresh log in `log_dir` for
// `seconds`; the log is removed afterwards.
LogRate log_append_rate(const std::string& log_dir, std::size_t size, std::size_t batch,
                        double seconds) {
  auto& fs = raft::posix_file_system();
  std::uint64_t entries = 0;
  std::uint64_t syncs = 0;
  double elapsed = 0;
  {
    auto log = raft::SegmentedLog::open(fs, log_dir);
    if (!log.ok()) fail(log.status());
    std::vector<raft::pb::Entry> batch_entries;
    raft::Index next = 1;
    const auto start = Clock::now();
    while ((elapsed = seconds_since(start)) < seconds) {
      batch_entries.clear();
      for (std::size_t k = 0; k < batch; ++k) batch_entries.push_back(make_entry(next++, size));
      if (auto s = (*log)->append(batch_entries); !s.ok()) fail(s);
      entries += batch;
      ++syncs;
    }
  }
  (void)fs.remove_all(log_dir);
  return LogRate{static_cast<double>(entries) / elapsed, static_cast<double>(syncs) / elapsed};
}

}  // namespace

int main(int argc, char** argv) {
  std::string parent = "/tmp";
  double seconds = 1.0;
  int repeat = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--seconds S] [--repeat N]\n", argv[0]);
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

  const double raw_grow = raw_sync_rate(dir, seconds, true);
  const double raw = raw_sync_rate(dir, seconds, false);
  fmt::print("raw 4 KiB write + fdatasync in {}:\n", dir);
  fmt::print("  overwrite (no size change): {:.0f} syncs/s ({:.3f} ms each)\n", raw, 1000.0 / raw);
  fmt::print("  append (file grows):        {:.0f} syncs/s ({:.3f} ms each)\n\n", raw_grow,
             1000.0 / raw_grow);
  fmt::print("{:>9} {:>6} {:>12} {:>10} {:>13} {:>10} {:>17}\n", "entry", "batch", "appends/s",
             "MB/s", "fdatasyncs/s", "raw ovw/s", "vs raw overwrite");
  int point = 0;
  for (std::size_t size : {std::size_t{100}, std::size_t{1024}, std::size_t{64 * 1024}}) {
    for (std::size_t batch : {std::size_t{1}, std::size_t{16}, std::size_t{256}}) {
      std::vector<double> appends;
      std::vector<double> syncs;
      std::vector<double> raws;
      std::vector<double> ratios;
      for (int r = 0; r < repeat; ++r) {
        const double raw_now = raw_sync_rate(dir, seconds, false);
        const LogRate rate =
            log_append_rate(fmt::format("{}/log{}", dir, point++), size, batch, seconds);
        appends.push_back(rate.appends);
        syncs.push_back(rate.syncs);
        raws.push_back(raw_now);
        ratios.push_back(rate.syncs / raw_now);
      }
      const double appends_per_s = median(appends);
      fmt::print("{:>7} B {:>6} {:>12.0f} {:>10.1f} {:>13.0f} {:>10.0f} {:>16.0f}%\n", size, batch,
                 appends_per_s, appends_per_s * static_cast<double>(size) / 1e6, median(syncs),
                 median(raws), 100.0 * median(ratios));
    }
  }

  // Opening a 1,000,000-entry log (100-byte entries, batches of 1,000).
  {
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
