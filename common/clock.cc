#include "common/clock.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/time/clock.h"
#include "common/monotonic_wait.h"

namespace berth {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time Monotonic() const override {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
    return absl::UnixEpoch() + absl::Nanoseconds(ns);
  }
  void SleepUntil(absl::Time deadline) override {
    absl::Duration d = deadline - Monotonic();
    if (d > absl::ZeroDuration()) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(d));
    }
  }
};

}  // namespace

bool Clock::AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                             absl::Duration timeout) {
  // Not mu->AwaitWithTimeout: that one follows the wall clock.
  return AwaitMonotonic(mu, cond, timeout);
}

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

absl::Time SimClock::Now() const {
  return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
}

absl::Time SimClock::Monotonic() const { return Now(); }

void SimClock::SleepUntil(absl::Time deadline) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return Now() >= deadline; });
}

bool SimClock::AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                                absl::Duration timeout) {
  const absl::Time deadline = Now() + timeout;
  struct Args {
    const absl::Condition* cond;
    const SimClock* clock;
    absl::Time deadline;
  } args{&cond, this, deadline};
  const absl::Condition cond_or_time(
      +[](Args* a) {
        return a->cond->Eval() || a->clock->Now() >= a->deadline;
      },
      &args);
  {
    std::lock_guard<std::mutex> l(mu_);
    awaiting_.push_back(mu);
  }
  mu->Await(cond_or_time);
  {
    std::lock_guard<std::mutex> l(mu_);
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), mu));
  }
  return cond.Eval();
}

void SimClock::WakeAll() {
  std::lock_guard<std::mutex> l(mu_);
  // Never blocks on a waiter's mutex: its holder (perhaps registering a
  // wait, or reading Now() under it) re-evaluates conditions on unlock.
  for (absl::Mutex* m : awaiting_) {
    if (m->TryLock()) m->Unlock();
  }
  cv_.notify_all();
}

void SimClock::Advance(absl::Duration d) {
  now_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  WakeAll();
}

void SimClock::Set(absl::Time t) {
  now_ns_.store(absl::ToUnixNanos(t), std::memory_order_release);
  WakeAll();
}

}  // namespace berth
