#include "cli/commands/bench_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace berth::cli {

namespace {

constexpr int kSubBits = 7;                       // 128 buckets per octave
constexpr int64_t kSub = int64_t{1} << kSubBits;  // 128
constexpr int64_t kExact = 2 * kSub;              // values < 256 are exact
// Octaves from 2^8 up to 2^62 (the top octave of a non-negative int64).
constexpr int kOctaves = 63 - (kSubBits + 1);

}  // namespace

int LatencyHistogram::BucketCount() {
  return static_cast<int>(kExact + kOctaves * kSub);
}

int LatencyHistogram::BucketOf(int64_t value) {
  if (value < kExact) return static_cast<int>(std::max<int64_t>(value, 0));
  const int exponent = 63 - std::countl_zero(static_cast<uint64_t>(value));
  const int shift = exponent - kSubBits;
  const int64_t sub = (value >> shift) - kSub;  // in [0, 128)
  return static_cast<int>(kExact + (exponent - (kSubBits + 1)) * kSub + sub);
}

int64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < kExact) return bucket;
  const int64_t octave = (bucket - kExact) / kSub;
  const int64_t sub = (bucket - kExact) % kSub;
  const int shift = static_cast<int>(octave) + 1;
  return (kSub + sub) << shift;
}

int64_t LatencyHistogram::BucketHigh(int bucket) {
  if (bucket < kExact) return bucket;
  const int shift = static_cast<int>((bucket - kExact) / kSub) + 1;
  // Computed as low + (width - 1) so the top bucket does not overflow.
  return BucketLow(bucket) + ((int64_t{1} << shift) - 1);
}

LatencyHistogram::LatencyHistogram() : counts_(BucketCount(), 0) {}

void LatencyHistogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  ++counts_[BucketOf(value)];
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  sum_ += value;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

int64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // The rank of the sample we want, 1-based; at least the first sample.
  const int64_t rank = std::max<int64_t>(
      1,
      static_cast<int64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::clamp(BucketHigh(static_cast<int>(i)), min_, max_);
    }
  }
  return max_;
}

}  // namespace berth::cli
