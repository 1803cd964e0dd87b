// Histogram: observations counted into fixed buckets (Prometheus type
// "histogram"), plus their sum.
//
// Each bucket keeps its own (non-cumulative) count; Snapshot() adds them up
// into the cumulative `le` buckets the format wants. The total count is the
// sum of the buckets rather than a separate atomic, so a scrape that races
// an Observe still shows +Inf == _count.
//
// Thread safety: Observe and Snapshot are thread-safe and lock-free;
// Observe is a binary search and two relaxed atomic adds.
#ifndef BERTH_COMMON_METRICS_HISTOGRAM_H_
#define BERTH_COMMON_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"

namespace berth::metrics {

// `count` bucket bounds start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// Latency buckets in seconds, 0.5 ms .. ~16 s (doubling).
std::vector<double> LatencyBuckets();

class Histogram {
 public:
  // `bounds` are the upper bounds (inclusive) of the finite buckets,
  // strictly increasing; a +Inf bucket is always added.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);
  void ObserveDuration(absl::Duration d) { Observe(absl::ToDoubleSeconds(d)); }

  struct Snapshot {
    std::vector<double> bounds;        // finite upper bounds
    std::vector<uint64_t> cumulative;  // bounds.size() + 1; last is +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Take() const;

 private:
  const std::vector<double> bounds_;
  // bounds_.size() + 1 counters, the last for values above every bound.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_HISTOGRAM_H_
