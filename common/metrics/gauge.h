// Gauge: a value that goes up and down (Prometheus type "gauge").
//
// Thread safety: every method is thread-safe and lock-free.
#ifndef BERTH_COMMON_METRICS_GAUGE_H_
#define BERTH_COMMON_METRICS_GAUGE_H_

#include <atomic>

namespace berth::metrics {

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_GAUGE_H_
