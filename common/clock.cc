#include "common/clock.h"

#include <chrono>
#include <thread>

#include "absl/time/clock.h"

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

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

absl::Time SimClock::Now() const {
  std::lock_guard<std::mutex> l(mu_);
  return now_;
}

absl::Time SimClock::Monotonic() const { return Now(); }

void SimClock::SleepUntil(absl::Time deadline) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return now_ >= deadline; });
}

void SimClock::Advance(absl::Duration d) {
  {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }
  cv_.notify_all();
}

void SimClock::Set(absl::Time t) {
  {
    std::lock_guard<std::mutex> l(mu_);
    now_ = t;
  }
  cv_.notify_all();
}

}  // namespace berth
