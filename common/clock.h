// Clock: the only way berth code reads time.
//
// Production code takes a Clock* (borrowed; must outlive its users) so that
// tests can drive a SimClock instead of sleeping. Raft itself has no clock at
// all: its driver turns Clock time into Tick() calls.
//
// Thread safety: both implementations are safe to call from any thread.
#ifndef BERTH_COMMON_CLOCK_H_
#define BERTH_COMMON_CLOCK_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace berth {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (cron, timestamps shown to people).
  virtual absl::Time Now() const = 0;
  // Monotonic time for timeouts and durations; never goes backwards.
  virtual absl::Time Monotonic() const = 0;
  // Blocks until Monotonic() >= deadline or until woken by the clock's owner.
  virtual void SleepUntil(absl::Time monotonic_deadline) = 0;

  // The process-wide real clock. It is stateless, so sharing it is safe.
  static Clock* Real();
};

// A clock that moves only when a test calls Advance(). Sleepers wake when
// simulated time passes their deadline.
class SimClock : public Clock {
 public:
  explicit SimClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}
  absl::Time Now() const override;
  absl::Time Monotonic() const override;
  void SleepUntil(absl::Time monotonic_deadline) override;

  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth

#endif  // BERTH_COMMON_CLOCK_H_
