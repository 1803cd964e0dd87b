// TimerQueue: one thread that runs callbacks at their deadlines, for RPCs
// that wait without a thread of their own (a queued Lock call's timeout).
//
// Callbacks run on the timer thread, one at a time, and must be quick. A
// callback runs at most once: Cancel before it ran drops it (and whatever
// it captured) without running it.
//
// Thread safety: thread-safe. The clock is borrowed and must outlive the
// queue; the destructor stops the thread and drops callbacks not yet run.
#ifndef BERTH_LOCKSERVICE_LOCKD_TIMER_QUEUE_H_
#define BERTH_LOCKSERVICE_LOCKD_TIMER_QUEUE_H_

#include <cstdint>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace berth::lockd {

class TimerQueue {
 public:
  using Fn = absl::AnyInvocable<void() &&>;

  // `start_thread` false leaves firing to RunDue (tests).
  explicit TimerQueue(Clock* clock, bool start_thread = true);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` once Clock::Now() >= deadline. Returns an id for Cancel.
  uint64_t Schedule(absl::Time deadline, Fn fn);
  void Cancel(uint64_t id);

  // Runs every callback due at `now`; returns how many ran.
  int RunDue(absl::Time now);

 private:
  void Loop();

  Clock* const clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;  // wakes the thread: stop, or an earlier deadline
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::pair<absl::Time, Fn>> timers_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<absl::Time, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_TIMER_QUEUE_H_
