// The reconciler's half of `berth node drain` (drain.cc): services move
// start-before-stop within max_parallel, batch work finishes until the
// deadline and is then stopped without counting as a failure.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler/reconcile/batch_verdict.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/test_world.h"

namespace berth::sched {
namespace {

using testing::TestWorld;

class DrainTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, DrainTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "incremental" : "full";
                         });

constexpr char kApi[] = R"(
job: api
kind: service
replicas: 2
task:
  command: ["/bin/api"]
  resources: {cpu: 500m, memory: 256MiB}
  restart: {policy: always, backoff: 2s, attempts: 1}
update: {max_parallel: 1, min_healthy: 5s}
)";

constexpr char kCrunch[] = R"(
job: crunch
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/work"]
  resources: {cpu: 500m, memory: 64MiB}
)";

void Drain(TestWorld& w, const std::string& node, absl::Duration deadline,
           bool ignore_batch = false) {
  jobpb::NodeDrain d;
  d.set_start_unix_ms(absl::ToUnixMillis(w.now()));
  if (deadline > absl::ZeroDuration()) {
    d.set_deadline_unix_ms(absl::ToUnixMillis(w.now() + deadline));
  }
  d.set_ignore_batch(ignore_batch);
  StoreTxn t;
  t.ops.push_back(StoreOp::Put(DrainKey(node), d.SerializeAsString()));
  ASSERT_TRUE(w.store().Commit(t, Fence{}).ok());
}

// Allocations of `job` that want to run, run, and have been healthy for
// min_healthy: what a load balancer would send traffic to.
int HealthyReplicas(TestWorld& w, const std::string& job,
                    absl::Duration min_healthy) {
  int n = 0;
  for (const jobpb::Allocation& a : w.Live(job)) {
    const agentpb::AllocationStatus* s = w.state().FindStatus(a.id());
    if (s != nullptr && s->state() == agentpb::RUNNING && s->healthy() &&
        s->attempt() == a.attempt() &&
        absl::FromUnixMillis(s->healthy_since_unix_ms()) + min_healthy <=
            w.now()) {
      ++n;
    }
  }
  return n;
}

int LiveOn(TestWorld& w, const std::string& node) {
  int n = 0;
  for (const auto& [id, v] : w.state().allocs()) {
    if (IsLive(v.value) && v.value.node() == node) ++n;
  }
  return n;
}

TEST_P(DrainTest, Service_MovesStartBeforeStopNeverBelowReplicas) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kApi);
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  w.Settle();
  ASSERT_EQ(LiveOn(w, "n1"), 2) << "both replicas start on the only node";
  w.AddNode("n2");
  w.AddNode("n3");
  Drain(w, "n1", absl::Hours(1));

  int rounds = 0;
  int max_moving = 0;
  while (LiveOn(w, "n1") > 0 && rounds++ < 40) {
    w.Settle();
    // A move is in flight while both it and the replica it replaces run.
    int moving = 0;
    for (const jobpb::Allocation& a : w.Live("api")) {
      if (a.replaces().empty()) continue;
      EXPECT_NE(a.node(), "n1") << a.id() << " placed on the draining node";
      const jobpb::Allocation& src = w.Alloc(a.replaces());
      moving += IsLive(src) && WantsRun(src);
    }
    max_moving = std::max(max_moving, moving);
    EXPECT_GE(HealthyReplicas(w, "api", absl::Seconds(5)), 2)
        << "round " << rounds << ": the service dropped below its replicas";
    w.RunAllPlaced();
    w.StopAllStopping();
    w.Advance(absl::Seconds(1));
  }
  w.Settle();
  EXPECT_EQ(LiveOn(w, "n1"), 0) << "the node never emptied";
  EXPECT_LE(max_moving, 1) << "more moves in flight than max_parallel";
  std::vector<jobpb::Allocation> live = w.Live("api");
  ASSERT_EQ(live.size(), 2u);
  for (const jobpb::Allocation& a : live) {
    EXPECT_NE(a.node(), "n1");
    EXPECT_EQ(a.attempt(), 1) << "a move must not count as a restart";
  }
  int stopped_for_drain = 0;
  for (const auto& [id, v] : w.state().allocs()) {
    if (v.value.outcome().state() == jobpb::AllocOutcome::STOPPED &&
        v.value.outcome().reason().find("draining") != std::string::npos) {
      ++stopped_for_drain;
    }
  }
  EXPECT_EQ(stopped_for_drain, 2);
  w.Advance(absl::Seconds(6));
  w.Settle();
  EXPECT_EQ(w.Job("api").status().state(), jobpb::JobStatus::RUNNING);
}

TEST_P(DrainTest, Service_OldReplicaRunsUntilTheReplacementIsHealthy) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kApi);
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  w.AddNode("n2");
  Drain(w, "n1", absl::Hours(1));
  w.Settle();
  std::vector<jobpb::Allocation> moving;
  for (const jobpb::Allocation& a : w.Live("api")) {
    if (!a.replaces().empty()) moving.push_back(a);
  }
  ASSERT_EQ(moving.size(), 1u) << "max_parallel is 1";
  EXPECT_EQ(moving[0].node(), "n2");
  const std::string old = moving[0].replaces();
  EXPECT_EQ(w.Live("api").size(), 3u) << "the old replica still runs";
  w.Run(moving[0].id(), /*healthy=*/false);
  w.Advance(absl::Seconds(10));
  w.Settle();
  EXPECT_EQ(w.Alloc(old).desired_state(), jobpb::Allocation::RUN)
      << "stopped before its replacement was healthy";
  w.Run(moving[0].id(), /*healthy=*/true);
  w.Advance(absl::Seconds(4));
  w.Settle();
  EXPECT_EQ(w.Alloc(old).desired_state(), jobpb::Allocation::RUN)
      << "stopped before min_healthy";
  w.Advance(absl::Seconds(1));
  w.Settle();
  EXPECT_EQ(w.Alloc(old).desired_state(), jobpb::Allocation::STOP);
}

