#include "scheduler/cron/engine.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "scheduler/cron/cron_leader_test.h"
#include "scheduler/cron/cron_sim.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::cron {
namespace {

using sim::CronJobArgs;

class EngineTest : public CronLeaderTest {
 protected:
  void Submit(CronJobArgs a) {
    if (a.submit_unix_ms == 0) a.submit_unix_ms = kT0 * 1000;
    ASSERT_TRUE(sim::PutJob(&store_, sim::CronJob(a)).ok());
  }
  void Start(double s) { ASSERT_TRUE(leader_->Start(At(s)).ok()); }
  void StepAt(double s) {
    absl::StatusOr<absl::Time> next = leader_->Step(At(s));
    ASSERT_TRUE(next.ok()) << next.status();
    // Apply the engine's own writes, as the leader loop does.
    next = leader_->Step(At(s));
    ASSERT_TRUE(next.ok()) << next.status();
  }

  std::optional<std::string> Get(const std::string& key) {
    auto snap = store_.Load(key);
    for (const auto& kv : snap->kvs) {
      if (kv.key == key) return kv.value;
    }
    return std::nullopt;
  }
  std::optional<jobpb::CronRun> Run(const std::string& job, int64_t tick) {
    auto v = Get(sched::CronRunKey("default", job, tick));
    if (!v) return std::nullopt;
    jobpb::CronRun r;
    r.ParseFromString(*v);
    return r;
  }
  std::vector<jobpb::CronRun> Runs(const std::string& job) {
    std::vector<jobpb::CronRun> out;
    absl::StatusOr<sched::StoreSnapshot> snap =
        store_.Load(sched::CronRunsPrefix("default", job));
    for (const auto& kv : snap->kvs) {
      out.emplace_back().ParseFromString(kv.value);
    }
    return out;
  }
  jobpb::CronMarker Marker(const std::string& job) {
    jobpb::CronMarker m;
    if (auto v = Get(sched::CronMarkerKey("default", job))) {
      m.ParseFromString(*v);
    }
    return m;
  }
  std::optional<jobpb::Allocation> Alloc(const std::string& id) {
    auto v = Get(sched::SchedAllocKey(id));
    if (!v) return std::nullopt;
    jobpb::Allocation a;
    a.ParseFromString(*v);
    return a;
  }
  void Status(const std::string& alloc, agentpb::AllocState state,
              double start_s, double finish_s = 0, int exit_code = 0) {
    agentpb::AllocationStatus s;
    s.set_alloc_id(alloc);
    s.set_node("node-1");
    s.set_state(state);
    s.set_exit_code(exit_code);
    s.set_start_unix_ms(absl::ToUnixMillis(At(start_s)));
    if (finish_s > 0) s.set_finish_unix_ms(absl::ToUnixMillis(At(finish_s)));
    ASSERT_TRUE(sim::PutStatus(&store_, s).ok());
  }
  // Job "j" (every 10 s, forbid) whose tick kT0 + 10 was claimed and is
  // running.
  void StartForbidJobRunningSince10s() {
    Submit({.name = "j",
            .schedule = "@every 10s",
            .concurrency = jobpb::CronPolicy::FORBID,
            .successful_history = 5,
            .failed_history = 5});
    Start(0);
    StepAt(10);
    Status(sched::CronAllocId("default", "j", kT0 + 10), agentpb::RUNNING,
           10.5);
  }
  int ActiveCount(const std::string& job) {
    int n = 0;
    for (const auto& r : Runs(job)) n += r.result() == jobpb::CronRun::ACTIVE;
    return n;
  }
};

std::string AllocOf(const std::string& job, int64_t tick) {
  return sched::CronAllocId("default", job, tick);
}

TEST_F(EngineTest, ClaimIsOneTransactionWithRunMarkerAndPendingAlloc) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(1);
  StepAt(5);
  EXPECT_FALSE(Run("j", kT0 + 10).has_value());
  int64_t commits = store_.commits();
  StepAt(10);
  EXPECT_EQ(store_.commits(), commits + 1);
  auto run = Run("j", kT0 + 10);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(run->alloc_id(), AllocOf("j", kT0 + 10));
  EXPECT_EQ(run->claimed_by(), "sched-a");
  EXPECT_FALSE(run->manual());
  jobpb::CronMarker m = Marker("j");
  EXPECT_EQ(m.last_scheduled_unix(), kT0 + 10);
  EXPECT_EQ(m.claimed(), 1);
  auto a = Alloc(run->alloc_id());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->node(), "");
  EXPECT_EQ(a->desired_state(), jobpb::Allocation::RUN);
  EXPECT_EQ(a->cron_tick_unix(), kT0 + 10);
  EXPECT_EQ(a->job(), "j");
  EXPECT_EQ(a->resources().cpu_millicores(), 100);
  EXPECT_EQ(a->priority(), 50);
  EXPECT_EQ(leader_->engine().NextRun({"default", "j"}), At(20));
}

TEST_F(EngineTest, BrandNewJobStartsFromItsSubmitTime) {
  // Submitted at kT0+25 with catch_up all and no deadline: the first tick
  // is kT0+30, not one from the epoch.
  Submit({.name = "j",
          .schedule = "@every 10s",
          .submit_unix_ms = (kT0 + 25) * 1000});
  Start(26);
  StepAt(31);
  EXPECT_EQ(Marker("j").last_scheduled_unix(), kT0 + 30);
  EXPECT_EQ(Marker("j").missed(), 0);
  EXPECT_EQ(Runs("j").size(), 1u);
}

TEST_F(EngineTest, ForbidSkipsWhileARunIsActiveAndRecordsTheSkip) {
  StartForbidJobRunningSince10s();
  StepAt(20);
  auto skipped = Run("j", kT0 + 20);
  ASSERT_TRUE(skipped.has_value());
  EXPECT_EQ(skipped->result(), jobpb::CronRun::SKIPPED);
  EXPECT_TRUE(skipped->alloc_id().empty());
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 20)).has_value());
  EXPECT_EQ(Marker("j").skipped(), 1);
  EXPECT_EQ(Marker("j").last_scheduled_unix(), kT0 + 20);
  Status(AllocOf("j", kT0 + 10), agentpb::EXITED, 10.5, 25);
  StepAt(26);
  EXPECT_EQ(Run("j", kT0 + 10)->result(), jobpb::CronRun::SUCCEEDED);
  EXPECT_EQ(Run("j", kT0 + 10)->node(), "node-1");
  StepAt(30);
  EXPECT_EQ(Run("j", kT0 + 30)->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(Marker("j").claimed(), 2);
}

TEST_F(EngineTest, ReplaceStopsTheActiveRunInTheClaimTransaction) {
  Submit({.name = "j",
          .schedule = "@every 10s",
          .concurrency = jobpb::CronPolicy::REPLACE});
  Start(0);
  StepAt(10);
  Status(AllocOf("j", kT0 + 10), agentpb::RUNNING, 11);
  int64_t commits = store_.commits();
  StepAt(20);
  EXPECT_EQ(store_.commits(), commits + 1);
  auto old_run = Run("j", kT0 + 10);
  EXPECT_EQ(old_run->result(), jobpb::CronRun::REPLACED);
  auto old_alloc = Alloc(AllocOf("j", kT0 + 10));
  EXPECT_EQ(old_alloc->desired_state(), jobpb::Allocation::STOP);
  EXPECT_EQ(old_alloc->stop_reason(),
            "replaced by run " + std::to_string(kT0 + 20));
  EXPECT_EQ(Run("j", kT0 + 20)->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(ActiveCount("j"), 1);
}

TEST_F(EngineTest, AllowOverlaps) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  StepAt(10);
  Status(AllocOf("j", kT0 + 10), agentpb::RUNNING, 11);
  StepAt(20);
  EXPECT_EQ(ActiveCount("j"), 2);
}

// A leader comes up 100 s after the last claimed tick (kT0).
class CatchUpTest : public EngineTest {
 protected:
  void Outage(jobpb::CronPolicy::CatchUp mode, double now) {
    Submit({.name = "j",
            .schedule = "@every 10s",
            .catch_up = mode,
            .starting_deadline_ms = 35'000,
            .submit_unix_ms = (kT0 - 5) * 1000});
    Start(-5);
    StepAt(0);  // claims kT0
    ASSERT_EQ(Marker("j").last_scheduled_unix(), kT0);
    leader_ = std::make_unique<sim::Leader>(&store_, "sched-b", 2);
    store_.SetFence(sched::kLeaderElection, 2);
    Start(now);
    ASSERT_TRUE(leader_->Settle(At(now)).ok());
  }
};

