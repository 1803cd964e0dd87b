#include "lockservice/lockd/timer_queue.h"

#include <vector>

#include "common/monotonic_wait.h"

namespace berth::lockd {

TimerQueue::TimerQueue(Clock* clock, bool start_thread) : clock_(clock) {
  if (start_thread) thread_ = std::thread([this] { Loop(); });
}

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  std::map<uint64_t, std::pair<absl::Time, Fn>> dropped;
  absl::MutexLock l(&mu_);
  dropped.swap(timers_);
  order_.clear();
}

uint64_t TimerQueue::Schedule(absl::Time deadline, Fn fn) {
  absl::MutexLock l(&mu_);
  const uint64_t id = ++next_id_;
  // The thread sleeps until the earliest deadline; wake it for an earlier.
  if (order_.empty() || deadline < order_.begin()->first) cv_.Signal();
  timers_.emplace(id, std::make_pair(deadline, std::move(fn)));
  order_.emplace(deadline, id);
  return id;
}

void TimerQueue::Cancel(uint64_t id) {
  Fn dropped;  // destroyed after mu_ is released: it may own the caller
  absl::MutexLock l(&mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  order_.erase({it->second.first, id});
  dropped = std::move(it->second.second);
  timers_.erase(it);
}

int TimerQueue::RunDue(absl::Time now) {
  std::vector<Fn> due;
  {
    absl::MutexLock l(&mu_);
    while (!order_.empty() && order_.begin()->first <= now) {
      const uint64_t id = order_.begin()->second;
      order_.erase(order_.begin());
      auto it = timers_.find(id);
      due.push_back(std::move(it->second.second));
      timers_.erase(it);
    }
  }
  for (Fn& fn : due) std::move(fn)();
  return static_cast<int>(due.size());
}

void TimerQueue::Loop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      if (order_.empty()) {
        cv_.Wait(&mu_);
        continue;
      }
      const absl::Duration wait = order_.begin()->first - clock_->Now();
      if (wait > absl::ZeroDuration()) {
        WaitMonotonic(&cv_, &mu_, wait);
        continue;
      }
    }
    RunDue(clock_->Now());
  }
}

}  // namespace berth::lockd
