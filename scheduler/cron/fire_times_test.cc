// NextFireTimes explains what Schedule::Next decided; these rows check the
// explanation (gap moves, first/second occurrence) against transitions read
// from `zdump -v` (see schedule_test.cc for the zone list), not against the
// code's own output.
#include "scheduler/cron/fire_times.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cron {
namespace {

using Dst = FireTime::Dst;
using ::testing::HasSubstr;

absl::Time T(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

std::vector<FireTime> Next(const char* spec, const char* tz, const char* from,
                           int n) {
  absl::StatusOr<Schedule> s = Schedule::Parse(spec, tz);
  EXPECT_TRUE(s.ok()) << s.status();
  absl::StatusOr<std::vector<FireTime>> t = NextFireTimes(*s, T(from), n);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : std::vector<FireTime>{};
}

TEST(FireTimes, FixedHourInASpringGapIsMovedToTheEndOfTheGap) {
  // Berlin 2024-03-31 02:00 CET -> 03:00 CEST.
  auto t = Next("30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z", 2);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].rfc3339, "2024-03-31T03:00:00+02:00");
  EXPECT_EQ(t[0].utc, "2024-03-31T01:00:00Z");
  EXPECT_EQ(t[0].local, "2024-03-31 03:00:00 CEST");
  EXPECT_EQ(t[0].dst, Dst::kMovedByGap);
  EXPECT_THAT(t[0].note, HasSubstr("2024-03-31 02:30:00 does not exist"));
  EXPECT_THAT(t[0].note, HasSubstr("from 02:00:00 to 03:00:00"));
  EXPECT_EQ(t[1].rfc3339, "2024-04-01T02:30:00+02:00");
  EXPECT_EQ(t[1].dst, Dst::kNone);
  EXPECT_EQ(t[1].note, "");
}

TEST(FireTimes, FixedHourAtTheEndOfAGapIsNotCalledMoved) {
  // 03:00 itself exists on the transition day: nothing moved it.
  auto t = Next("0 3 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z", 1);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].rfc3339, "2024-03-31T03:00:00+02:00");
  EXPECT_EQ(t[0].dst, Dst::kNone);
}

TEST(FireTimes, FixedHourInAnOverlapFiresOnceAtTheFirstOccurrence) {
  // New York 2024-11-03 02:00 EDT -> 01:00 EST.
  auto t = Next("30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", 2);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].rfc3339, "2024-11-03T01:30:00-04:00");
  EXPECT_EQ(t[0].dst, Dst::kAmbiguousFirst);
  EXPECT_THAT(t[0].note, HasSubstr("occurs twice"));
  EXPECT_THAT(t[0].note, HasSubstr("first occurrence (EDT then EST)"));
  EXPECT_EQ(t[1].rfc3339, "2024-11-04T01:30:00-05:00");
  EXPECT_EQ(t[1].dst, Dst::kNone);
}

TEST(FireTimes, ElapsedHoursFireAtBothOccurrencesAndSkipTheGap) {
  // Berlin 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 shows twice.
  auto fall = Next("30 * * * *", "Europe/Berlin", "2024-10-27T00:00:00Z", 3);
  ASSERT_EQ(fall.size(), 3u);
  EXPECT_EQ(fall[0].rfc3339, "2024-10-27T02:30:00+02:00");
  EXPECT_EQ(fall[0].dst, Dst::kAmbiguousFirst);
  EXPECT_EQ(fall[1].rfc3339, "2024-10-27T02:30:00+01:00");
  EXPECT_EQ(fall[1].dst, Dst::kAmbiguousSecond);
  EXPECT_THAT(fall[1].note, HasSubstr("second occurrence"));
  EXPECT_EQ(fall[2].rfc3339, "2024-10-27T03:30:00+01:00");
  EXPECT_EQ(fall[2].dst, Dst::kNone);
  // Spring: 02:30 does not exist and an elapsed-time spec simply skips it.
  auto spring = Next("30 * * * *", "Europe/Berlin", "2024-03-31T00:00:00Z", 2);
  ASSERT_EQ(spring.size(), 2u);
  EXPECT_EQ(spring[0].rfc3339, "2024-03-31T01:30:00+01:00");
  EXPECT_EQ(spring[1].rfc3339, "2024-03-31T03:30:00+02:00");
  EXPECT_EQ(spring[1].dst, Dst::kNone);
}

TEST(FireTimes, HalfHourShiftInLordHowe) {
  // Lord_Howe 2024-10-06 02:00 +1030 -> 02:30 +11.
  auto t = Next("15 2 * * *", "Australia/Lord_Howe", "2024-10-05T00:00:00Z", 2);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].rfc3339, "2024-10-06T02:30:00+11:00");
  EXPECT_EQ(t[0].dst, Dst::kMovedByGap);
  EXPECT_THAT(t[0].note, HasSubstr("from 02:00:00 to 02:30:00"));
  EXPECT_EQ(t[1].rfc3339, "2024-10-07T02:15:00+11:00");
}

TEST(FireTimes, EveryAndEndOfSchedule) {
  auto every = Next("@every 90s", "UTC", "2024-05-10T12:00:00Z", 2);
  ASSERT_EQ(every.size(), 2u);
  EXPECT_EQ(every[0].utc, "2024-05-10T12:01:30Z");
  EXPECT_EQ(every[1].utc, "2024-05-10T12:03:00Z");
  // Feb 29 fires only in leap years; near the end of the calendar the list
  // is shorter than asked.
  auto leap = Next("0 0 29 2 *", "UTC", "9990-01-01T00:00:00Z", 5);
  ASSERT_EQ(leap.size(), 2u);
  EXPECT_EQ(leap[0].utc, "9992-02-29T00:00:00Z");
  EXPECT_EQ(leap[1].utc, "9996-02-29T00:00:00Z");
}

TEST(FireTimes, CountOutOfRangeIsRefused) {
  absl::StatusOr<Schedule> s = Schedule::Parse("* * * * *", "UTC");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(NextFireTimes(*s, absl::UnixEpoch(), 0).ok());
  absl::StatusOr<std::vector<FireTime>> big =
      NextFireTimes(*s, absl::UnixEpoch(), 10001);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("count"));
}

}  // namespace
}  // namespace berth::cron
