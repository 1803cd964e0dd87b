// Counter: a monotonically increasing count (Prometheus type "counter").
//
// Thread safety: every method is thread-safe and lock-free; Inc is one
// relaxed atomic add, cheap enough for the hot path.
#ifndef BERTH_COMMON_METRICS_COUNTER_H_
#define BERTH_COMMON_METRICS_COUNTER_H_

#include <atomic>
#include <cstdint>

namespace berth::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_COUNTER_H_
