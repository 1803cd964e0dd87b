// TimerQueue without its thread: RunDue is driven with explicit times, so
// nothing here sleeps or depends on the machine's speed.
#include "lockservice/lockd/timer_queue.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace berth::lockd {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(TimerQueueTest, RunsDueCallbacksInDeadlineOrderAndOnlyOnce) {
  SimClock clock(kT0);
  TimerQueue q(&clock, /*start_thread=*/false);
  std::vector<int> ran;
  q.Schedule(kT0 + absl::Seconds(2), [&] { ran.push_back(2); });
  q.Schedule(kT0 + absl::Seconds(1), [&] { ran.push_back(1); });
  q.Schedule(kT0 + absl::Seconds(3), [&] { ran.push_back(3); });

  EXPECT_EQ(q.RunDue(kT0), 0);
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(2)), 2);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(2)), 0);  // never twice
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(9)), 1);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueTest, CancelDropsTheCallbackAndWhatItOwns) {
  SimClock clock(kT0);
  TimerQueue q(&clock, /*start_thread=*/false);
  auto owned = std::make_shared<int>(7);
  std::weak_ptr<int> watch = owned;
  bool ran = false;
  uint64_t id = q.Schedule(kT0 + absl::Seconds(1),
                           [&ran, owned = std::move(owned)] { ran = true; });
  EXPECT_FALSE(watch.expired());
  q.Cancel(id);
  EXPECT_TRUE(watch.expired());  // the capture was released at Cancel
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(5)), 0);
  EXPECT_FALSE(ran);
  q.Cancel(id);  // cancelling again (or after it ran) is a no-op
}

TEST(TimerQueueTest, DestructionDropsPendingCallbacksWithoutRunningThem) {
  SimClock clock(kT0);
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  bool ran = false;
  {
    TimerQueue q(&clock, /*start_thread=*/true);
    q.Schedule(kT0 + absl::Hours(1),
               [&ran, owned = std::move(owned)] { ran = true; });
  }
  EXPECT_TRUE(watch.expired());
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace berth::lockd
