// Suspended cron jobs (suspend.h): every tick while suspended is a SKIPPED
// run with reason "suspended"; on resume, catch-up within starting_deadline
// is decided once. All on a simulated clock and a MemStore.
#include "scheduler/cron/suspend.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "scheduler/cron/cron_leader_test.h"
#include "scheduler/cron/cron_sim.h"
#include "scheduler/cron/engine.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::cron {
namespace {

using sim::CronJobArgs;

class SuspendTest : public CronLeaderTest {
 protected:
  // Puts job "j" (@every 10s) as a submit (or `berth job suspend`) would.
  void Put(CronJobArgs a) {
    a.submit_unix_ms = kT0 * 1000;
    ASSERT_TRUE(sim::PutJob(&store_, sim::CronJob(a)).ok());
  }
  void Start(double s) { ASSERT_TRUE(leader_->Start(At(s)).ok()); }
  void StepAt(double s) {
    // Twice: the second applies the engine's own writes, as the loop does.
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<absl::Time> next = leader_->Step(At(s));
      ASSERT_TRUE(next.ok()) << next.status();
    }
  }

  std::optional<std::string> Get(const std::string& key) {
    auto snap = store_.Load(key);
    for (const auto& kv : snap->kvs) {
      if (kv.key == key) return kv.value;
    }
    return std::nullopt;
  }
  std::optional<jobpb::CronRun> Run(double s) {
    auto v = Get(sched::CronRunKey("default", "j", kT0 + int64_t(s)));
    if (!v) return std::nullopt;
    jobpb::CronRun r;
    r.ParseFromString(*v);
    return r;
  }
  bool HasAlloc(double s) {
    return Get(sched::SchedAllocKey(
                   sched::CronAllocId("default", "j", kT0 + int64_t(s))))
        .has_value();
  }
  jobpb::CronMarker Marker() {
    jobpb::CronMarker m;
    if (auto v = Get(sched::CronMarkerKey("default", "j")))
      m.ParseFromString(*v);
    return m;
  }
  void ExpectSuspendedSkip(double s) {
    std::optional<jobpb::CronRun> r = Run(s);
    ASSERT_TRUE(r.has_value()) << "no run record for tick +" << s;
    EXPECT_EQ(r->result(), jobpb::CronRun::SKIPPED) << "tick +" << s;
    EXPECT_EQ(r->reason(), "suspended") << "tick +" << s;
    EXPECT_TRUE(r->alloc_id().empty());
    EXPECT_FALSE(HasAlloc(s)) << "tick +" << s << " must not run";
  }
  void ExpectRan(double s) {
    std::optional<jobpb::CronRun> r = Run(s);
    ASSERT_TRUE(r.has_value()) << "no run record for tick +" << s;
    EXPECT_EQ(r->result(), jobpb::CronRun::ACTIVE) << "tick +" << s;
    EXPECT_TRUE(HasAlloc(s)) << "tick +" << s << " has no allocation";
  }
};

TEST_F(SuspendTest, OperatorSuspendRecordsEveryTickAsSkippedSuspended) {
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE});
  Start(1);
  StepAt(10);
  ExpectRan(10);
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE,
       .suspended = true});
  StepAt(20);
  StepAt(30);
  ExpectSuspendedSkip(20);
  ExpectSuspendedSkip(30);
  jobpb::CronMarker m = Marker();
  EXPECT_EQ(m.last_scheduled_unix(), kT0 + 30);
  EXPECT_EQ(m.suspended_skips(), 2);
  EXPECT_EQ(m.suspended_from_unix(), kT0 + 20);
  EXPECT_EQ(m.skipped(), 0) << "forbid skips are counted apart";
  EXPECT_EQ(m.claimed(), 1);
  EXPECT_EQ(leader_->engine().stats().suspended, 2);
  EXPECT_EQ(leader_->engine().NextRun({"default", "j"}), At(40));

  // catch_up none: the suspended ticks stay skipped; the next tick runs.
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE});
  StepAt(35);
  EXPECT_EQ(Marker().suspended_from_unix(), 0);
  ExpectSuspendedSkip(20);
  ExpectSuspendedSkip(30);
  StepAt(40);
  ExpectRan(40);
  EXPECT_EQ(Marker().claimed(), 2);
}