TEST_F(CatchUpTest, NoneSkipsEverythingMissedAndRecordsTheLatest) {
  Outage(jobpb::CronPolicy::NONE, 107);
  jobpb::CronMarker m = Marker("j");
  EXPECT_EQ(m.last_scheduled_unix(), kT0 + 100);
  EXPECT_EQ(m.missed(), 10);
  EXPECT_EQ(m.claimed(), 1);
  EXPECT_EQ(Run("j", kT0 + 100)->result(), jobpb::CronRun::MISSED);
}

TEST_F(CatchUpTest, LatestRunsOnlyTheLatestTick) {
  Outage(jobpb::CronPolicy::LATEST, 107);
  jobpb::CronMarker m = Marker("j");
  EXPECT_EQ(m.last_scheduled_unix(), kT0 + 100);
  EXPECT_EQ(m.missed(), 9);
  EXPECT_EQ(m.claimed(), 2);
  EXPECT_EQ(Run("j", kT0 + 100)->result(), jobpb::CronRun::ACTIVE);
  EXPECT_FALSE(Run("j", kT0 + 90).has_value());
}

TEST_F(CatchUpTest, AllRunsEveryTickInsideTheDeadlineInOrder) {
  Outage(jobpb::CronPolicy::ALL, 100);
  jobpb::CronMarker m = Marker("j");
  EXPECT_EQ(m.last_scheduled_unix(), kT0 + 100);
  EXPECT_EQ(m.missed(), 6);   // kT0+10 .. kT0+60 are older than 35 s
  EXPECT_EQ(m.claimed(), 5);  // kT0, then +70, +80, +90, +100
  for (int t = 70; t <= 100; t += 10) {
    ASSERT_TRUE(Run("j", kT0 + t).has_value()) << t;
    EXPECT_EQ(Run("j", kT0 + t)->result(), jobpb::CronRun::ACTIVE);
  }
  // Claimed oldest first.
  auto r70 = store_.Load(sched::CronRunKey("default", "j", kT0 + 70));
  auto r100 = store_.Load(sched::CronRunKey("default", "j", kT0 + 100));
  EXPECT_LT(r70->kvs.at(0).mod_revision, r100->kvs.at(0).mod_revision);
}

TEST_F(EngineTest, ClockSteppingBackNeverRefiresATick) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  StepAt(10);
  StepAt(20);
  ASSERT_EQ(Marker("j").claimed(), 2);
  // NTP or a DST bug steps the clock back an hour, then it runs again.
  for (double s = 20 - 3600; s <= 19; s += 60) StepAt(s);
  StepAt(20);
  EXPECT_EQ(Marker("j").claimed(), 2);
  EXPECT_EQ(Marker("j").last_scheduled_unix(), kT0 + 20);
  StepAt(30);
  EXPECT_EQ(Marker("j").claimed(), 3);
}

TEST_F(EngineTest, LostFenceStopsFiringAndWritesNothing) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  store_.SetFence(sched::kLeaderElection, 2);  // someone else is leader
  int64_t rev = store_.revision();
  absl::StatusOr<absl::Time> r = leader_->Step(At(10));
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ(store_.revision(), rev);
  EXPECT_FALSE(Run("j", kT0 + 10).has_value());
}

TEST_F(EngineTest, UnknownOutcomeThatAppliedIsNotClaimedAgain) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  store_.FailAfterApply(1);
  // The claim applies but the reply is lost; the engine retries the same
  // conditional txn before the mirror shows it (conflict), then waits.
  ASSERT_TRUE(
      leader_->engine().Step(leader_->state(), At(10), leader_->fence()).ok());
  EXPECT_EQ(leader_->engine().stats().unknown_outcomes, 1);
  EXPECT_FALSE(leader_->engine().quiescent());
  ASSERT_TRUE(leader_->engine()
                  .Step(leader_->state(), At(10.5), leader_->fence())
                  .ok());
  EXPECT_EQ(leader_->engine().stats().conflicts, 1);
  ASSERT_TRUE(leader_->Settle(At(11)).ok());
  EXPECT_EQ(Marker("j").claimed(), 1);
  EXPECT_EQ(Runs("j").size(), 1u);
  EXPECT_EQ(leader_->engine().stats().claims, 0);  // never assumed
}

