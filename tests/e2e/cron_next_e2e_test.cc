// Issue #19: `berth cron next` through the real binary. Each row's expected
// times were worked out by hand from the zone's transitions (`zdump -v`),
// not by running berth; DST gaps and overlaps in five zones are included.
// Error rows check that the CLI and `berth job validate` give the same
// message for the same expression or zone.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  static const std::string* dir = [] {
    std::string tmpl = "/tmp/berth-cron-next-XXXXXX";
    char* d = mkdtemp(tmpl.data());
    return new std::string(d == nullptr ? "/tmp" : d);
  }();
  return *dir;
}

RunResult Berth(const std::vector<std::string>& args) {
  static int runs = 0;
  std::vector<std::string> argv = {BERTH_CLI_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToExit(argv, absl::StrCat(TempDir(), "/berth-", ++runs));
}

struct Row {
  const char* expr;
  const char* tz;
  const char* from;
  std::vector<std::string> want;  // RFC 3339 with the local offset
  const char* note;               // substring of the table's NOTE, or ""
};

// Transitions: Europe/Berlin 2024-03-31 02:00 CET -> 03:00 CEST, 2024-10-27
// 03:00 -> 02:00; America/New_York 2024-03-10 02:00 -> 03:00, 2024-11-03
// 02:00 -> 01:00; Australia/Lord_Howe 2024-04-07 02:00 +11 -> 01:30 +1030,
// 2024-10-06 02:00 +1030 -> 02:30 +11; America/Havana 2024-03-10 00:00 CST
// -> 01:00 CDT; Australia/Sydney 2026-10-04 02:00 AEST -> 03:00 AEDT.
const std::vector<Row>& Rows() {
  static const auto* rows = new std::vector<Row>{
      {"*/15 * * * *",
       "UTC",
       "2024-05-10T12:07:00Z",
       {"2024-05-10T12:15:00+00:00", "2024-05-10T12:30:00+00:00",
        "2024-05-10T12:45:00+00:00"},
       ""},
      {"*/20 * * * * *",
       "UTC",
       "2024-05-10T12:00:00Z",
       {"2024-05-10T12:00:20+00:00", "2024-05-10T12:00:40+00:00",
        "2024-05-10T12:01:00+00:00"},
       ""},
      {"0 9 * * 1-5",
       "Europe/London",
       "2024-05-10T12:00:00Z",
       {"2024-05-13T09:00:00+01:00", "2024-05-14T09:00:00+01:00"},
       ""},
      {"0 0 L * *",
       "UTC",
       "2024-02-01T00:00:00Z",
       {"2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00"},
       ""},
      {"0 0 29 2 *",
       "UTC",
       "2024-03-01T00:00:00Z",
       {"2028-02-29T00:00:00+00:00"},
       ""},
      {"@daily",
       "Asia/Tokyo",
       "2024-05-10T00:00:00Z",
       {"2024-05-11T00:00:00+09:00", "2024-05-12T00:00:00+09:00"},
       ""},
      {"@every 90s",
       "UTC",
       "2024-05-10T12:00:00Z",
       {"2024-05-10T12:01:30+00:00", "2024-05-10T12:03:00+00:00"},
       ""},
      {"30 2 * * *",
       "Europe/Berlin",
       "2024-03-30T12:00:00Z",
       {"2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"},
       "2024-03-31 02:30:00 does not exist"},
      {"0 3 * * *",
       "Europe/Berlin",
       "2024-03-30T12:00:00Z",
       {"2024-03-31T03:00:00+02:00", "2024-04-01T03:00:00+02:00"},
       ""},
      {"30 2 * * *",
       "Europe/Berlin",
       "2024-10-26T12:00:00Z",
       {"2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"},
       "first occurrence (CEST then CET)"},
      {"30 * * * *",
       "Europe/Berlin",
       "2024-10-27T00:00:00Z",
       {"2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00",
        "2024-10-27T03:30:00+01:00"},
       "second occurrence"},
      {"30 * * * *",
       "Europe/Berlin",
       "2024-03-31T00:00:00Z",
       {"2024-03-31T01:30:00+01:00", "2024-03-31T03:30:00+02:00"},
       ""},
      {"0 2 * * *",
       "America/New_York",
       "2024-03-09T12:00:00Z",
       {"2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00"},
       "2024-03-10 02:00:00 does not exist"},
      {"30 1 * * *",
       "America/New_York",
       "2024-11-02T12:00:00Z",
       {"2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"},
       "first occurrence (EDT then EST)"},
      {"15 2 * * *",
       "Australia/Lord_Howe",
       "2024-10-05T00:00:00Z",
       {"2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"},
       "from 02:00:00 to 02:30:00"},
      {"45 1 * * *",
       "Australia/Lord_Howe",
       "2024-04-06T00:00:00Z",
       {"2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"},
       "first occurrence"},
      {"0 0 * * *",
       "America/Havana",
       "2024-03-09T12:00:00Z",
       {"2024-03-10T01:00:00-04:00", "2024-03-11T00:00:00-04:00"},
       "2024-03-10 00:00:00 does not exist"},
      {"30 2 * * *",
       "Australia/Sydney",
       "2026-10-03T12:00:00Z",
       {"2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"},
       "2026-10-04 02:30:00 does not exist"},
      {"0 12 * * 0",
       "America/New_York",
       "2024-03-09T00:00:00Z",
       {"2024-03-10T12:00:00-04:00", "2024-03-17T12:00:00-04:00"},
       ""},
      {"0 0 1 1 *",
       "Pacific/Auckland",
       "2024-06-01T00:00:00Z",
       {"2025-01-01T00:00:00+13:00"},
       ""},
      {"0 6 * * *",
       "Asia/Kolkata",
       "2024-05-10T00:00:00Z",
       {"2024-05-10T06:00:00+05:30"},
       ""},
  };
  return *rows;
}

TEST(CronNextE2E, TableOfSchedulesAndZones) {
  ASSERT_GE(Rows().size(), 20u);
  for (const Row& row : Rows()) {
    SCOPED_TRACE(absl::StrCat(row.expr, " in ", row.tz, " after ", row.from));
    std::string n = absl::StrCat(row.want.size());
    RunResult json = Berth({"cron", "next", row.expr, "--timezone", row.tz,
                            "--from", row.from, "-n", n, "--output", "json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    std::vector<std::string> quoted;
    for (const std::string& t : row.want) quoted.push_back("\"" + t + "\"");
    EXPECT_EQ(absl::StripTrailingAsciiWhitespace(json.out),
              absl::StrCat("[", absl::StrJoin(quoted, ","), "]"));
    RunResult table = Berth({"cron", "next", row.expr, "--timezone", row.tz,
                             "--from", row.from, "-n", n});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_THAT(table.out, HasSubstr(absl::StrCat("LOCAL (", row.tz, ")")));
    if (*row.note != '\0') {
      EXPECT_THAT(table.out, HasSubstr(row.note));
    } else {
      EXPECT_THAT(table.out, ::testing::Not(HasSubstr("DST")));
    }
  }
}

// Writes a cron job spec and returns what `berth job validate` says of it.
std::string ValidatorSays(const std::string& schedule, const std::string& tz) {
  static int files = 0;
  std::string path = absl::StrCat(TempDir(), "/job-", ++files, ".yaml");
  std::ofstream(path) << "job: check\nkind: cron\ncron:\n  schedule: \""
                      << schedule << "\"\n  timezone: " << tz
                      << "\ntask:\n  command: [/bin/true]\n";
  RunResult r = Berth({"job", "validate", path});
  EXPECT_NE(r.exit_code, 0) << r.out;
  return r.out + r.err;
}

TEST(CronNextE2E, BadInputGetsTheValidatorsMessage) {
  struct Bad {
    const char* expr;
    const char* tz;
    const char* names;  // what the message must name
  };
  for (const Bad& bad : std::vector<Bad>{
           {"61 * * * *", "UTC", "minute"},
           {"0 0 30 2 *", "UTC", "never fires"},
           {"* * * *", "UTC", "'* * * *'"},
           {"0 0 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"},
       }) {
    SCOPED_TRACE(absl::StrCat(bad.expr, " in ", bad.tz));
    RunResult r = Berth({"cron", "next", bad.expr, "--timezone", bad.tz});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, HasSubstr(bad.names));
    // The message after "berth cron next: " is the validator's reason.
    std::string reason(absl::StripTrailingAsciiWhitespace(
        absl::StripPrefix(r.err, "berth cron next: ")));
    EXPECT_THAT(ValidatorSays(bad.expr, bad.tz), HasSubstr(reason));
  }
  RunResult from = Berth({"cron", "next", "* * * * *", "--from", "yesterday"});
  EXPECT_EQ(from.exit_code, 2);
  EXPECT_THAT(from.err, HasSubstr("--from 'yesterday' is not an RFC 3339"));
  RunResult count = Berth({"cron", "next", "* * * * *", "-n", "0"});
  EXPECT_EQ(count.exit_code, 2);
  EXPECT_THAT(count.err, HasSubstr("count must be between 1 and 10000"));
}

TEST(CronNextE2E, DefaultsToFiveTimesFromNowInUtc) {
  RunResult r = Berth({"cron", "next", "@hourly", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Five entries, each on the hour in UTC.
  std::vector<std::string> items = absl::StrSplit(
      absl::StripSuffix(
          absl::StripPrefix(absl::StripTrailingAsciiWhitespace(r.out), "["),
          "]"),
      ',');
  ASSERT_EQ(items.size(), 5u) << r.out;
  for (const std::string& item : items) {
    EXPECT_THAT(item, ::testing::EndsWith(":00:00+00:00\"")) << r.out;
  }
}

}  // namespace
}  // namespace berth::e2e