TEST_F(SuspendTest, EitherTheSpecOrTheOperatorSuspends) {
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE,
       .suspend = true});
  Start(1);
  StepAt(10);
  ExpectSuspendedSkip(10);
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE,
       .suspend = true,
       .suspended = true});
  StepAt(20);
  ExpectSuspendedSkip(20);
  // The spec no longer suspends, the operator still does.
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE,
       .suspended = true});
  StepAt(30);
  ExpectSuspendedSkip(30);
  Put({.name = "j",
       .schedule = "@every 10s",
       .catch_up = jobpb::CronPolicy::NONE});
  StepAt(40);
  ExpectRan(40);
  EXPECT_EQ(Marker().suspended_skips(), 3);
}

TEST_F(SuspendTest, ResumeWithLatestRunsTheNewestSkipInsideTheDeadline) {
  CronJobArgs a{.name = "j",
                .schedule = "@every 10s",
                .catch_up = jobpb::CronPolicy::LATEST,
                .starting_deadline_ms = 15000,
                .suspended = true};
  Put(a);
  Start(1);
  for (int s : {10, 20, 30}) StepAt(s);
  a.suspended = false;
  Put(a);
  StepAt(36);
  ExpectSuspendedSkip(10);
  ExpectSuspendedSkip(20);
  ExpectRan(30);
  EXPECT_TRUE(absl::StrContains(Run(30)->reason(), "run on resume"))
      << Run(30)->reason();
  EXPECT_EQ(Marker().claimed(), 1);
  EXPECT_EQ(Marker().suspended_from_unix(), 0);
  StepAt(40);
  ExpectRan(40);
}

TEST_F(SuspendTest, ResumeOutsideTheDeadlineRunsNothing) {
  CronJobArgs a{.name = "j",
                .schedule = "@every 10s",
                .catch_up = jobpb::CronPolicy::LATEST,
                .starting_deadline_ms = 5000,
                .suspended = true};
  Put(a);
  Start(1);
  for (int s : {10, 20, 30}) StepAt(s);
  a.suspended = false;
  Put(a);
  StepAt(38);
  for (int s : {10, 20, 30}) ExpectSuspendedSkip(s);
  EXPECT_EQ(Marker().claimed(), 0);
  EXPECT_EQ(Marker().suspended_from_unix(), 0);
}

TEST_F(SuspendTest, ResumeWithAllUnderAllowRunsEverySkipInsideTheDeadline) {
  CronJobArgs a{.name = "j",
                .schedule = "@every 10s",
                .concurrency = jobpb::CronPolicy::ALLOW,
                .catch_up = jobpb::CronPolicy::ALL,
                .starting_deadline_ms = 25000,
                .successful_history = 10,
                .suspended = true};
  Put(a);
  Start(1);
  for (int s : {10, 20, 30}) StepAt(s);
  a.suspended = false;
  Put(a);
  StepAt(36);
  ExpectSuspendedSkip(10);  // 26 s old, outside the deadline
  ExpectRan(20);
  ExpectRan(30);
  EXPECT_EQ(Marker().claimed(), 2);
}

TEST_F(SuspendTest, ResumeUnderForbidWithARunStillActiveRunsNothing) {
  CronJobArgs a{.name = "j",
                .schedule = "@every 10s",
                .concurrency = jobpb::CronPolicy::FORBID,
                .catch_up = jobpb::CronPolicy::LATEST};
  Put(a);
  Start(1);
  StepAt(10);
  ExpectRan(10);  // no agent status: it stays active
  a.suspended = true;
  Put(a);
  StepAt(20);
  ExpectSuspendedSkip(20);
  a.suspended = false;
  Put(a);
  StepAt(25);
  ExpectSuspendedSkip(20);
  EXPECT_EQ(Marker().suspended_from_unix(), 0);
}

