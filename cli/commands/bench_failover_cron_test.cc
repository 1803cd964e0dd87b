#include "cli/commands/bench_failover_cron.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

jobpb::CronRun MakeRun(
    int64_t tick, bool ran,
    jobpb::CronRun::Result result = jobpb::CronRun::SUCCEEDED) {
  jobpb::CronRun r;
  r.set_tick_unix(tick);
  r.set_result(result);
  if (ran) r.set_alloc_id(absl::StrCat("a", tick));
  return r;
}

TEST(TallyTicksTest, CountsAbsentMissedAndDuplicateTicks) {
  std::vector<jobpb::CronRun> runs = {
      MakeRun(100, true), MakeRun(102, true),
      // 104 absent: no leader then
      MakeRun(106, false, jobpb::CronRun::MISSED), MakeRun(108, true),
      MakeRun(108, true),  // a second run of one tick
      MakeRun(110, true)};
  jobpb::CronRun manual = MakeRun(109, true);
  manual.set_manual(true);  // `berth job trigger`: not a tick
  runs.push_back(manual);
  absl::StatusOr<CronTickTally> t = TallyTicks(runs, 2);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->first_tick, 100);
  EXPECT_EQ(t->last_tick, 110);
  EXPECT_EQ(t->expected, 6);
  EXPECT_EQ(t->ran, 4);
  EXPECT_EQ(t->absent, 1);
  EXPECT_EQ(t->missed, 1);
  EXPECT_EQ(t->lost(), 2);
  EXPECT_EQ(t->duplicates, 1);
}

TEST(TallyTicksTest, NoRunsIsAnError) {
  absl::StatusOr<CronTickTally> t = TallyTicks({}, 2);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(t.status().message().find("no runs"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli
