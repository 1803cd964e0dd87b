#include "common/clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace berth {
namespace {

TEST(SimClockTest, AdvanceMovesBothClocks) {
  SimClock c(absl::FromUnixSeconds(100));
  c.Advance(absl::Seconds(5));
  EXPECT_EQ(c.Now(), absl::FromUnixSeconds(105));
  EXPECT_EQ(c.Monotonic(), absl::FromUnixSeconds(105));
}

TEST(SimClockTest, SleeperWakesOnlyWhenTimePassesDeadline) {
  SimClock c(absl::FromUnixSeconds(0));
  bool woke = false;
  std::mutex mu;
  std::thread t([&] {
    c.SleepUntil(absl::FromUnixSeconds(10));
    std::lock_guard<std::mutex> l(mu);
    woke = true;
  });
  c.Advance(absl::Seconds(9));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_FALSE(woke) << "sleeper woke before its deadline";
  }
  c.Advance(absl::Seconds(1));
  t.join();
  EXPECT_TRUE(woke);
}

TEST(RealClockTest, MonotonicNeverGoesBackwards) {
  absl::Time prev = Clock::Real()->Monotonic();
  for (int i = 0; i < 1000; ++i) {
    absl::Time t = Clock::Real()->Monotonic();
    EXPECT_GE(t, prev);
    prev = t;
  }
}

}  // namespace
}  // namespace berth
