#include "common/monotonic_wait.h"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using Steady = std::chrono::steady_clock;

absl::Duration Since(Steady::time_point t0) {
  return absl::FromChrono(Steady::now() - t0);
}

TEST(MonotonicWaitTest, AwaitTimesOutAfterTheTimeoutAndNotBefore) {
  absl::Mutex mu;
  bool never = false;
  absl::MutexLock l(&mu);
  const Steady::time_point t0 = Steady::now();
  EXPECT_FALSE(
      AwaitMonotonic(&mu, absl::Condition(&never), absl::Milliseconds(30)));
  EXPECT_GE(Since(t0), absl::Milliseconds(30));
}

TEST(MonotonicWaitTest, AwaitReturnsTrueWhenAnotherThreadSetsTheCondition) {
  absl::Mutex mu;
  bool event = false;
  std::thread setter([&] {
    absl::MutexLock l(&mu);
    event = true;
  });
  {
    absl::MutexLock l(&mu);
    // An hour: only the event can end this wait within the test's time.
    EXPECT_TRUE(AwaitMonotonic(&mu, absl::Condition(&event), absl::Hours(1)));
  }
  setter.join();
}

TEST(MonotonicWaitTest, AwaitWithNoTimeLeftOnlyEvaluates) {
  absl::Mutex mu;
  bool yes = true;
  bool no = false;
  absl::MutexLock l(&mu);
  EXPECT_TRUE(AwaitMonotonic(&mu, absl::Condition(&yes), absl::ZeroDuration()));
  EXPECT_FALSE(
      AwaitMonotonic(&mu, absl::Condition(&no), -absl::Milliseconds(5)));
}

TEST(MonotonicWaitTest, CondVarWaitReportsTimeoutAfterTheTimeout) {
  absl::Mutex mu;
  absl::CondVar cv;
  absl::MutexLock l(&mu);
  const Steady::time_point t0 = Steady::now();
  // Callers loop on a predicate; a wait that returns early without a
  // signal reports no timeout, and the loop waits again.
  while (!WaitMonotonic(&cv, &mu, absl::Milliseconds(30) - Since(t0))) {
  }
  EXPECT_GE(Since(t0), absl::Milliseconds(30));
}

TEST(MonotonicWaitTest, CondVarWaitEndsOnSignal) {
  absl::Mutex mu;
  absl::CondVar cv;
  bool flag = false;
  std::thread signaller([&] {
    absl::MutexLock l(&mu);
    flag = true;
    cv.Signal();
  });
  {
    absl::MutexLock l(&mu);
    while (!flag) {
      EXPECT_FALSE(WaitMonotonic(&cv, &mu, absl::Hours(1)));
    }
  }
  signaller.join();
}

// Many threads with short, staggered timeouts on shared and private
// mutexes: every wait must end (a lost wake-up would hang the test), and
// none before its deadline.
TEST(MonotonicWaitTest, ManyConcurrentWaitersAllWakeOnTime) {
  absl::Mutex shared_mu;
  absl::CondVar shared_cv;
  std::atomic<int> early{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(i);
      absl::Mutex own_mu;
      bool never = false;
      for (int j = 0; j < 60; ++j) {
        const absl::Duration d = absl::Microseconds(rng() % 3000);
        const Steady::time_point t0 = Steady::now();
        if (j % 2 == 0) {
          absl::MutexLock l(&own_mu);
          if (AwaitMonotonic(&own_mu, absl::Condition(&never), d)) ++early;
        } else {
          absl::MutexLock l(&shared_mu);
          while (!WaitMonotonic(&shared_cv, &shared_mu, d - Since(t0))) {
          }
        }
        if (Since(t0) < d) ++early;
        ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(done.load(), 16 * 60);
  EXPECT_EQ(early.load(), 0);
}

TEST(MonotonicWaitTest, NoticeWaitsForNotifyOrTimeout) {
  Notice n;
  EXPECT_FALSE(n.HasBeenNotified());
  const Steady::time_point t0 = Steady::now();
  EXPECT_FALSE(n.WaitFor(absl::Milliseconds(20)));
  EXPECT_GE(Since(t0), absl::Milliseconds(20));
  std::thread notifier([&] { n.Notify(); });
  EXPECT_TRUE(n.WaitFor(absl::Hours(1)));
  n.Wait();
  EXPECT_TRUE(n.HasBeenNotified());
  notifier.join();
}

TEST(MonotonicWaitTest, DeadlineFromWallKeepsItsRemainingTime) {
  const MonotonicDeadline past =
      MonotonicDeadline::FromWall(absl::Now() - absl::Seconds(1));
  EXPECT_TRUE(past.Passed());
  const MonotonicDeadline later =
      MonotonicDeadline::FromWall(absl::Now() + absl::Hours(1));
  EXPECT_FALSE(later.Passed());
  EXPECT_GT(later.Remaining(), absl::Minutes(59));
  EXPECT_LE(later.Remaining(), absl::Hours(1));
  EXPECT_FALSE(MonotonicDeadline::FromWall(absl::InfiniteFuture()).Passed());
}

}  // namespace
}  // namespace berth
