// LatencyHistogram: a log-linear histogram of latencies in nanoseconds, in the manner of
// HdrHistogram: values below 128 ns each have their own bucket; above, every power of two is
// split into 128 equal buckets, so a reported value is within 1/128 (< 1 %) of the recorded
// one. It covers the whole uint64 range in a fixed 7,424 counters (58 KiB); the exact
// minimum and maximum are kept aside.
//
// Ownership and threads: a plain value owned by its user, one thread at a time. kvbench keeps
// one per worker thread and operation type, and merges them once the threads have stopped.
#pragma once

#include <array>
#include <cstdint>

namespace kvbench {

class LatencyHistogram {
 public:
  // Values per power of two above kSubBuckets (and exact values below it).
  static constexpr int kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
  static constexpr int kBucketCount = (64 - kSubBucketBits + 1) * static_cast<int>(kSubBuckets);

  LatencyHistogram();

  void record(std::uint64_t nanos);
  // Adds every value recorded in `other`.
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  // 0 when empty.
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q (0..1): the highest value of the bucket holding the
  // ceil(q * count)-th smallest recording, bounded by max(). 0 when empty.
  std::uint64_t value_at_quantile(double q) const;

  // The bucket a value falls in, and the range [lowest, highest] a bucket stands for.
  static int bucket_of(std::uint64_t nanos);
  static std::uint64_t bucket_lowest(int bucket);
  static std::uint64_t bucket_highest(int bucket);

 private:
  std::array<std::uint64_t, kBucketCount> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace kvbench
