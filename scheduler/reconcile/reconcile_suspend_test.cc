// berth job suspend|resume as the reconciler sees it (JobRecord.suspended):
// services and batch jobs wind down but keep their record, version and
// history; on resume their allocations are created and placed again.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/test_world.h"

namespace berth::sched {
namespace {

using testing::TestWorld;

class ReconcileSuspendTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, ReconcileSuspendTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "incremental" : "full";
                         });

constexpr char kWeb[] = R"(
job: web
kind: service
replicas: 2
task:
  command: ["/bin/web"]
  resources: {cpu: 500m, memory: 256MiB}
  restart: {policy: always, backoff: 2s}
)";

constexpr char kCrunch[] = R"(
job: crunch
kind: batch
batch: {completions: 4, parallelism: 2, backoff_limit: 0}
task:
  command: ["/bin/work"]
  resources: {cpu: 500m, memory: 64MiB}
  restart: {policy: on-failure, backoff: 1s}
)";

void SetSuspended(TestWorld& w, const std::string& job, bool suspended) {
  jobpb::JobRecord rec = w.Job(job);
  rec.set_suspended(suspended);
  StoreTxn t;
  t.ops.push_back(
      StoreOp::Put(JobKey("default", job), rec.SerializeAsString()));
  ASSERT_TRUE(w.store().Commit(t, Fence{}).ok());
}

std::set<std::string> Ids(const std::vector<jobpb::Allocation>& allocs) {
  std::set<std::string> out;
  for (const auto& a : allocs) out.insert(a.id());
  return out;
}

TEST_P(ReconcileSuspendTest, ServiceStopsKeepsItsJobAndIsPlacedAgain) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  w.Settle();
  std::set<std::string> before = Ids(w.Live("web"));
  ASSERT_EQ(before.size(), 2u);
  const int64_t version = w.Job("web").version();

  SetSuspended(w, "web", true);
  w.Settle();
  EXPECT_TRUE(w.Live("web").empty());
  for (const std::string& id : before) {
    EXPECT_EQ(w.Alloc(id).stop_reason(), "job suspended");
  }
  w.StopAllStopping();
  w.Settle();
  EXPECT_EQ(w.Job("web").status().state(), jobpb::JobStatus::SUSPENDED);
  EXPECT_EQ(w.Job("web").version(), version);
  for (const std::string& id : before) {
    EXPECT_NE(w.Alloc(id).outcome().state(),
              jobpb::AllocOutcome::STATE_UNSPECIFIED)
        << id << " must be finished, and kept as history";
  }

  SetSuspended(w, "web", false);
  w.Settle();
  std::vector<jobpb::Allocation> live = w.Live("web");
  ASSERT_EQ(live.size(), 2u);
  for (const auto& a : live) {
    EXPECT_EQ(before.count(a.id()), 0u) << "a resumed replica is a new one";
    EXPECT_EQ(a.node(), "n1");
  }
  w.RunAllPlaced();
  w.Advance(absl::Minutes(1));  // past min_healthy
  w.Settle();
  EXPECT_EQ(w.Job("web").status().state(), jobpb::JobStatus::RUNNING);
  EXPECT_EQ(w.Job("web").version(), version);
}

TEST_P(ReconcileSuspendTest, BatchStopsWithoutFailuresAndFinishesAfterResume) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kCrunch);
  w.Settle();
  w.RunAllPlaced();
  std::vector<jobpb::Allocation> first = w.Live("crunch");
  ASSERT_EQ(first.size(), 2u);
  w.Exit(first[0].id(), 0);
  w.Settle();

  SetSuspended(w, "crunch", true);
  w.Settle();
  EXPECT_TRUE(w.Live("crunch").empty());
  w.StopAllStopping();
  w.Settle();
  EXPECT_EQ(w.Job("crunch").status().state(), jobpb::JobStatus::SUSPENDED);
  EXPECT_EQ(w.Job("crunch").status().failed(), 0)
      << "a suspended task is stopped, not failed";
  EXPECT_EQ(w.Job("crunch").status().succeeded(), 1);

  SetSuspended(w, "crunch", false);
  // Each pass may start up to `parallelism` tasks; run them to completion.
  for (int round = 0; round < 10 && w.Job("crunch").status().state() !=
                                        jobpb::JobStatus::COMPLETE;
       ++round) {
    w.Settle();
    w.RunAllPlaced();
    for (const auto& a : w.Live("crunch")) {
      if (!a.node().empty()) w.Exit(a.id(), 0);
    }
    w.Settle();
  }
  EXPECT_EQ(w.Job("crunch").status().state(), jobpb::JobStatus::COMPLETE);
  EXPECT_EQ(w.Job("crunch").status().succeeded(), 4);
  EXPECT_EQ(w.Job("crunch").status().failed(), 0);
}

}  // namespace
}  // namespace berth::sched
