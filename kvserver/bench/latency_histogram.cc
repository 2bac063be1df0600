// LatencyHistogram: see latency_histogram.h.
#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace kvbench {

LatencyHistogram::LatencyHistogram() { counts_.fill(0); }

int LatencyHistogram::bucket_of(std::uint64_t nanos) {
  if (nanos < kSubBuckets) return static_cast<int>(nanos);
  // The top kSubBucketBits + 1 bits of the value select the bucket within its power of two.
  const int shift = std::bit_width(nanos) - 1 - kSubBucketBits;
  return (shift + 1) * static_cast<int>(kSubBuckets) +
         static_cast<int>((nanos >> shift) - kSubBuckets);
}

std::uint64_t LatencyHistogram::bucket_lowest(int bucket) {
  const auto b = static_cast<std::uint64_t>(bucket);
  if (b < kSubBuckets) return b;
  const std::uint64_t shift = b / kSubBuckets - 1;
  return ((b % kSubBuckets) + kSubBuckets) << shift;
}

std::uint64_t LatencyHistogram::bucket_highest(int bucket) {
  const auto b = static_cast<std::uint64_t>(bucket);
  if (b < kSubBuckets) return b;
  const std::uint64_t shift = b / kSubBuckets - 1;
  return bucket_lowest(bucket) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t nanos) {
  ++counts_[static_cast<std::size_t>(bucket_of(nanos))];
  min_ = count_ == 0 ? nanos : std::min(min_, nanos);
  max_ = std::max(max_, nanos);
  ++count_;
  sum_ += static_cast<long double>(nanos);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::value_at_quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::clamp(bucket_highest(static_cast<int>(i)), min_, max_);
    }
  }
  return max_;
}

}  // namespace kvbench
