// Clock: the only way berth code reads time.
//
// Production code takes a Clock* (borrowed; must outlive its users) so that
// tests can drive a SimClock instead of sleeping. Raft itself has no clock at
// all: its driver turns Clock time into Tick() calls.
//
// Thread safety: both implementations are safe to call from any thread.
#ifndef BERTH_COMMON_CLOCK_H_
#define BERTH_COMMON_CLOCK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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
  // Like absl::Mutex::AwaitWithTimeout on `mu` (held by the caller), with
  // the timeout counted on this clock: returns once `cond` holds (true) or
  // `timeout` of this clock's time has passed (false). `cond` must take no
  // lock other than a leaf one. Lets a thread that waits for events under
  // its own mutex also wait for simulated time.
  virtual bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                                absl::Duration timeout);

  // The process-wide real clock. It is stateless, so sharing it is safe.
  static Clock* Real();
};

// A clock that moves only when a test calls Advance(). Sleepers wake when
// simulated time passes their deadline, and so do AwaitWithTimeout callers:
// Advance pokes each of their mutexes (TryLock + Unlock, which makes absl
// re-evaluate the waiters' conditions; a mutex held at that moment
// re-evaluates them when its holder unlocks it). Time is an atomic so that
// those conditions read it without a lock.
class SimClock : public Clock {
 public:
  explicit SimClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override;
  absl::Time Monotonic() const override;
  void SleepUntil(absl::Time monotonic_deadline) override;
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                        absl::Duration timeout) override;

  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  void WakeAll();

  std::atomic<int64_t> now_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Mutexes of AwaitWithTimeout callers (one entry per waiting call).
  std::vector<absl::Mutex*> awaiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth

#endif  // BERTH_COMMON_CLOCK_H_
