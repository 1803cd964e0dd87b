// StallMeter: times the Raft driver thread's operations and reports every
// one slower than a threshold.
//
// While the driver is busy with one operation it sends no heartbeat and
// steps no message, so a long one can cost the leadership. Each slow
// operation is logged as
//   raft node <id>: raft thread stall: <op> took <N> ms
// (scripts grep for "raft thread stall") and counted. The line also splits
// the wall time, from the kernel's schedstat for the thread, into time on
// a CPU and time runnable but waiting for one; the rest the thread was
// blocked (fsync, a mutex). That tells an overloaded host from slow code
// from a slow disk.
//
// Thread safety: Op is used on the driver thread only; count() may be read
// from any thread.
#ifndef BERTH_LOCKSERVICE_NODE_STALL_METER_H_
#define BERTH_LOCKSERVICE_NODE_STALL_METER_H_

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

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
  ~StallMeter() {
    if (sched_fd_ >= 0) close(sched_fd_);
  }
  StallMeter(const StallMeter&) = delete;
  StallMeter& operator=(const StallMeter&) = delete;

  // The thread's cumulative time on a CPU and waiting in a run queue.
  struct Sched {
    int64_t on_cpu_ns = 0;
    int64_t wait_ns = 0;
    Sched operator-(const Sched& o) const {
      return {on_cpu_ns - o.on_cpu_ns, wait_ns - o.wait_ns};
    }
  };

  // Times the scope it lives in. `what` must outlive it (a literal); `n`,
  // if non-zero, is printed after it (entries, messages...).
  class Op {
   public:
    Op(StallMeter* m, const char* what, uint64_t n = 0)
        : m_(m),
          what_(what),
          n_(n),
          start_(m->clock_->Monotonic()),
          sched_start_(m->RecentSched()) {}
    ~Op() {
      m_->Finish(what_, n_, m_->clock_->Monotonic() - start_, sched_start_);
    }
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

   private:
    StallMeter* m_;
    const char* what_;
    uint64_t n_;
    absl::Time start_;
    Sched sched_start_;
  };

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  static constexpr int64_t kSchedReuseNs = 1'000'000;

  // A schedstat reading at most kSchedReuseNs old. Reading procfs costs
  // ~2 us on a VM (procfs formats it on each read, then sscanf), and it ran
  // twice per operation, ~16 times per put: ~9% of the leader's driver thread
  // in a 1-client put benchmark. A reading shared by the operations of one
  // burst of work adds at most kSchedReuseNs to the split of a stall, which is
  // printed in whole ms of a stall of at least the threshold.
  Sched RecentSched() {
    const int64_t now = RealMonotonicNs();
    if (sched_at_ns_ < 0 || now - sched_at_ns_ > kSchedReuseNs) {
      sched_ = ReadSched();
      sched_at_ns_ = now;
    }
    return sched_;
  }

  static int64_t RealMonotonicNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

  // One pread of /proc/thread-self/schedstat ("<on-cpu ns> <run-queue wait
  // ns> <slices>"), opened on the first call, from the driver thread. Real
  // kernel time even under a simulated clock; it is only printed. Zeros
  // where /proc is missing.
  Sched ReadSched() {
    if (sched_fd_ == -1) {
      sched_fd_ = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
      if (sched_fd_ < 0) sched_fd_ = -2;
    }
    Sched s;
    if (sched_fd_ < 0) return s;
    char buf[96];
    const ssize_t n = pread(sched_fd_, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return s;
    buf[n] = '\0';
    long long cpu = 0, wait = 0;
    if (sscanf(buf, "%lld %lld", &cpu, &wait) == 2) s = {cpu, wait};
    return s;
  }

  // Reads schedstat again only for a stall: the common fast operation
  // costs two clock reads.
  void Finish(const char* what, uint64_t n, absl::Duration took,
              const Sched& sched_start) {
    if (took <= threshold_) return;
    count_.fetch_add(1, std::memory_order_relaxed);
    sched_ = ReadSched();
    sched_at_ns_ = RealMonotonicNs();
    const Sched sched = sched_ - sched_start;
    const long long ms = absl::ToInt64Milliseconds(took);
    char count[32] = "";
    if (n > 0) {
      snprintf(count, sizeof(count), " (%llu)",
               static_cast<unsigned long long>(n));
    }
    fprintf(stderr,
            "raft node %llu: raft thread stall: %s%s took %lld ms (%lld ms on "
            "cpu, %lld ms waiting for a cpu)\n",
            static_cast<unsigned long long>(node_id_), what, count, ms,
            static_cast<long long>(sched.on_cpu_ns / 1000000),
            static_cast<long long>(sched.wait_ns / 1000000));
  }

  Clock* const clock_;
  const uint64_t node_id_;
  const absl::Duration threshold_;
  std::atomic<uint64_t> count_{0};
  int sched_fd_ = -1;         // -2: unavailable
  Sched sched_;               // the last reading...
  int64_t sched_at_ns_ = -1;  // ...taken then (RealMonotonicNs)
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_STALL_METER_H_
