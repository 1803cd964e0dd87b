#include "scheduler/server/conflict_streak.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

const absl::Status kConflict =
    absl::AbortedError("a record changed concurrently; retrying");

TEST(ConflictStreakTest, ReloadsAfterTheLimitOfConflictsInARow) {
  ConflictStreak s(3);
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_TRUE(s.Record(kConflict));
  // The streak starts over after a reload.
  EXPECT_EQ(s.streak(), 0);
  EXPECT_FALSE(s.Record(kConflict));
}

TEST(ConflictStreakTest, ASuccessfulCommitEndsTheStreak) {
  ConflictStreak s(3);
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_FALSE(s.Record(absl::OkStatus()));
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_TRUE(s.Record(kConflict));
}

TEST(ConflictStreakTest, UnknownOutcomesNeitherExtendNorEndIt) {
  ConflictStreak s(2);
  EXPECT_FALSE(s.Record(kConflict));
  EXPECT_FALSE(s.Record(absl::UnavailableError("leader lost")));
  EXPECT_FALSE(s.Record(absl::DeadlineExceededError("outcome unknown")));
  EXPECT_EQ(s.streak(), 1);
  EXPECT_TRUE(s.Record(kConflict));
}

}  // namespace
}  // namespace berth::sched