// The resume decision is one transaction conditioned on the marker: a
// second leader deciding from a mirror that predates it is refused.
TEST_F(SuspendTest, ResumeIsDecidedOnceAcrossLeaders) {
  CronJobArgs a{.name = "j",
                .schedule = "@every 10s",
                .catch_up = jobpb::CronPolicy::LATEST,
                .suspended = true};
  Put(a);
  Start(1);
  StepAt(10);
  StepAt(20);
  a.suspended = false;
  Put(a);
  sim::Leader stale(&store_, "sched-b", 2);
  ASSERT_TRUE(stale.Start(At(24)).ok());  // sees the resume pending
  stale.Partition();
  StepAt(25);  // sched-a (token 1) decides: tick 20 runs
  ExpectRan(20);
  store_.SetFence(sched::kLeaderElection, 2);
  ASSERT_TRUE(stale.Step(At(26)).ok());
  ASSERT_TRUE(stale.Step(At(26)).ok());
  EXPECT_GE(stale.engine().stats().conflicts, 1);
  EXPECT_EQ(stale.engine().stats().claims, 0);
  ExpectRan(20);
  ExpectSuspendedSkip(10);
  EXPECT_EQ(Marker().claimed(), 1);
}

TEST_F(SuspendTest, ManualTriggerStillRunsWhileSuspended) {
  Put({.name = "j", .schedule = "@every 10s", .suspended = true});
  Start(1);
  absl::StatusOr<std::string> id = leader_->engine().Trigger(
      leader_->state(), {"default", "j"}, At(5), leader_->fence());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(Get(sched::SchedAllocKey(*id)).has_value());
}

TEST(ChooseResumeTicksTest, FollowsCatchUpDeadlineAndConcurrency) {
  using internal::ChooseResumeTicks;
  const int64_t now_ms = 1000 * 1000;
  std::vector<int64_t> skipped = {900, 950, 990};
  auto policy = [](jobpb::CronPolicy::CatchUp c,
                   jobpb::CronPolicy::Concurrency k, int64_t deadline_ms) {
    jobpb::CronPolicy p;
    p.set_catch_up(c);
    p.set_concurrency(k);
    p.set_starting_deadline_ms(deadline_ms);
    return p;
  };
  using P = jobpb::CronPolicy;
  EXPECT_TRUE(
      ChooseResumeTicks(skipped, policy(P::NONE, P::ALLOW, 0), now_ms, false)
          .empty());
  EXPECT_EQ(
      ChooseResumeTicks(skipped, policy(P::LATEST, P::ALLOW, 0), now_ms, false),
      std::vector<int64_t>{990});
  EXPECT_EQ(
      ChooseResumeTicks(skipped, policy(P::ALL, P::ALLOW, 0), now_ms, false),
      skipped);
  EXPECT_EQ(ChooseResumeTicks(skipped, policy(P::ALL, P::ALLOW, 60000), now_ms,
                              false),
            (std::vector<int64_t>{950, 990}));
  EXPECT_TRUE(ChooseResumeTicks(skipped, policy(P::LATEST, P::ALLOW, 5000),
                                now_ms, false)
                  .empty());
  EXPECT_EQ(
      ChooseResumeTicks(skipped, policy(P::ALL, P::FORBID, 0), now_ms, false),
      std::vector<int64_t>{990});
  EXPECT_TRUE(
      ChooseResumeTicks(skipped, policy(P::ALL, P::FORBID, 0), now_ms, true)
          .empty());
  EXPECT_EQ(
      ChooseResumeTicks(skipped, policy(P::ALL, P::REPLACE, 0), now_ms, true),
      std::vector<int64_t>{990});
  std::vector<int64_t> many;
  for (int64_t t = 1; t <= 40; ++t) many.push_back(t);
  std::vector<int64_t> capped =
      ChooseResumeTicks(many, policy(P::ALL, P::ALLOW, 0), now_ms, false);
  ASSERT_EQ(capped.size(), static_cast<size_t>(internal::kMaxResumeRuns));
  EXPECT_EQ(capped.back(), 40);
}

}  // namespace
}  // namespace berth::cron
