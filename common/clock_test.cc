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

TEST(SimClockTest, AwaitWakesOnEventOrWhenSimulatedTimeoutPasses) {
  SimClock c(absl::FromUnixSeconds(0));
  absl::Mutex mu;
  bool event = false;
  bool timed_out = false;
  bool done = false;
  std::thread t([&] {
    absl::MutexLock l(&mu);
    // No event: returns false once 10 simulated seconds have passed.
    timed_out =
        !c.AwaitWithTimeout(&mu, absl::Condition(&event), absl::Seconds(10));
    done = true;
  });
  c.Advance(absl::Seconds(9));
  {
    // Whether or not the waiter has started, 10 s have not passed for it.
    absl::MutexLock l(&mu);
    EXPECT_FALSE(done) << "waiter returned before its simulated timeout";
  }
  // The waiter may not have registered yet; keep time moving until it
  // times out (each step is a full timeout, so one step after it starts
  // suffices).
  auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done; };
  while (true) {
    c.Advance(absl::Seconds(10));
    absl::MutexLock l(&mu);
    if (mu.AwaitWithTimeout(absl::Condition(&finished), absl::Seconds(1))) {
      break;
    }
  }
  t.join();
  EXPECT_TRUE(timed_out);

  // An event wakes a waiter with no time passing at all.
  done = false;
  std::thread t2([&] {
    absl::MutexLock l(&mu);
    EXPECT_TRUE(
        c.AwaitWithTimeout(&mu, absl::Condition(&event), absl::Hours(1)));
    done = true;
  });
  {
    absl::MutexLock l(&mu);
    event = true;
  }
  t2.join();
  EXPECT_TRUE(done);
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
