// Table test for Schedule::Next. Every expected time was worked out from the
// calendar and the zone's transitions (checked with `zdump -v` and
// `TZ=... date -d`), not by running the code. Times carry their local offset
// so each row reads as the local wall clock.
#include "scheduler/cron/schedule.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace berth::cron {
namespace {

absl::Time T(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) {
    ADD_FAILURE() << "bad time in table: " << rfc3339 << ": " << err;
  }
  return t;
}

struct Case {
  const char* spec;
  const char* tz;
  const char* after;
  const char* want;
  const char* why;
};

// Transitions used below (2024 unless noted):
//   Europe/Berlin     Mar 31 02:00 CET -> 03:00 CEST; Oct 27 03:00 -> 02:00
//   America/New_York  Mar 10 02:00 EST -> 03:00 EDT;  Nov 3 02:00 -> 01:00
//   Australia/Lord_Howe Apr 7 02:00 +11 -> 01:30 +1030;
//                       Oct 6 02:00 +1030 -> 02:30 +11
//   Pacific/Apia      2011-12-29 24:00 -10 -> 2011-12-31 00:00 +14
//   America/Havana    Mar 10 00:00 CST -> 01:00 CDT; Nov 3 01:00 -> 00:00
const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      // Plain fields, UTC. 2024-05-10 is a Friday.
      {"* * * * *", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T12:01:00Z",
       "every minute, strictly after"},
      {"* * * * *", "UTC", "2024-05-10T12:00:30Z", "2024-05-10T12:01:00Z",
       "mid-minute"},
      {"* * * * *", "UTC", "2024-05-10T12:00:59.999Z", "2024-05-10T12:01:00Z",
       "sub-second after"},
      {"0 * * * *", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z",
       "fire time itself is excluded"},
      {"*/15 * * * *", "UTC", "2024-05-10T12:07:00Z", "2024-05-10T12:15:00Z",
       "star step"},
      {"10-40/7 * * * *", "UTC", "2024-05-10T12:11:00Z", "2024-05-10T12:17:00Z",
       "range step 10,17,24,31,38"},
      {"10-40/7 * * * *", "UTC", "2024-05-10T12:38:00Z", "2024-05-10T13:10:00Z",
       "range step wraps to next hour"},
      {"5/15 * * * *", "UTC", "2024-05-10T12:50:00Z", "2024-05-10T13:05:00Z",
       "5/15 = 5,20,35,50"},
      {"0 9-17/4 * * *", "UTC", "2024-05-10T13:00:00Z", "2024-05-10T17:00:00Z",
       "hours 9,13,17"},
      {"0 9-17/4 * * *", "UTC", "2024-05-10T17:00:00Z", "2024-05-11T09:00:00Z",
       "hours 9,13,17 next day"},
      {"1,2,58 * * * *", "UTC", "2024-05-10T12:02:00Z", "2024-05-10T12:58:00Z",
       "list"},
      {"30 8 * * MON-FRI", "UTC", "2024-05-10T09:00:00Z",
       "2024-05-13T08:30:00Z", "weekday range skips the weekend"},
      {"0 0 * * 0", "UTC", "2024-05-10T09:00:00Z", "2024-05-12T00:00:00Z",
       "Sunday as 0"},
      {"0 0 * * 7", "UTC", "2024-05-10T09:00:00Z", "2024-05-12T00:00:00Z",
       "Sunday as 7"},
      {"0 0 * * sun", "UTC", "2024-05-10T09:00:00Z", "2024-05-12T00:00:00Z",
       "lower-case day name"},
      {"0 0 * * FRI-SUN", "UTC", "2024-05-10T09:00:00Z", "2024-05-11T00:00:00Z",
       "name range"},
      {"0 0 * * 5-7", "UTC", "2024-05-11T00:00:00Z", "2024-05-12T00:00:00Z",
       "range ending at 7 includes Sunday"},
      {"0 12 * JAN,jul *", "UTC", "2024-05-10T09:00:00Z",
       "2024-07-01T12:00:00Z", "month names"},
      {"0 0 1 */3 *", "UTC", "2024-05-10T09:00:00Z", "2024-07-01T00:00:00Z",
       "months 1,4,7,10"},
      {"0 0 1 NOV-DEC *", "UTC", "2024-12-01T00:00:00Z", "2025-11-01T00:00:00Z",
       "month range, next year"},
      // Day 31 and L.
      {"0 0 31 * *", "UTC", "2024-04-15T00:00:00Z", "2024-05-31T00:00:00Z",
       "April has no 31st"},
      {"0 0 31 * *", "UTC", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
       "June has no 31st"},
      {"0 0 L * *", "UTC", "2024-02-10T00:00:00Z", "2024-02-29T00:00:00Z",
       "L in a leap February"},
      {"0 0 L * *", "UTC", "2023-02-10T00:00:00Z", "2023-02-28T00:00:00Z",
       "L in a common February"},
      {"0 0 L * *", "UTC", "2024-04-30T00:00:00Z", "2024-05-31T00:00:00Z",
       "L after April 30"},
      {"0 0 L 2 *", "UTC", "2100-01-01T00:00:00Z", "2100-02-28T00:00:00Z",
       "2100 is not a leap year"},
      {"0 0 15,L * *", "UTC", "2024-06-15T00:00:00Z", "2024-06-30T00:00:00Z",
       "L in a list"},
      // Leap days.
      {"0 0 29 2 *", "UTC", "2024-02-28T12:00:00Z", "2024-02-29T00:00:00Z",
       "Feb 29 in a leap year"},
      {"0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z",
       "Feb 29 four years on"},
      {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z",
       "Feb 29 skips 2100"},
      {"0 0 29 2 *", "Europe/Berlin", "2096-03-01T00:00:00+01:00",
       "2104-02-29T00:00:00+01:00", "Feb 29 skips 2100, Berlin"},
      // Vixie rule: both restricted means either matches.
      {"0 0 13 * FRI", "UTC", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z",
       "OR: a Friday before the 13th"},
      {"0 0 13 * FRI", "UTC", "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z",
       "OR: Friday the 13th"},
      {"0 0 13 * FRI", "UTC", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
       "OR: the 13th, a Sunday"},
      {"0 0 13 * *", "UTC", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
       "only dom restricted"},
      {"0 0 * * FRI", "UTC", "2024-10-11T00:00:00Z", "2024-10-18T00:00:00Z",
       "only dow restricted"},
      {"0 0 ? * FRI", "UTC", "2024-10-11T00:00:00Z", "2024-10-18T00:00:00Z",
       "? in dom"},
      {"0 0 13 * ?", "UTC", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
       "? in dow"},
      {"0 0 L * MON", "UTC", "2024-10-22T00:00:00Z", "2024-10-28T00:00:00Z",
       "OR: a Monday before the last day"},
      {"0 0 L * MON", "UTC", "2024-10-28T00:00:00Z", "2024-10-31T00:00:00Z",
       "OR: last day before the next Monday"},
      {"0 0 29 2 MON", "UTC", "2023-02-27T00:00:00Z", "2024-02-05T00:00:00Z",
       "OR within February"},
      {"0 0 1-31 * MON", "UTC", "2024-05-10T09:00:00Z", "2024-05-11T00:00:00Z",
       "1-31 is restricted, so OR fires daily"},
      // Seconds field.
      {"*/10 * * * * *", "UTC", "2024-05-10T12:00:05Z", "2024-05-10T12:00:10Z",
       "six fields, seconds step"},
      {"30 0 0 * * *", "UTC", "2024-05-10T00:00:30Z", "2024-05-11T00:00:30Z",
       "six fields, daily"},
      {"15,45 * * * * *", "UTC", "2024-05-10T12:00:45.5Z",
       "2024-05-10T12:01:15Z", "seconds list"},
      // @every: multiples of the period since the Unix epoch.
      {"@every 90s", "UTC", "1970-01-01T00:00:00Z", "1970-01-01T00:01:30Z",
       "epoch-aligned"},
      {"@every 90s", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T12:01:30Z",
       "1715342400 is a multiple of 90"},
      {"@every 1h30m", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T13:30:00Z",
       "1715342400 is a multiple of 5400"},
      {"@every 5m", "Europe/Berlin", "2024-03-31T01:58:00+01:00",
       "2024-03-31T03:00:00+02:00", "elapsed time through the gap"},
      // Macros.
      {"@hourly", "UTC", "2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z", ""},
      {"@daily", "UTC", "2024-05-10T12:00:00Z", "2024-05-11T00:00:00Z", ""},
      {"@midnight", "UTC", "2024-05-10T12:00:00Z", "2024-05-11T00:00:00Z", ""},
      {"@weekly", "UTC", "2024-05-10T12:00:00Z", "2024-05-12T00:00:00Z", ""},
      {"@monthly", "UTC", "2024-05-10T12:00:00Z", "2024-06-01T00:00:00Z", ""},
      {"@yearly", "UTC", "2024-05-10T12:00:00Z", "2025-01-01T00:00:00Z", ""},
      {"@annually", "UTC", "2024-05-10T12:00:00Z", "2025-01-01T00:00:00Z", ""},
      // Europe/Berlin, fixed hours.
      {"30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00+01:00",
       "2024-03-31T03:00:00+02:00", "skipped 02:30 fires at the gap's end"},
      {"30 2 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
       "2024-04-01T02:30:00+02:00", "and only once"},
      {"30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00+02:00",
       "2024-10-27T02:30:00+02:00", "repeated 02:30: first occurrence"},
      {"30 2 * * *", "Europe/Berlin", "2024-10-27T02:30:00+02:00",
       "2024-10-28T02:30:00+01:00", "not the second occurrence"},
      {"30 2 * * *", "Europe/Berlin", "2024-10-27T02:10:00+01:00",
       "2024-10-28T02:30:00+01:00", "after inside the second occurrence"},
      {"0 2 * * *", "Europe/Berlin", "2024-03-30T23:00:00+01:00",
       "2024-03-31T03:00:00+02:00", "02:00 itself is skipped"},
      {"0,30 2 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
       "2024-04-01T02:00:00+02:00", "two skipped times fire once together"},
      {"0 3 * * *", "Europe/Berlin", "2024-03-31T01:00:00+01:00",
       "2024-03-31T03:00:00+02:00", "03:00 exists"},
      {"0 1-3 * * *", "Europe/Berlin", "2024-10-27T02:00:00+02:00",
       "2024-10-27T03:00:00+01:00", "range without step is fixed"},
      {"0 30 2 * * *", "Europe/Berlin", "2024-03-31T01:59:59+01:00",
       "2024-03-31T03:00:00+02:00", "six fields, gap"},
      {"* 2 * * *", "Europe/Berlin", "2024-03-31T01:59:00+01:00",
       "2024-03-31T03:00:00+02:00", "every minute of 02:xx folds into 03:00"},
      {"* 2 * * *", "Europe/Berlin", "2024-03-31T03:00:00+02:00",
       "2024-04-01T02:00:00+02:00", "and fires once"},
      {"* 2 * * *", "Europe/Berlin", "2024-10-27T02:59:00+02:00",
       "2024-10-28T02:00:00+01:00", "repeated 02:xx does not fire again"},
      // Europe/Berlin, elapsed time.
      {"*/15 * * * *", "Europe/Berlin", "2024-03-31T01:45:00+01:00",
       "2024-03-31T03:00:00+02:00", "15 real minutes across the gap"},
      {"*/15 * * * *", "Europe/Berlin", "2024-10-27T02:45:00+02:00",
       "2024-10-27T02:00:00+01:00", "15 real minutes into the repeat"},
      {"*/15 * * * *", "Europe/Berlin", "2024-10-27T02:45:00+01:00",
       "2024-10-27T03:00:00+01:00", "out of the repeat"},
      {"0 * * * *", "Europe/Berlin", "2024-10-27T02:00:00+02:00",
       "2024-10-27T02:00:00+01:00", "hourly fires in both 02:00s"},
      {"30 * * * *", "Europe/Berlin", "2024-03-31T01:30:00+01:00",
       "2024-03-31T03:30:00+02:00", "hourly skips the missing hour"},
      {"0 */2 * * *", "Europe/Berlin", "2024-10-27T02:00:00+02:00",
       "2024-10-27T02:00:00+01:00", "stepped hours follow elapsed time"},
      // America/New_York.
      {"30 2 * * *", "America/New_York", "2024-03-09T12:00:00-05:00",
       "2024-03-10T03:00:00-04:00", "gap"},
      {"30 1 * * *", "America/New_York", "2024-11-02T12:00:00-04:00",
       "2024-11-03T01:30:00-04:00", "first of two 01:30s"},
      {"30 1 * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
       "2024-11-04T01:30:00-05:00", "second 01:30 does not fire"},
      {"*/30 * * * *", "America/New_York", "2024-11-03T01:30:00-04:00",
       "2024-11-03T01:00:00-05:00", "elapsed: the repeated hour fires"},
      {"0 9 * * MON-FRI", "America/New_York", "2024-03-08T09:00:00-05:00",
       "2024-03-11T09:00:00-04:00", "weekend spanning the change"},
      // Australia/Lord_Howe: 30-minute shifts.
      {"45 1 * * *", "Australia/Lord_Howe", "2024-04-06T12:00:00+11:00",
       "2024-04-07T01:45:00+11:00", "first of two 01:45s"},
      {"45 1 * * *", "Australia/Lord_Howe", "2024-04-07T01:45:00+11:00",
       "2024-04-08T01:45:00+10:30", "second 01:45 does not fire"},
      {"*/15 * * * *", "Australia/Lord_Howe", "2024-04-07T01:45:00+11:00",
       "2024-04-07T01:30:00+10:30", "elapsed: 15 real minutes back to 01:30"},
      {"15 2 * * *", "Australia/Lord_Howe", "2024-10-05T12:00:00+10:30",
       "2024-10-06T02:30:00+11:00", "half-hour gap"},
      {"0 2 * * *", "Australia/Lord_Howe", "2024-10-05T12:00:00+10:30",
       "2024-10-06T02:30:00+11:00", "02:00 is the gap's start"},
      {"*/15 * * * *", "Australia/Lord_Howe", "2024-10-06T01:45:00+10:30",
       "2024-10-06T02:30:00+11:00", "elapsed across the half-hour gap"},
      // Pacific/Apia: 2011-12-30 (a Friday) does not exist.
      {"0 12 * * *", "Pacific/Apia", "2011-12-29T12:00:00-10:00",
       "2011-12-31T00:00:00+14:00", "missing noon fires at the gap's end"},
      {"0 12 * * *", "Pacific/Apia", "2011-12-31T00:00:00+14:00",
       "2011-12-31T12:00:00+14:00", "then the normal noon"},
      {"0 0 30 12 *", "Pacific/Apia", "2011-12-01T00:00:00-10:00",
       "2011-12-31T00:00:00+14:00", "the missing day itself"},
      {"0 0 * * FRI", "Pacific/Apia", "2011-12-29T00:00:00-10:00",
       "2011-12-31T00:00:00+14:00", "the missing Friday"},
      {"0 * * * *", "Pacific/Apia", "2011-12-29T23:00:00-10:00",
       "2011-12-31T00:00:00+14:00", "elapsed: one real hour later"},
      // America/Havana: changes at midnight.
      {"0 0 * * *", "America/Havana", "2024-03-09T12:00:00-05:00",
       "2024-03-10T01:00:00-04:00", "missing midnight fires at 01:00"},
      {"0 0 * * *", "America/Havana", "2024-11-02T12:00:00-04:00",
       "2024-11-03T00:00:00-04:00", "first of two midnights"},
      {"0 0 * * *", "America/Havana", "2024-11-03T00:00:00-04:00",
       "2024-11-04T00:00:00-05:00", "second midnight does not fire"},
      {"30 0 10 3 *", "America/Havana", "2024-01-01T00:00:00-05:00",
       "2024-03-10T01:00:00-04:00", "00:30 on the change day"},
      {"0 * * * *", "America/Havana", "2024-03-09T23:00:00-05:00",
       "2024-03-10T01:00:00-04:00", "elapsed: one real hour later"},
      {"0 * * * *", "America/Havana", "2024-11-03T00:00:00-04:00",
       "2024-11-03T00:00:00-05:00", "elapsed: both midnights"},
      {"0 0 3 11 *", "America/Havana", "2024-11-03T00:00:00-04:00",
       "2025-11-03T00:00:00-05:00", "a year on"},
  };
  return *cases;
}

