// Timed waits on absl synchronization that count time on CLOCK_MONOTONIC.
//
// Why not absl's own timed waits: the Debian abseil (20220623) turns every
// CondVar::WaitWithTimeout, Mutex::AwaitWithTimeout and
// Notification::WaitForNotificationWithTimeout into an absolute
// CLOCK_REALTIME futex deadline computed from absl::Now()
// (absl/synchronization/internal/kernel_timeout.h). A step of the wall clock
// back during a wait (NTP, an operator, a VM resume) lengthens the wait by
// the step; under libfaketime, whose absl::Now() runs ahead of the kernel's,
// every wait lasts the whole offset. The nemesis clock-skew fault found the
// lockd leader's duties thread asleep for a minute that way, with no lease
// expiring and scheduler failovers taking 60 s (docs/reliability.md).
//
// So absl's timeout is never trusted alone. A wait gives absl its timeout
// (the kernel then ends it on the waiting thread, the cheap way) and also
// registers with one process-wide waker thread, which sleeps on the
// monotonic clock (std::condition_variable with steady_clock, which glibc
// serves with pthread_cond_clockwait(CLOCK_MONOTONIC)). If absl's timeout
// has not ended the wait shortly after its monotonic deadline, the waker
// does: by unlocking the waiter's Mutex (absl re-evaluates the waiters'
// conditions on unlock) or by signalling its CondVar. If absl's timeout
// ends it early (a step forward), the wait goes on, untimed, until the
// waker's backstop. A wait therefore never ends before its monotonic
// deadline, and whatever the wall clock does, the waker wakes it at most
// 2 ms (waits under 1 s), or twice SlackFor(timeout)
// (common/deadline_set.h), after it.
//
// Thread safety: every function may be called from any thread.
#ifndef BERTH_COMMON_MONOTONIC_WAIT_H_
#define BERTH_COMMON_MONOTONIC_WAIT_H_

#include <chrono>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth {

// A point on the monotonic clock, made from a wall-clock deadline (a gRPC
// deadline, say) once, at the start of a wait, so that a later step of the
// wall clock does not move it.
class MonotonicDeadline {
 public:
  static MonotonicDeadline FromWall(absl::Time wall_deadline);

  absl::Duration Remaining() const;
  bool Passed() const { return Remaining() <= absl::ZeroDuration(); }

 private:
  explicit MonotonicDeadline(std::chrono::steady_clock::time_point at)
      : at_(at) {}
  std::chrono::steady_clock::time_point at_;
};

// Like mu->AwaitWithTimeout(cond, timeout); `mu` is held by the caller.
// Returns cond's value at the end.
bool AwaitMonotonic(absl::Mutex* mu, const absl::Condition& cond,
                    absl::Duration timeout);

// Like cv->WaitWithTimeout(mu, timeout); `mu` is held by the caller. Returns
// true when the timeout passed. As with any CondVar wait, it may also return
// early without a signal, so callers loop on their predicate.
bool WaitMonotonic(absl::CondVar* cv, absl::Mutex* mu, absl::Duration timeout);
inline bool WaitMonotonic(absl::CondVar* cv, absl::Mutex* mu,
                          const MonotonicDeadline& deadline) {
  return WaitMonotonic(cv, mu, deadline.Remaining());
}

// absl::Notification with the timed wait above.
class Notice {
 public:
  void Notify();
  bool HasBeenNotified() const;
  void Wait() const;
  // True once notified; false if `timeout` passed first.
  bool WaitFor(absl::Duration timeout) const;
  bool WaitUntil(const MonotonicDeadline& deadline) const {
    return WaitFor(deadline.Remaining());
  }

 private:
  mutable absl::Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth

#endif  // BERTH_COMMON_MONOTONIC_WAIT_H_
