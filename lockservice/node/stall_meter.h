// StallMeter: times the Raft driver thread's operations and reports every
// one slower than a threshold.
//
// While the driver is busy with one operation it sends no heartbeat and
// steps no message, so a long one can cost the leadership. Each slow
// operation is logged as
//   raft node <id>: raft thread stall: <op> took <N> ms
// (scripts grep for "raft thread stall") and counted.
//
// Thread safety: Op is used on the driver thread only; count() may be read
// from any thread.
#ifndef BERTH_LOCKSERVICE_NODE_STALL_METER_H_
#define BERTH_LOCKSERVICE_NODE_STALL_METER_H_

#include <atomic>
#include <cstdint>
#include <cstdio>

#include "absl/time/time.h"
#include "common/clock.h"

namespace berth::node {

class StallMeter {
 public:
  StallMeter(Clock* clock, uint64_t node_id, absl::Duration threshold)
      : clock_(clock), node_id_(node_id), threshold_(threshold) {}

  // Times the scope it lives in. `what` must outlive it (a literal); `n`,
  // if non-zero, is printed after it (entries, messages...).
  class Op {
   public:
    Op(StallMeter* m, const char* what, uint64_t n = 0)
        : m_(m), what_(what), n_(n), start_(m->clock_->Monotonic()) {}
    ~Op() { m_->Finish(what_, n_, m_->clock_->Monotonic() - start_); }
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

   private:
    StallMeter* m_;
    const char* what_;
    uint64_t n_;
    absl::Time start_;
  };

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  void Finish(const char* what, uint64_t n, absl::Duration took) {
    if (took <= threshold_) return;
    count_.fetch_add(1, std::memory_order_relaxed);
    const long long ms = absl::ToInt64Milliseconds(took);
    if (n > 0) {
      fprintf(stderr,
              "raft node %llu: raft thread stall: %s (%llu) took %lld ms\n",
              static_cast<unsigned long long>(node_id_), what,
              static_cast<unsigned long long>(n), ms);
    } else {
      fprintf(stderr, "raft node %llu: raft thread stall: %s took %lld ms\n",
              static_cast<unsigned long long>(node_id_), what, ms);
    }
  }

  Clock* const clock_;
  const uint64_t node_id_;
  const absl::Duration threshold_;
  std::atomic<uint64_t> count_{0};
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_STALL_METER_H_