TEST(CronScheduleTest, TableOfNextFireTimes) {
  ASSERT_GE(Cases().size(), 60u);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(::testing::Message()
                 << "spec '" << c.spec << "' tz " << c.tz << " after "
                 << c.after << " (" << c.why << ")");
    absl::StatusOr<Schedule> s = Schedule::Parse(c.spec, c.tz);
    ASSERT_TRUE(s.ok()) << s.status();
    std::optional<absl::Time> next = s->Next(T(c.after));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(
        absl::FormatTime(absl::RFC3339_full, *next, absl::UTCTimeZone()),
        absl::FormatTime(absl::RFC3339_full, T(c.want), absl::UTCTimeZone()));
  }
}

// Walks a few fires in a row to show the whole picture around a change.
std::vector<std::string> Fires(const char* spec, const char* tz,
                               const char* after, int n) {
  absl::StatusOr<Schedule> s = Schedule::Parse(spec, tz);
  EXPECT_TRUE(s.ok()) << s.status();
  std::vector<std::string> out;
  if (!s.ok()) return out;
  absl::Time t = T(after);
  for (int i = 0; i < n; ++i) {
    std::optional<absl::Time> next = s->Next(t);
    if (!next) break;
    t = *next;
    out.push_back(
        absl::FormatTime("%Y-%m-%d %H:%M:%S%Ez", t, absl::FixedTimeZone(0)));
  }
  return out;
}

