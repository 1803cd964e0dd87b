// The monotonic waits under a wall clock that runs ten minutes ahead of the
// kernel's (libfaketime, set up by ctest: see common/CMakeLists.txt). With
// absl's own timed waits each 100 ms wait here would last ten minutes; the
// nemesis clock-skew fault hit exactly that in the lockd leader.
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
    // The test means something only if the process's clock is ahead.
    ASSERT_GT(absl::Now() - KernelRealtime(), absl::Minutes(9));
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
  EXPECT_LT(Since(t0), kMuchLessThanTheOffset);
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