TEST_F(EngineTest, UnknownOutcomeThatDidNotApplyIsRetried) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  store_.FailBeforeApply(1);
  StepAt(10);
  EXPECT_FALSE(Run("j", kT0 + 10).has_value());
  StepAt(10.5);
  EXPECT_EQ(Run("j", kT0 + 10)->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(Marker("j").claimed(), 1);
}

TEST_F(EngineTest, HistoryLimitsDeleteOldRunsAndTheirAllocations) {
  Submit({.name = "j",
          .schedule = "@every 10s",
          .successful_history = 2,
          .failed_history = 1});
  Start(0);
  for (int i = 1; i <= 5; ++i) {
    StepAt(10 * i);
    Status(AllocOf("j", kT0 + 10 * i), agentpb::EXITED, 10 * i, 10 * i + 1,
           i == 3 ? 2 : 0);
    StepAt(10 * i + 2);
  }
  // Succeeded: 10, 20, 40, 50 -> keep 40, 50. Failed: 30 -> keep.
  std::vector<int64_t> ticks;
  for (const auto& r : Runs("j")) ticks.push_back(r.tick_unix() - kT0);
  EXPECT_EQ(ticks, (std::vector<int64_t>{30, 40, 50}));
  EXPECT_EQ(Run("j", kT0 + 30)->result(), jobpb::CronRun::FAILED);
  EXPECT_EQ(Run("j", kT0 + 30)->reason(), "exited with code 2");
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 10)).has_value());
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 20)).has_value());
  EXPECT_TRUE(Alloc(AllocOf("j", kT0 + 40)).has_value());
  EXPECT_EQ(Marker("j").claimed(), 5);
}

TEST_F(EngineTest, TimeoutStopsTheRunAndFailsIt) {
  Submit({.name = "j", .schedule = "@every 60s", .timeout_ms = 5000});
  Start(0);
  StepAt(60);
  std::string id = AllocOf("j", kT0 + 60);
  Status(id, agentpb::RUNNING, 61);
  StepAt(65);
  ASSERT_TRUE(Alloc(id).has_value());
  EXPECT_EQ(Alloc(id)->desired_state(), jobpb::Allocation::RUN);
  StepAt(66);
  EXPECT_EQ(Alloc(id)->desired_state(), jobpb::Allocation::STOP);
  EXPECT_TRUE(absl::StartsWith(Alloc(id)->stop_reason(), "timeout"));
  EXPECT_EQ(leader_->engine().stats().timeouts, 1);
  Status(id, agentpb::KILLED, 61, 67);
  StepAt(68);
  EXPECT_EQ(Run("j", kT0 + 60)->result(), jobpb::CronRun::FAILED);
  EXPECT_TRUE(absl::StartsWith(Run("j", kT0 + 60)->reason(), "timeout"));
}

TEST_F(EngineTest, FinalizesFromTheAllocationOutcome) {
  Submit({.name = "j", .schedule = "@every 60s"});
  Start(0);
  StepAt(60);
  std::string id = AllocOf("j", kT0 + 60);
  jobpb::Allocation a = *Alloc(id);
  a.set_node("node-7");
  a.mutable_outcome()->set_state(jobpb::AllocOutcome::SUCCEEDED);
  a.mutable_outcome()->set_node("node-7");
  a.mutable_outcome()->set_start_unix_ms(absl::ToUnixMillis(At(60.2)));
  sched::StoreTxn txn;
  txn.ops.push_back(
      sched::StoreOp::Put(sched::SchedAllocKey(id), a.SerializeAsString()));
  ASSERT_TRUE(store_.Commit(txn, sched::Fence{}).ok());
  StepAt(70);
  auto run = Run("j", kT0 + 60);
  EXPECT_EQ(run->result(), jobpb::CronRun::SUCCEEDED);
  EXPECT_EQ(run->node(), "node-7");
  EXPECT_EQ(run->start_unix_ms(), absl::ToUnixMillis(At(60.2)));
}