TEST(CronScheduleTest, HourlyThroughBerlinFallBackFiresFourTimesInThreeHours) {
  EXPECT_EQ(Fires("0 * * * *", "Europe/Berlin", "2024-10-27T00:30:00+02:00", 4),
            (std::vector<std::string>{
                "2024-10-26 23:00:00+00:00",  // 01:00 CEST
                "2024-10-27 00:00:00+00:00",  // 02:00 CEST
                "2024-10-27 01:00:00+00:00",  // 02:00 CET
                "2024-10-27 02:00:00+00:00",  // 03:00 CET
            }));
}

TEST(CronScheduleTest, DailyThroughBerlinSpringForwardFiresEveryDay) {
  EXPECT_EQ(
      Fires("30 2 * * *", "Europe/Berlin", "2024-03-29T12:00:00+01:00", 3),
      (std::vector<std::string>{
          "2024-03-30 01:30:00+00:00",  // 02:30 CET
          "2024-03-31 01:00:00+00:00",  // 03:00 CEST, end of the gap
          "2024-04-01 00:30:00+00:00",  // 02:30 CEST
      }));
}

TEST(CronScheduleTest, ElapsedTimeFlagFollowsTheHourField) {
  struct Row {
    const char* spec;
    bool elapsed;
  };
  for (const Row& row :
       {Row{"0 * * * *", true}, Row{"0 */2 * * *", true},
        Row{"0 1/3 * * *", true}, Row{"0 2 * * *", false},
        Row{"0 1-3 * * *", false}, Row{"0 1,13 * * *", false},
        Row{"@hourly", true}, Row{"@daily", false}, Row{"@every 1m", true}}) {
    absl::StatusOr<Schedule> s = Schedule::Parse(row.spec, "UTC");
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->follows_elapsed_time(), row.elapsed) << row.spec;
  }
}

TEST(CronScheduleTest, EmptyZoneMeansUtc) {
  absl::StatusOr<Schedule> s = Schedule::Parse("0 0 * * *", "");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->time_zone(), "UTC");
  EXPECT_EQ(s->Next(T("2024-05-10T12:00:00Z")), T("2024-05-11T00:00:00Z"));
}

TEST(CronScheduleTest, NoFireAfterTheLastSupportedYear) {
  absl::StatusOr<Schedule> s = Schedule::Parse("0 0 1 1 *", "UTC");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Next(T("9999-06-01T00:00:00Z")), std::nullopt);
  EXPECT_EQ(s->Next(absl::InfiniteFuture()), std::nullopt);
  EXPECT_EQ(s->Next(T("9998-06-01T00:00:00Z")), T("9999-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace berth::cron
