#include "common/deadline_set.h"

#include <chrono>
#include <vector>

#include "gtest/gtest.h"

namespace berth {
namespace {

using Time = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Time kT0 = Time() + seconds(1000);

TEST(DeadlineSetTest, ShortWaitsGetNoSlackAndLongOnesAFractionCapped) {
  EXPECT_EQ(SlackFor(milliseconds(999)), milliseconds(0));
  EXPECT_EQ(SlackFor(seconds(1)), std::chrono::microseconds(31250));
  EXPECT_EQ(SlackFor(seconds(5)), kMaxSlack);
  EXPECT_EQ(SlackFor(std::chrono::hours(1)), kMaxSlack);
}

TEST(DeadlineSetTest, WakesAtTheEarliestDeadlinePlusSlack) {
  DeadlineSet<int> set;
  int a = 1, b = 2;
  EXPECT_EQ(set.WakeAt(), Time::max());
  set.Add(kT0 + milliseconds(10), milliseconds(50), &a);  // latest +60
  EXPECT_EQ(set.WakeAt(), kT0 + milliseconds(60));
  // A later deadline with no slack must still be met on time.
  set.Add(kT0 + milliseconds(30), milliseconds(0), &b);
  EXPECT_EQ(set.WakeAt(), kT0 + milliseconds(30));
}

TEST(DeadlineSetTest, TakesEveryDueEntryAsOneBatchAndNothingEarly) {
  DeadlineSet<int> set;
  int items[4] = {0, 1, 2, 3};
  for (int i = 0; i < 4; ++i) {
    set.Add(kT0 + milliseconds(10 * i), kMaxSlack, &items[i]);
  }
  // Asleep until the first one's slack is used up: by then the next three
  // are due too and go in the same batch.
  const Time wake = set.WakeAt();
  EXPECT_EQ(wake, kT0 + kMaxSlack);
  std::vector<int*> due;
  set.TakeDue(wake, &due);
  ASSERT_EQ(due.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(due[i], &items[i]);
  EXPECT_TRUE(set.empty());

  // An entry whose deadline has not come is never taken, slack or not.
  set.Add(kT0 + seconds(1), kMaxSlack, &items[0]);
  due.clear();
  set.TakeDue(kT0 + seconds(1) - milliseconds(1), &due);
  EXPECT_TRUE(due.empty());
  set.TakeDue(kT0 + seconds(1), &due);
  EXPECT_EQ(due.size(), 1u);
}

TEST(DeadlineSetTest, RemovedEntriesAreNeitherWokenNorWaitedFor) {
  DeadlineSet<int> set;
  int a = 1, b = 2;
  auto ka = set.Add(kT0, milliseconds(0), &a);
  set.Add(kT0 + seconds(2), milliseconds(0), &b);
  set.Remove(ka);
  EXPECT_EQ(set.WakeAt(), kT0 + seconds(2));
  std::vector<int*> due;
  set.TakeDue(kT0 + seconds(1), &due);
  EXPECT_TRUE(due.empty());
  set.Remove(ka);  // twice: harmless
  EXPECT_FALSE(set.empty());
}

TEST(DeadlineSetTest, SlackIsCappedSoTheWakeScanStaysShort) {
  DeadlineSet<int> set;
  int a = 1;
  set.Add(kT0, std::chrono::hours(1), &a);
  EXPECT_EQ(set.WakeAt(), kT0 + kMaxSlack);
}

}  // namespace
}  // namespace berth