TEST_F(EngineTest, ManualTriggerObeysForbidAndNeverCollidesWithATick) {
  Submit({.name = "j",
          .schedule = "@every 10s",
          .concurrency = jobpb::CronPolicy::FORBID});
  Start(0);
  StepAt(1);
  absl::StatusOr<std::string> id = leader_->engine().Trigger(
      leader_->state(), {"default", "j"}, At(2), leader_->fence());
  ASSERT_TRUE(id.ok()) << id.status();
  const int64_t manual_tick = -absl::ToUnixMillis(At(2));
  EXPECT_EQ(*id, AllocOf("j", manual_tick));
  auto run = Run("j", manual_tick);
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->manual());
  EXPECT_EQ(run->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(Marker("j").claimed(), 1);
  EXPECT_EQ(Marker("j").last_scheduled_unix(), kT0);  // not advanced
  StepAt(3);
  absl::StatusOr<std::string> again = leader_->engine().Trigger(
      leader_->state(), {"default", "j"}, At(4), leader_->fence());
  EXPECT_TRUE(absl::IsAborted(again.status())) << again.status();
  // The scheduled tick is skipped by forbid as well, then runs once free.
  StepAt(10);
  EXPECT_EQ(Run("j", kT0 + 10)->result(), jobpb::CronRun::SKIPPED);
  Status(*id, agentpb::EXITED, 2, 12);
  StepAt(13);
  StepAt(20);
  EXPECT_EQ(Run("j", kT0 + 20)->result(), jobpb::CronRun::ACTIVE);
}

TEST_F(EngineTest, TriggerRejectsUnknownAndNonCronJobs) {
  Start(0);
  absl::StatusOr<std::string> r = leader_->engine().Trigger(
      leader_->state(), {"default", "nope"}, At(1), leader_->fence());
  EXPECT_TRUE(absl::IsNotFound(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "default/nope"));
}

// Suspension and resume: suspend_test.cc.

// Claims planned in the second before their tick (engine_prepare.cc) are
// committed at the tick exactly as planned when nothing changed.
TEST_F(EngineTest, ClaimPlannedAheadIsCommittedAtItsTick) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(1);
  StepAt(9.5);
  EXPECT_EQ(leader_->engine().stats().prepared, 1);
  EXPECT_FALSE(Run("j", kT0 + 10).has_value());  // planned, not written
  StepAt(10);
  EXPECT_EQ(leader_->engine().stats().prepared_used, 1);
  EXPECT_EQ(leader_->engine().stats().prepared_stale, 0);
  auto run = Run("j", kT0 + 10);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(run->claimed_unix_ms(), (kT0 + 10) * 1000);
  EXPECT_TRUE(Alloc(AllocOf("j", kT0 + 10)).has_value());
  EXPECT_EQ(Marker("j").last_scheduled_unix(), kT0 + 10);
  EXPECT_EQ(Marker("j").claimed(), 1);
  EXPECT_EQ(leader_->engine().NextRun({"default", "j"}), At(20));
}

// Forbid: planned while the previous run was active (a skip), but the run
// finished before the tick, so the tick is planned again and runs.
TEST_F(EngineTest, RunFinishingAfterThePlanIsSeenAtTheTick) {
  StartForbidJobRunningSince10s();
  StepAt(19.5);
  EXPECT_GE(leader_->engine().stats().prepared, 1);
  Status(AllocOf("j", kT0 + 10), agentpb::EXITED, 10.5, 19.8);
  StepAt(20);
  EXPECT_GE(leader_->engine().stats().prepared_stale, 1);
  EXPECT_EQ(Run("j", kT0 + 10)->result(), jobpb::CronRun::SUCCEEDED);
  auto run = Run("j", kT0 + 20);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->result(), jobpb::CronRun::ACTIVE);
  EXPECT_EQ(Marker("j").skipped(), 0);
  EXPECT_EQ(Marker("j").claimed(), 2);
}

TEST_F(EngineTest, JobSuspendedAfterThePlanSkipsItsTick) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(1);
  StepAt(9.5);
  EXPECT_EQ(leader_->engine().stats().prepared, 1);
  Submit({.name = "j", .schedule = "@every 10s", .suspended = true});
  StepAt(10);
  EXPECT_EQ(leader_->engine().stats().prepared_used, 0);
  auto run = Run("j", kT0 + 10);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->result(), jobpb::CronRun::SKIPPED);
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 10)).has_value());
}

