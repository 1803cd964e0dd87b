#include "common/fd_limit.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace berth {
namespace {

TEST(FdLimitTest, NeverLowersAndReachesWhatTheHardLimitAllows) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  // Asking for less than the current soft limit changes nothing.
  absl::StatusOr<uint64_t> same = RaiseOpenFileLimit(1);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, before.rlim_cur);

  // Asking for the hard limit always succeeds without privileges.
  const uint64_t want =
      before.rlim_max == RLIM_INFINITY ? before.rlim_cur + 1 : before.rlim_max;
  absl::StatusOr<uint64_t> raised = RaiseOpenFileLimit(want);
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_GE(*raised, want);
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, *raised);
  EXPECT_GE(after.rlim_cur, before.rlim_cur);
}

}  // namespace
}  // namespace berth