TEST_P(DrainTest, Service_DeadlineStopsWhatCouldNotMove) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kApi);
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  Drain(w, "n1", absl::Minutes(1));  // and no other node to move to
  w.Settle();
  EXPECT_EQ(LiveOn(w, "n1"), 2);
  EXPECT_LE(w.wake(), w.now() + absl::Minutes(1));
  w.Advance(absl::Minutes(1));
  w.Settle();
  w.StopAllStopping();
  w.Settle();
  EXPECT_EQ(LiveOn(w, "n1"), 0);
  for (const jobpb::Allocation& a : w.Live("api")) {
    EXPECT_TRUE(a.node().empty()) << a.id() << " placed on the drained node";
  }
}

TEST_P(DrainTest, Batch_FinishesOnTheNodeBeforeTheDeadline) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kCrunch);
  w.Settle();
  w.RunAllPlaced();
  const std::string id = w.Live("crunch").front().id();
  w.AddNode("n2");
  Drain(w, "n1", absl::Minutes(10));
  w.Settle();
  EXPECT_EQ(w.Alloc(id).desired_state(), jobpb::Allocation::RUN);
  EXPECT_EQ(w.Live("crunch").size(), 1u) << "no copy started elsewhere";
  EXPECT_LE(w.wake(), w.now() + absl::Minutes(10));
  w.Advance(absl::Minutes(5));
  w.Exit(id, 0);
  w.Settle();
  EXPECT_EQ(w.Job("crunch").status().state(), jobpb::JobStatus::COMPLETE);
  EXPECT_EQ(LiveOn(w, "n1"), 0);
}

TEST_P(DrainTest, Batch_StoppedAtTheDeadlineRunsElsewhereAndIsNoFailure) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kCrunch);
  w.Settle();
  w.RunAllPlaced();
  const std::string id = w.Live("crunch").front().id();
  w.AddNode("n2");
  Drain(w, "n1", absl::Minutes(10));
  w.Settle();
  w.Advance(absl::Minutes(10));
  w.Settle();
  EXPECT_EQ(w.Alloc(id).desired_state(), jobpb::Allocation::STOP);
  w.StopAllStopping();
  w.Settle();
  EXPECT_EQ(w.Alloc(id).outcome().state(), jobpb::AllocOutcome::STOPPED);
  std::vector<jobpb::Allocation> live = w.Live("crunch");
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].node(), "n2");
  w.RunAllPlaced();
  w.Exit(live[0].id(), 0);
  w.Settle();
  // backoff_limit is 0: one counted failure would have failed the job.
  EXPECT_EQ(w.Job("crunch").status().state(), jobpb::JobStatus::COMPLETE);
  EXPECT_EQ(w.Job("crunch").status().failed(), 0);
}

TEST_P(DrainTest, Batch_IgnoreBatchLeavesTasksPastTheDeadline) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kCrunch);
  w.Settle();
  w.RunAllPlaced();
  const std::string id = w.Live("crunch").front().id();
  w.AddNode("n2");
  Drain(w, "n1", absl::Minutes(1), /*ignore_batch=*/true);
  w.Advance(absl::Minutes(2));
  w.Settle();
  EXPECT_EQ(w.Alloc(id).desired_state(), jobpb::Allocation::RUN);
  EXPECT_EQ(w.Live("crunch").size(), 1u);
}

TEST_P(DrainTest, UndrainStopsFurtherMoves) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kApi);
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  w.AddNode("n2");
  Drain(w, "n1", absl::Hours(1));
  w.Settle();
  StoreTxn t;
  t.ops.push_back(StoreOp::Delete(DrainKey("n1")));
  ASSERT_TRUE(w.store().Commit(t, Fence{}).ok());
  // The move already started completes; the second replica stays.
  for (int i = 0; i < 10; ++i) {
    w.RunAllPlaced();
    w.StopAllStopping();
    w.Advance(absl::Seconds(3));
    w.Settle();
  }
  EXPECT_EQ(LiveOn(w, "n1"), 1);
  EXPECT_EQ(w.Live("api").size(), 2u);
}

TEST(DrainStateTest, RecordSurvivesAReload) {
  TestWorld w;
  w.AddNode("n1");
  Drain(w, "n1", absl::Minutes(30), /*ignore_batch=*/true);
  ClusterState fresh;  // a new leader loads everything from the store
  fresh.Reset(*w.store().Load(kBerthPrefix));
  const jobpb::NodeDrain* d = fresh.FindDrain("n1");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->deadline_unix_ms(),
            absl::ToUnixMillis(w.now() + absl::Minutes(30)));
  EXPECT_TRUE(d->ignore_batch());
  EXPECT_TRUE(fresh.node_index().Find("n1")->node.draining());
  EXPECT_EQ(fresh.FindDrain("n2"), nullptr);
}

}  // namespace
}  // namespace berth::sched
