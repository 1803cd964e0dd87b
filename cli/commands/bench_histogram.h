// LatencyHistogram: a log-bucketed histogram of non-negative integers
// (nanoseconds, in practice), in the spirit of HdrHistogram.
//
// Values below 256 are counted exactly. Above that, each power of two is
// split into 128 equal buckets, so a reported percentile is within 1/128
// (< 0.8%) of the true value, whatever the magnitude, in a fixed 57 KiB.
// Percentiles report the highest value that is equivalent to the bucket
// (as HdrHistogram does), clamped to the largest value recorded, so they
// never understate latency.
//
// Thread safety: none; give each thread its own histogram and Merge() them.
#ifndef BERTH_CLI_COMMANDS_BENCH_HISTOGRAM_H_
#define BERTH_CLI_COMMANDS_BENCH_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace berth::cli {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Negative values count as 0.
  void Record(int64_t value);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  // 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const;

  // The value at percentile `p` in [0, 100]: the smallest recorded bucket
  // value v such that at least p% of the samples are <= v. 0 when empty.
  int64_t Percentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketOf(int64_t value);
  static int64_t BucketLow(int bucket);
  static int64_t BucketHigh(int bucket);
  static int BucketCount();

 private:
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // Sum for the mean; long double keeps hours of nanoseconds exact enough.
  long double sum_ = 0;
};

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_HISTOGRAM_H_
