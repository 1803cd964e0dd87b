#include "tests/nemesis/cron_check.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::nemesis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

absl::Time At(double unix_s) {
  return absl::FromUnixMillis(static_cast<int64_t>(unix_s * 1000));
}

CronRun Tick(int64_t tick, double started) {
  return {tick, At(started), absl::StrCat("default.nem-cron.t", tick)};
}

CronCheckInput Input(std::vector<CronRun> runs) {
  CronCheckInput in;
  in.runs = std::move(runs);
  in.from = 100;
  in.until = 105;
  in.deadline = absl::Seconds(3);
  return in;
}

TEST(CronCheckTest, EveryTickOnceOnTimePasses) {
  CronVerdict v =
      CheckCron(Input({Tick(101, 101.2), Tick(102, 102.3), Tick(103, 103.1),
                       Tick(104, 104.9), Tick(105, 105.2)}));
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.ticks, 5);
  EXPECT_EQ(v.ran, 5);
  EXPECT_EQ(v.missed, 0);
  EXPECT_EQ(v.max_late, absl::Milliseconds(900));
}

TEST(CronCheckTest, TickRunTwiceIsAViolation) {
  CronVerdict v =
      CheckCron(Input({Tick(101, 101.2), Tick(102, 102.3), Tick(102, 109.0),
                       Tick(103, 103.1), Tick(104, 104.9), Tick(105, 105.2)}));
  EXPECT_EQ(v.duplicated, 1);
  EXPECT_THAT(v.violations, ElementsAre(HasSubstr("tick 102 ran 2 times")));
}

TEST(CronCheckTest, DuplicateOutsideTheJudgedRangeStillCounts) {
  CronVerdict v = CheckCron(
      Input({Tick(90, 90.1), Tick(90, 91.0), Tick(101, 101.2), Tick(102, 102.3),
             Tick(103, 103.1), Tick(104, 104.9), Tick(105, 105.2)}));
  EXPECT_EQ(v.duplicated, 1);
  EXPECT_THAT(v.violations, ElementsAre(HasSubstr("tick 90 ran 2 times")));
}

TEST(CronCheckTest, RunBeforeItsTickIsAViolation) {
  CronVerdict v =
      CheckCron(Input({Tick(101, 100.5), Tick(102, 102.3), Tick(103, 103.1),
                       Tick(104, 104.9), Tick(105, 105.2)}));
  EXPECT_THAT(v.violations, ElementsAre(HasSubstr("before its tick")));
}

TEST(CronCheckTest, MissedTickWithNoOutageIsAViolation) {
  CronVerdict v = CheckCron(Input({Tick(101, 101.2), Tick(102, 102.3),
                                   Tick(104, 104.9), Tick(105, 105.2)}));
  EXPECT_EQ(v.missed, 1);
  EXPECT_EQ(v.excused, 0);
  EXPECT_THAT(v.violations, ElementsAre(HasSubstr("tick 103")));
}

TEST(CronCheckTest, MissedTickWhoseDeadlineLiesInAnOutageIsExcused) {
  CronCheckInput in = Input(
      {Tick(101, 101.2), Tick(102, 102.3), Tick(104, 104.9), Tick(105, 105.2)});
  // Two fault windows that touch cover [103, 106]: no leader could claim it.
  in.outages = {{At(102.5), At(104.5)}, {At(104.5), At(106.0)}};
  CronVerdict v = CheckCron(in);
  EXPECT_THAT(v.violations, IsEmpty());
  EXPECT_EQ(v.missed, 1);
  EXPECT_EQ(v.excused, 1);
}

TEST(CronCheckTest, OutageShorterThanTheDeadlineExcusesNothing) {
  CronCheckInput in = Input(
      {Tick(101, 101.2), Tick(102, 102.3), Tick(104, 104.9), Tick(105, 105.2)});
  // The scheduler was back at 105, inside tick 103's deadline (106): it
  // had to catch the tick up.
  in.outages = {{At(102.5), At(105.0)}};
  CronVerdict v = CheckCron(in);
  EXPECT_THAT(v.violations, SizeIs(1));
  EXPECT_EQ(v.excused, 0);
}

TEST(CronCheckTest, ParsesTaskLinesAndReportsBadOnes) {
  std::vector<std::string> bad;
  std::vector<CronRun> runs = ParseCronRuns(
      "default.nem-cron.t1700000001 1700000001250000000\n"
      "garbage\n"
      "default.nem-cron.t1700000002 1700000002100000000\n",
      &bad);
  ASSERT_THAT(runs, SizeIs(2));
  EXPECT_EQ(runs[0].tick, 1700000001);
  EXPECT_EQ(runs[0].started, absl::FromUnixMillis(1700000001250));
  EXPECT_EQ(runs[1].alloc, "default.nem-cron.t1700000002");
  EXPECT_THAT(bad, ElementsAre("garbage"));
}

}  // namespace
}  // namespace berth::nemesis