// A Step that comes too late for the plan's catch-up decision (past the
// on-time grace of catch-up none) decides again: the tick is missed.
TEST_F(EngineTest, PlanIsDecidedAgainWhenTheStepComesLate) {
  Submit({.name = "j",
          .schedule = "@every 10s",
          .catch_up = jobpb::CronPolicy::NONE});
  Start(1);
  StepAt(9.5);
  EXPECT_EQ(leader_->engine().stats().prepared, 1);
  StepAt(16);  // 6 s late; the grace is 5 s
  EXPECT_EQ(leader_->engine().stats().prepared_used, 0);
  EXPECT_EQ(leader_->engine().stats().prepared_stale, 1);
  auto run = Run("j", kT0 + 10);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->result(), jobpb::CronRun::MISSED);
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 10)).has_value());
}

TEST_F(EngineTest, DeletedJobsPlanIsDropped) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(1);
  StepAt(9.5);
  EXPECT_EQ(leader_->engine().stats().prepared, 1);
  sched::StoreTxn del;
  del.ops.push_back(sched::StoreOp::Delete(sched::JobKey("default", "j")));
  ASSERT_TRUE(store_.Commit(del, {}).ok());
  StepAt(10);
  EXPECT_FALSE(Run("j", kT0 + 10).has_value());
  EXPECT_FALSE(Alloc(AllocOf("j", kT0 + 10)).has_value());
  EXPECT_EQ(leader_->engine().job_count(), 0u);
}

TEST_F(EngineTest, IdleJobsCostNoCommitsAndNoScans) {
  for (int i = 0; i < 2000; ++i) {
    Submit({.name = "j" + std::to_string(i), .schedule = "0 0 * * *"});
  }
  Start(1);
  StepAt(2);
  int64_t commits = store_.commits();
  for (int s = 3; s < 600; ++s) StepAt(s);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(leader_->engine().job_count(), 2000u);
  EXPECT_EQ(leader_->engine().NextRun({"default", "j7"}),
            absl::FromUnixSeconds((kT0 / 86400 + 1) * 86400));
}

// Many runs finishing at once (allow, after an hour of catch-up) are
// finalized in transactions under lockd's 128-operation limit.
TEST_F(EngineTest, ManyFinishedRunsFitTheTransactionLimit) {
  Submit({.name = "j", .schedule = "@every 2s", .successful_history = 100});
  Start(0);
  for (int s = 2; s <= 200; s += 2) StepAt(s);
  ASSERT_EQ(Marker("j").claimed(), 100);
  for (int s = 2; s <= 200; s += 2) {
    Status(AllocOf("j", kT0 + s), agentpb::EXITED, s, 201);
  }
  ASSERT_TRUE(leader_->Settle(At(201)).ok());
  EXPECT_EQ(ActiveCount("j"), 0);
  EXPECT_EQ(leader_->engine().stats().finalized, 100);
  EXPECT_EQ(leader_->engine().stats().unknown_outcomes, 0)
      << leader_->engine().stats().last_commit_error;
}

TEST_F(EngineTest, DeletedJobLosesItsTimer) {
  Submit({.name = "j", .schedule = "@every 10s"});
  Start(0);
  sched::StoreTxn txn;
  txn.ops.push_back(sched::StoreOp::Delete(sched::JobKey("default", "j")));
  ASSERT_TRUE(store_.Commit(txn, sched::Fence{}).ok());
  StepAt(10);
  EXPECT_EQ(leader_->engine().job_count(), 0u);
  EXPECT_TRUE(Runs("j").empty());
}

// Claims due in the same Step share transactions: ten jobs firing at the
// same second cost one commit, and each is claimed with its own records.
TEST_F(EngineTest, ClaimsDueTogetherCommitAsOneBatch) {
  for (int i = 0; i < 10; ++i) {
    Submit({.name = "j" + std::to_string(i), .schedule = "@every 10s"});
  }
  Start(1);
  StepAt(5);
  int64_t commits = store_.commits();
  StepAt(10);
  EXPECT_EQ(store_.commits(), commits + 1);
  EXPECT_EQ(leader_->engine().stats().batches, 1);
  EXPECT_EQ(leader_->engine().stats().claims, 10);
  for (int i = 0; i < 10; ++i) {
    std::string job = "j" + std::to_string(i);
    ASSERT_TRUE(Run(job, kT0 + 10).has_value()) << job;
    EXPECT_TRUE(Alloc(AllocOf(job, kT0 + 10)).has_value()) << job;
    EXPECT_EQ(Marker(job).claimed(), 1) << job;
  }
}

