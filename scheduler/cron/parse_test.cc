// Parse-error table: each bad spec must be rejected with a message that
// names the field (or the zone/macro) and the reason.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron {
namespace {

using ::testing::HasSubstr;

struct BadCase {
  const char* spec;
  const char* tz;
  std::vector<const char*> message_parts;
};

TEST(CronParseTest, RejectsBadSpecsWithClearMessages) {
  const std::vector<BadCase> cases = {
      // Field counts.
      {"", "UTC", {"empty cron spec"}},
      {"   ", "UTC", {"empty cron spec"}},
      {"* * * *", "UTC", {"expected 5 fields", "got 4"}},
      {"* * * * * * *", "UTC", {"expected 5 fields", "got 7"}},
      // Ranges of single values.
      {"60 * * * *", "UTC", {"field 'minute': value 60 out of range 0-59"}},
      {"0 24 * * *", "UTC", {"field 'hour': value 24 out of range 0-23"}},
      {"0 0 0 * *", "UTC", {"field 'day-of-month': value 0 out of range 1-31"}},
      {"0 0 32 * *",
       "UTC",
       {"field 'day-of-month': value 32 out of range 1-31"}},
      {"0 0 * 13 *", "UTC", {"field 'month': value 13 out of range 1-12"}},
      {"0 0 * 0 *", "UTC", {"field 'month': value 0 out of range 1-12"}},
      {"0 0 * * 8", "UTC", {"field 'day-of-week': value 8 out of range 0-7"}},
      {"60 0 0 * * *", "UTC", {"field 'second': value 60 out of range 0-59"}},
      {"99999999999 * * * *", "UTC", {"field 'minute'", "out of range"}},
      // Ranges.
      {"40-10 * * * *",
       "UTC",
       {"field 'minute': range '40-10' has its start after its end"}},
      {"0 0 * * FRI-MON",
       "UTC",
       {"field 'day-of-week': range 'FRI-MON' has its start after its end"}},
      {"0 5- * * *", "UTC", {"field 'hour': missing value"}},
      {"0 -5 * * *", "UTC", {"field 'hour': missing value"}},
      {"0 1-2-3 * * *", "UTC", {"field 'hour'", "'2-3'"}},
      // Steps.
      {"*/0 * * * *", "UTC", {"field 'minute': step 0 out of range 1-59"}},
      {"*/60 * * * *", "UTC", {"field 'minute': step 60 out of range 1-59"}},
      {"0 */24 * * *", "UTC", {"field 'hour': step 24 out of range 1-23"}},
      {"*/ * * * *", "UTC", {"field 'minute': missing step after '/'"}},
      {"*/x * * * *", "UTC", {"field 'minute': step 'x' is not a number"}},
      {"*/-1 * * * *", "UTC", {"field 'minute': step '-1' is not a number"}},
      {"1/2/3 * * * *", "UTC", {"field 'minute'", "more than one '/'"}},
      // Names and symbols.
      {"0 0 * JANUARY *",
       "UTC",
       {"field 'month': unknown month name 'JANUARY'"}},
      {"0 0 * * FUN", "UTC", {"field 'day-of-week': unknown day name 'FUN'"}},
      {"0 0 MON * *", "UTC", {"field 'day-of-month': invalid value 'MON'"}},
      {"0 0 * * JAN", "UTC", {"field 'day-of-week': unknown day name 'JAN'"}},
      {"0 x * * *", "UTC", {"field 'hour': invalid value 'x'"}},
      {"0 0 * * L",
       "UTC",
       {"field 'day-of-week': 'L' is only allowed in field 'day-of-month'"}},
      {"0 0 L/2 * *", "UTC", {"field 'day-of-month': 'L' cannot take a step"}},
      {"0 ? * * *",
       "UTC",
       {"field 'hour': '?' is only allowed in day-of-month and day-of-week"}},
      {"0 0 5W * *", "UTC", {"field 'day-of-month': invalid value '5W'"}},
      {"0 0 * * 5#3", "UTC", {"field 'day-of-week'", "'5#3'"}},
      {"1,,2 * * * *", "UTC", {"field 'minute': empty list element"}},
      {"1, * * * *", "UTC", {"field 'minute': empty list element"}},
      // Specs that can never fire.
      {"0 0 30 2 *", "UTC", {"never fires", "day-of-month", "month"}},
      {"0 0 31 4,6,9,11 *", "UTC", {"never fires"}},
      {"0 0 30,31 FEB *", "UTC", {"never fires"}},
      // Macros.
      {"@reboot", "UTC", {"unknown macro '@reboot'"}},
      {"@daily 5", "UTC", {"@daily takes no arguments"}},
      {"@every", "UTC", {"@every takes exactly one duration"}},
      {"@every 1h 30m", "UTC", {"@every takes exactly one duration"}},
      {"@every 0s", "UTC", {"@every: duration '0s' must be at least 1s"}},
      {"@every 90", "UTC", {"@every: invalid duration '90'"}},
      {"@every 1.5h", "UTC", {"@every: invalid duration '1.5h'"}},
      {"@every 30m1h", "UTC", {"@every: invalid duration '30m1h'"}},
      {"@every 5m5m", "UTC", {"@every: invalid duration '5m5m'"}},
      {"@every -5m", "UTC", {"@every: invalid duration '-5m'"}},
      {"@every 5d", "UTC", {"@every: invalid duration '5d'"}},
      {"@every 1H", "UTC", {"@every: invalid duration '1H'"}},
      // Zones.
      {"0 0 * * *",
       "Mars/Olympus_Mons",
       {"unknown time zone 'Mars/Olympus_Mons'"}},
      {"0 0 * * *", "europe/berlin", {"unknown time zone 'europe/berlin'"}},
      {"0 0 * * *", "+02:00", {"unknown time zone '+02:00'"}},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<Schedule> s = Schedule::Parse(c.spec, c.tz);
    ASSERT_FALSE(s.ok()) << "accepted '" << c.spec << "' in " << c.tz;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    for (const char* part : c.message_parts) {
      EXPECT_THAT(std::string(s.status().message()), HasSubstr(part))
          << "spec '" << c.spec << "'";
    }
  }
}

TEST(CronParseTest, MessageQuotesTheWholeSpec) {
  absl::StatusOr<Schedule> s = Schedule::Parse("0 24 * * *", "UTC");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "invalid cron spec '0 24 * * *': field 'hour': value 24 out of "
            "range 0-23");
}

TEST(CronParseTest, AcceptsEveryDocumentedForm) {
  const char* good[] = {
      "* * * * *",       "*/5 * * * *",     "10-40/7 * * * *",
      "5/15 * * * *",    "0 0 L * *",       "0 0 ? * MON-FRI",
      "0 0 1,15 * ?",    "0 0 * jan-MAR *", "0 0 * * 0,7",
      "0 0 29 2 *",      "0 0 31 1-12 *",   "*/10 * * * * *",
      "0 0\t12 * * *",   "  0 0 * * *  ",   "@hourly",
      "@DAILY",          "@midnight",       "@weekly",
      "@monthly",        "@yearly",         "@annually",
      "@every 90s",      "@every 5m",       "@every 1h30m",
      "@every 1h30m15s", "@every 2h",
  };
  for (const char* spec : good) {
    absl::StatusOr<Schedule> s = Schedule::Parse(spec, "Europe/Berlin");
    EXPECT_TRUE(s.ok()) << spec << ": " << s.status();
  }
}

}  // namespace
}  // namespace berth::cron
