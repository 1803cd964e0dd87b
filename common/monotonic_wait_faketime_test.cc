// The monotonic waits under a wall clock that runs ten minutes ahead of the
// kernel's, or behind it (libfaketime, set up by ctest: see
// common/CMakeLists.txt). Ahead, absl's own timed waits would make each
// 100 ms wait here last ten minutes (the nemesis clock-skew fault hit
// exactly that in the lockd leader); behind, absl's timeouts end at once,
// and the waits must neither end early nor spin.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/monotonic_wait.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using Steady = std::chrono::steady_clock;

// The kernel's CLOCK_REALTIME, by a raw system call that libfaketime does
// not intercept.
absl::Time KernelRealtime() {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
  return absl::TimeFromTimespec(ts);
}

// Bounds a wait of 100 ms far from both noise and the 10-minute failure.
constexpr absl::Duration kMuchLessThanTheOffset = absl::Seconds(60);

class FakedClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("FAKETIME"), nullptr)
        << "run through ctest, which preloads libfaketime";
    // The test means something only if the process's clock is off.
    ASSERT_GT(absl::AbsDuration(absl::Now() - KernelRealtime()),
              absl::Minutes(9));
  }
  absl::Duration Since(Steady::time_point t0) {
    return absl::FromChrono(Steady::now() - t0);
  }
};

TEST_F(FakedClockTest, CondVarWaitEndsOnTheMonotonicClock) {
  absl::Mutex mu;
  absl::CondVar cv;
  absl::MutexLock l(&mu);
  const Steady::time_point t0 = Steady::now();
  while (!WaitMonotonic(&cv, &mu, absl::Milliseconds(100) - Since(t0))) {
  }
  EXPECT_LT(Since(t0), kMuchLessThanTheOffset);
}

TEST_F(FakedClockTest, MutexAwaitEndsOnTheMonotonicClock) {
  absl::Mutex mu;
  bool never = false;
  absl::MutexLock l(&mu);
  const Steady::time_point t0 = Steady::now();
  EXPECT_FALSE(
      AwaitMonotonic(&mu, absl::Condition(&never), absl::Milliseconds(100)));
  EXPECT_GE(Since(t0), absl::Milliseconds(100));
  EXPECT_LT(Since(t0), kMuchLessThanTheOffset);
}

TEST_F(FakedClockTest, CondVarTimeoutIsReportedOnlyAtTheMonotonicDeadline) {
  absl::Mutex mu;
  absl::CondVar cv;
  absl::MutexLock l(&mu);
  const Steady::time_point t0 = Steady::now();
  int early_returns = 0;
  while (!WaitMonotonic(&cv, &mu, absl::Milliseconds(100) - Since(t0))) {
    ++early_returns;
  }
  EXPECT_GE(Since(t0), absl::Milliseconds(100));
  // Nobody signals: a spin on absl's already-passed wall-clock deadline
  // would return early thousands of times.
  EXPECT_LT(early_returns, 10);
}

TEST_F(FakedClockTest, RealClockAwaitAndNoticeEndOnTheMonotonicClock) {
  absl::Mutex mu;
  bool never = false;
  const Steady::time_point t0 = Steady::now();
  {
    absl::MutexLock l(&mu);
    EXPECT_FALSE(Clock::Real()->AwaitWithTimeout(&mu, absl::Condition(&never),
                                                 absl::Milliseconds(100)));
  }
  Notice n;
  EXPECT_FALSE(n.WaitFor(absl::Milliseconds(100)));
  EXPECT_FALSE(n.WaitUntil(
      MonotonicDeadline::FromWall(absl::Now() + absl::Milliseconds(100))));
  EXPECT_LT(Since(t0), kMuchLessThanTheOffset);
}

}  // namespace
}  // namespace berth