// A batch larger than the 128-operation limit is split, never refused.
TEST_F(EngineTest, LargeBurstIsSplitUnderTheTransactionLimit) {
  for (int i = 0; i < 100; ++i) {
    Submit({.name = "j" + std::to_string(i), .schedule = "@every 10s"});
  }
  Start(1);
  StepAt(5);
  int64_t commits = store_.commits();
  StepAt(10);
  // Six conditions + operations per claim: 21 claims per transaction.
  EXPECT_EQ(store_.commits(), commits + 5);
  EXPECT_EQ(leader_->engine().stats().claims, 100);
  EXPECT_EQ(leader_->engine().stats().unknown_outcomes, 0)
      << leader_->engine().stats().last_commit_error;
}

// One claim's condition fails (its marker moved behind the engine's back):
// the batch applies nothing, the others are claimed one by one, and the
// conflicting job is claimed exactly once after the mirror catches up.
TEST_F(EngineTest, ConflictInABatchStillClaimsTheOthersExactlyOnce) {
  for (int i = 0; i < 5; ++i) {
    Submit({.name = "j" + std::to_string(i), .schedule = "@every 10s"});
  }
  Start(1);
  StepAt(5);
  jobpb::CronMarker m;
  m.set_last_scheduled_unix(kT0);
  sched::StoreTxn txn;
  txn.ops.push_back(sched::StoreOp::Put(sched::CronMarkerKey("default", "j2"),
                                        m.SerializeAsString()));
  ASSERT_TRUE(store_.Commit(txn, sched::Fence{}).ok());
  // Step without pumping the watch: the engine plans from a mirror that
  // has no marker for j2.
  ASSERT_TRUE(
      leader_->engine().Step(leader_->state(), At(10), leader_->fence()).ok());
  EXPECT_EQ(leader_->engine().stats().batch_fallbacks, 1);
  EXPECT_EQ(leader_->engine().stats().conflicts, 1);
  EXPECT_EQ(leader_->engine().stats().claims, 4);
  EXPECT_FALSE(Run("j2", kT0 + 10).has_value());
  ASSERT_TRUE(leader_->Settle(At(10.5)).ok());
  for (int i = 0; i < 5; ++i) {
    std::string job = "j" + std::to_string(i);
    EXPECT_EQ(Runs(job).size(), 1u) << job;
    EXPECT_EQ(Marker(job).claimed(), 1) << job;
    EXPECT_EQ(Marker(job).last_scheduled_unix(), kT0 + 10) << job;
  }
  EXPECT_EQ(leader_->engine().stats().claims, 5);
}

// A batch applies but its reply is lost: every job in it retries, the
// retried batch conflicts as a whole and claim by claim, and no tick is
// claimed twice.
TEST_F(EngineTest, LostReplyOfABatchIsNotClaimedAgain) {
  for (int i = 0; i < 5; ++i) {
    Submit({.name = "j" + std::to_string(i), .schedule = "@every 10s"});
  }
  Start(1);
  StepAt(5);
  store_.FailAfterApply(1);
  ASSERT_TRUE(
      leader_->engine().Step(leader_->state(), At(10), leader_->fence()).ok());
  EXPECT_EQ(leader_->engine().stats().unknown_outcomes, 1);
  ASSERT_TRUE(leader_->engine()
                  .Step(leader_->state(), At(10.5), leader_->fence())
                  .ok());
  EXPECT_EQ(leader_->engine().stats().batch_fallbacks, 1);
  EXPECT_EQ(leader_->engine().stats().conflicts, 5);
  ASSERT_TRUE(leader_->Settle(At(11)).ok());
  for (int i = 0; i < 5; ++i) {
    std::string job = "j" + std::to_string(i);
    EXPECT_EQ(Runs(job).size(), 1u) << job;
    EXPECT_EQ(Marker(job).claimed(), 1) << job;
  }
  EXPECT_EQ(leader_->engine().stats().claims, 0);  // never assumed
  StepAt(20);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Runs("j" + std::to_string(i)).size(), 2u);
  }
}

}  // namespace
}  // namespace berth::cron
