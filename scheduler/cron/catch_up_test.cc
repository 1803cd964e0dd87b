#include "scheduler/cron/catch_up.h"

#include "gtest/gtest.h"
#include "scheduler/cron/parser.h"

namespace berth::cron {
namespace {

constexpr int64_t kT0 = 1'700'000'000;  // a multiple of 10 and of 100

struct Src {
  explicit Src(const char* spec, const char* tz = "UTC")
      : schedule(*Schedule::Parse(spec, tz)) {
    auto p = ParseSpec(spec);
    ticks = {&schedule, p->is_every ? p->every_seconds : 0};
  }
  Schedule schedule;
  TickSource ticks;
};

CatchUpPolicy Policy(jobpb::CronPolicy::CatchUp mode, int64_t deadline_ms) {
  CatchUpPolicy p;
  p.mode = mode;
  p.starting_deadline_ms = deadline_ms;
  return p;
}

TEST(CatchUp, WaitsForTheNextTick) {
  Src s("@every 10s");
  TickPlan p = PlanTicks(s.ticks, kT0, (kT0 + 5) * 1000,
                         Policy(jobpb::CronPolicy::ALL, 0));
  EXPECT_EQ(p.kind, TickPlan::Kind::kWait);
  EXPECT_EQ(p.tick, kT0 + 10);
}

TEST(CatchUp, OnTimeTickFiresUnderEveryPolicy) {
  Src s("@every 10s");
  for (auto mode : {jobpb::CronPolicy::NONE, jobpb::CronPolicy::LATEST,
                    jobpb::CronPolicy::ALL}) {
    TickPlan p =
        PlanTicks(s.ticks, kT0, (kT0 + 10) * 1000 + 300, Policy(mode, 60'000));
    EXPECT_EQ(p.kind, TickPlan::Kind::kFire) << mode;
    EXPECT_EQ(p.tick, kT0 + 10);
    EXPECT_EQ(p.missed, 0);
  }
}

// Down for 100 s: ticks kT0+10 .. kT0+100 are due.
TEST(CatchUp, PoliciesAfterAnOutage) {
  Src s("@every 10s");
  const int64_t now_ms = (kT0 + 100) * 1000;
  TickPlan none =
      PlanTicks(s.ticks, kT0, now_ms, Policy(jobpb::CronPolicy::NONE, 35'000));
  EXPECT_EQ(none.kind, TickPlan::Kind::kFire);  // kT0+100 is on time
  EXPECT_EQ(none.tick, kT0 + 100);
  EXPECT_EQ(none.missed, 9);

  TickPlan late_none = PlanTicks(s.ticks, kT0, now_ms + 7000,
                                 Policy(jobpb::CronPolicy::NONE, 35'000));
  EXPECT_EQ(late_none.kind, TickPlan::Kind::kMiss);  // 7 s > the 5 s grace
  EXPECT_EQ(late_none.tick, kT0 + 100);
  EXPECT_EQ(late_none.missed, 10);

  TickPlan latest = PlanTicks(s.ticks, kT0, now_ms + 7000,
                              Policy(jobpb::CronPolicy::LATEST, 35'000));
  EXPECT_EQ(latest.kind, TickPlan::Kind::kFire);
  EXPECT_EQ(latest.tick, kT0 + 100);
  EXPECT_EQ(latest.missed, 9);

  // all: the oldest tick within 35 s of now is kT0+70.
  TickPlan all =
      PlanTicks(s.ticks, kT0, now_ms, Policy(jobpb::CronPolicy::ALL, 35'000));
  EXPECT_EQ(all.kind, TickPlan::Kind::kFire);
  EXPECT_EQ(all.tick, kT0 + 70);
  EXPECT_EQ(all.missed, 6);
  // ... and after claiming it, the next one, with nothing more missed.
  TickPlan all2 = PlanTicks(s.ticks, kT0 + 70, now_ms,
                            Policy(jobpb::CronPolicy::ALL, 35'000));
  EXPECT_EQ(all2.tick, kT0 + 80);
  EXPECT_EQ(all2.missed, 0);

  TickPlan too_late = PlanTicks(s.ticks, kT0, now_ms + 25'000,
                                Policy(jobpb::CronPolicy::LATEST, 3'000));
  EXPECT_EQ(too_late.kind, TickPlan::Kind::kMiss);
  EXPECT_EQ(too_late.tick, kT0 + 120);
  EXPECT_EQ(too_late.missed, 12);
}

// No "100 missed runs" cliff: a year of per-second ticks plans in bounded
// work, counted exactly for @every and estimated for field specs.
TEST(CatchUp, YearLongOutageIsCountedNotEnumerated) {
  const int64_t year = 365 * 86400;
  Src every("@every 1s");
  TickPlan p = PlanTicks(every.ticks, kT0, (kT0 + year) * 1000,
                         Policy(jobpb::CronPolicy::LATEST, 0));
  EXPECT_EQ(p.tick, kT0 + year);
  EXPECT_EQ(p.missed, year - 1);
  EXPECT_TRUE(p.missed_exact);

  Src fields("* * * * * *");
  TickPlan f = PlanTicks(fields.ticks, kT0, (kT0 + year) * 1000,
                         Policy(jobpb::CronPolicy::LATEST, 0));
  EXPECT_EQ(f.tick, kT0 + year);
  EXPECT_FALSE(f.missed_exact);
  EXPECT_NEAR(static_cast<double>(f.missed), static_cast<double>(year - 1),
              year * 0.001);
}

TEST(CatchUp, CountTicksIsExactBelowTheCap) {
  Src s("0 */15 * * * *");  // 4 per hour
  TickCount c = CountTicks(s.ticks, kT0, kT0 + 86400);
  EXPECT_TRUE(c.exact);
  EXPECT_EQ(c.count, 96);
}

TEST(CatchUp, LatestFindsASparseTickAcrossAGap) {
  Src s("30 2 * * *", "Europe/Berlin");  // daily 02:30 Berlin
  // 2023-11-14T22:13:20Z is kT0; the last 02:30 Berlin before it is
  // 2023-11-14T01:30:00Z.
  std::optional<int64_t> l = s.ticks.Latest(kT0 - 10 * 86400, kT0);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(*l, 1699925400);
  EXPECT_EQ(s.ticks.Latest(kT0 - 3600, kT0), std::nullopt);
}

TEST(CatchUp, NeverFiresAgainAfterTheMarker) {
  Src s("@every 10s");
  // The clock stepped back an hour behind the marker: nothing is due.
  TickPlan p = PlanTicks(s.ticks, kT0, (kT0 - 3600) * 1000,
                         Policy(jobpb::CronPolicy::ALL, 0));
  EXPECT_EQ(p.kind, TickPlan::Kind::kWait);
  EXPECT_EQ(p.tick, kT0 + 10);
}

}  // namespace
}  // namespace berth::cron
