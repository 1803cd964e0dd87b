#include <set>
#include <string>

#include "gtest/gtest.h"
#include "scheduler/placement/placement.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/test_world.h"

namespace berth::sched {
namespace {

using testing::TestWorld;

// Every scenario runs twice: each pass over every job (full), and as the
// leader runs it, evaluating only the dirty set (incremental).
class ReconcileTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, ReconcileTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "incremental" : "full";
                         });

constexpr char kWeb[] = R"(
job: web
kind: service
replicas: 3
placement: spread
task:
  command: ["/bin/web"]
  resources: {cpu: 500m, memory: 256MiB}
  ports: [{name: http}]
  restart: {policy: always, backoff: 2s}
update: {max_parallel: 1, min_healthy: 5s}
)";

std::set<std::string> Nodes(const std::vector<jobpb::Allocation>& allocs) {
  std::set<std::string> out;
  for (const auto& a : allocs) out.insert(a.node());
  return out;
}

TEST_P(ReconcileTest, Service_ReplicasSpreadOverNodesWithPortsAndAgentSpecs) {
  TestWorld w(GetParam());
  for (const char* n : {"n1", "n2", "n3"}) w.AddNode(n);
  w.Submit(kWeb);
  w.Settle();
  std::vector<jobpb::Allocation> live = w.Live("web");
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(Nodes(live), (std::set<std::string>{"n1", "n2", "n3"}));
  for (const auto& a : live) {
    ASSERT_EQ(a.ports_size(), 1);
    EXPECT_GE(a.ports(0).port(), kDefaultPortRangeMin);
    EXPECT_EQ(w.state().agent_allocs().at(a.node()).count(a.id()), 1u);
  }
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  w.Settle();
  EXPECT_EQ(w.Job("web").status().state(), jobpb::JobStatus::RUNNING);
  EXPECT_EQ(w.Job("web").status().running(), 3);
}

TEST_P(ReconcileTest, Service_LostNodeIsReplacedElsewhereAndRecordedLost) {
  TestWorld w(GetParam());
  for (const char* n : {"n1", "n2", "n3"}) w.AddNode(n);
  w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  std::string victim;
  for (const auto& a : w.Live("web")) {
    if (a.node() == "n2") victim = a.id();
  }
  ASSERT_FALSE(victim.empty());
  w.RemoveNode("n2");
  w.Settle();
  EXPECT_EQ(w.Alloc(victim).outcome().state(), jobpb::AllocOutcome::LOST);
  EXPECT_EQ(w.state().agent_allocs().count("n2"), 0u)
      << "the lost node's spec must go so a returning agent stops it";
  std::vector<jobpb::Allocation> live = w.Live("web");
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(Nodes(live).count("n2"), 0u);
}

TEST_P(ReconcileTest, Service_CrashRestartsAfterBackoffAsNewAttempt) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  std::string id = w.Live("web").front().id();
  int slot = w.Alloc(id).task_group_index();
  w.Exit(id, 3);
  w.Settle();
  EXPECT_EQ(w.Alloc(id).outcome().state(), jobpb::AllocOutcome::FAILED);
  jobpb::Allocation next;
  for (const auto& a : w.Live("web")) {
    if (a.task_group_index() == slot) next = a;
  }
  ASSERT_FALSE(next.id().empty());
  EXPECT_EQ(next.attempt(), 2);
  EXPECT_TRUE(next.node().empty()) << "placed before its backoff ended";
  EXPECT_LE(w.wake(), w.now() + absl::Seconds(2));
  w.Advance(absl::Seconds(2));
  w.Settle();
  EXPECT_EQ(w.Alloc(next.id()).node(), "n1");
}

TEST_P(ReconcileTest, Service_UnplaceableJobStaysPendingWithExplanation) {
  TestWorld w(GetParam());
  w.AddNode("small", 200, int64_t{64} << 20);
  w.Submit(kWeb);
  w.Settle();
  const jobpb::JobRecord rec = w.Job("web");
  EXPECT_EQ(rec.status().state(), jobpb::JobStatus::PENDING);
  EXPECT_EQ(rec.status().pending(), 3);
  EXPECT_NE(rec.status().explanation().find("1 node"), std::string::npos)
      << rec.status().explanation();
  EXPECT_NE(rec.status().explanation().find("cpu"), std::string::npos)
      << rec.status().explanation();
  bool event = false;
  for (const auto& e : w.state().events().at({"default", "web"})) {
    event |= e.kind() == "unplaced";
  }
  EXPECT_TRUE(event);
}

TEST_P(ReconcileTest,
       Service_UpdateThatNeverBecomesHealthyRollsBackAfterOneStep) {
  TestWorld w(GetParam());
  for (const char* n : {"n1", "n2", "n3"}) w.AddNode(n);
  w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(6));
  w.Settle();
  std::string v2 = kWeb;
  v2.replace(v2.find("/bin/web"), 8, "/bin/web2");
  w.Submit(v2);
  w.Settle();
  w.StopAllStopping();
  w.Settle();
  w.RunAllPlaced(/*healthy=*/false);
  w.Settle();
  int new_version = 0;
  for (const auto& a : w.Live("web")) {
    new_version += a.job_version() == w.Job("web").job().spec_hash();
  }
  EXPECT_EQ(new_version, 1) << "only the first step may be taken";
  w.Advance(absl::Seconds(40));
  w.Settle();
  const jobpb::JobRecord rec = w.Job("web");
  EXPECT_TRUE(rec.rollout().rolling_back());
  EXPECT_EQ(rec.version(), 3);
  EXPECT_EQ(rec.job().task().command(0), "/bin/web");
  w.StopAllStopping();
  w.Settle();
  for (const auto& a : w.Live("web")) {
    EXPECT_EQ(a.job_version(), rec.job().spec_hash()) << a.id();
  }
  EXPECT_EQ(w.Live("web").size(), 3u);
}

TEST_P(ReconcileTest, Service_HealthyUpdateRollsOneSlotAtATime) {
  TestWorld w(GetParam());
  for (const char* n : {"n1", "n2", "n3"}) w.AddNode(n);
  w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  std::string v2 = kWeb;
  v2.replace(v2.find("/bin/web"), 8, "/bin/web2");
  w.Submit(v2);
  for (int round = 0; round < 3; ++round) {
    w.Settle();
    w.StopAllStopping();
    w.Settle();
    w.RunAllPlaced();
    w.Advance(absl::Seconds(6));
  }
  w.Settle();
  const jobpb::JobRecord rec = w.Job("web");
  EXPECT_EQ(rec.rollout().done(), 3);
  EXPECT_FALSE(rec.rollout().rolling_back());
  for (const auto& a : w.Live("web")) {
    EXPECT_EQ(a.job_version(), rec.job().spec_hash());
  }
}

constexpr char kCrunch[] = R"(
job: crunch
kind: batch
priority: 20
batch: {completions: 10, parallelism: 4, backoff_limit: 20}
task:
  command: ["/bin/work"]
  resources: {cpu: 500m, memory: 64MiB}
  restart: {policy: on-failure, backoff: 1s}
)";

TEST_P(ReconcileTest,
       Batch_FailingFirstAttemptsStillGiveExactlyTenCompletions) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  w.AddNode("n2");
  w.Submit(kCrunch);
  std::set<int> failed_once;
  for (int round = 0; round < 60; ++round) {
    w.Settle();
    std::vector<jobpb::Allocation> live = w.Live("crunch");
    EXPECT_LE(live.size(), 4u) << "parallelism exceeded";
    w.RunAllPlaced();
    for (const auto& a : live) {
      if (a.node().empty()) continue;
      int idx = a.task_group_index();
      w.Exit(a.id(), failed_once.insert(idx).second ? 1 : 0);
    }
    w.Advance(absl::Seconds(2));
  }
  w.Settle();
  const jobpb::JobRecord rec = w.Job("crunch");
  EXPECT_EQ(rec.status().state(), jobpb::JobStatus::COMPLETE);
  EXPECT_EQ(rec.status().succeeded(), 10);
  int succeeded_allocs = 0;
  for (const auto& [id, v] : w.state().allocs()) {
    succeeded_allocs +=
        v.value.outcome().state() == jobpb::AllocOutcome::SUCCEEDED;
  }
  EXPECT_EQ(succeeded_allocs, 10);
  EXPECT_TRUE(w.Live("crunch").empty());
}

TEST_P(ReconcileTest, Batch_BackoffLimitFailsTheJobAndNamesIt) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  std::string spec = kCrunch;
  spec.replace(spec.find("backoff_limit: 20"), 17, "backoff_limit: 2");
  w.Submit(spec);
  for (int round = 0; round < 10; ++round) {
    w.Settle();
    w.RunAllPlaced();
    for (const auto& a : w.Live("crunch")) {
      if (!a.node().empty()) w.Exit(a.id(), 1);
    }
    w.Advance(absl::Seconds(2));
  }
  w.Settle();
  const jobpb::JobRecord rec = w.Job("crunch");
  EXPECT_EQ(rec.status().state(), jobpb::JobStatus::FAILED);
  EXPECT_NE(rec.status().explanation().find("backoff_limit 2"),
            std::string::npos)
      << rec.status().explanation();
}

TEST_P(ReconcileTest,
       Preemption_ServiceEvictsBatchWhichRunsAgainWhenRoomFrees) {
  TestWorld w(GetParam());
  w.AddNode("n1", 2000);
  w.Submit(kCrunch);  // 4 x 500m fills the node
  w.Settle();
  w.RunAllPlaced();
  ASSERT_EQ(w.Live("crunch").size(), 4u);
  w.Submit(R"(
job: api
kind: service
replicas: 1
task:
  command: ["/bin/api"]
  resources: {cpu: 1000m, memory: 128MiB}
)");
  w.Settle();
  std::vector<jobpb::Allocation> api = w.Live("api");
  ASSERT_EQ(api.size(), 1u);
  EXPECT_EQ(api[0].node(), "n1");
  int evicted = 0;
  for (const auto& [id, v] : w.state().allocs()) {
    if (v.value.desired_state() == jobpb::Allocation::EVICT) {
      ++evicted;
      EXPECT_NE(v.value.stop_reason().find("preempted by default/api"),
                std::string::npos);
    }
  }
  EXPECT_EQ(evicted, 2);
  w.StopAllStopping();
  w.Settle();
  // Evictions are not failures: the indexes come back, pending for room.
  EXPECT_EQ(w.Job("crunch").status().failed(), 0);
  EXPECT_EQ(w.Live("crunch").size(), 4u);
  int pending = 0;
  for (const auto& a : w.Live("crunch")) pending += a.node().empty();
  EXPECT_EQ(pending, 2);
  w.AddNode("n2", 2000);
  w.Settle();
  for (const auto& a : w.Live("crunch")) EXPECT_FALSE(a.node().empty());
}

TEST_P(ReconcileTest, Job_StoppedJobWindsDownAndDeletedJobIsForgotten) {
  TestWorld w(GetParam());
  w.AddNode("n1");
  jobpb::JobRecord rec = w.Submit(kWeb);
  w.Settle();
  w.RunAllPlaced();
  rec = w.Job("web");
  rec.set_stopped(true);
  StoreTxn t;
  t.ops.push_back(
      StoreOp::Put(JobKey("default", "web"), rec.SerializeAsString()));
  ASSERT_TRUE(w.store().Commit(t, Fence{}).ok());
  w.Settle();
  EXPECT_TRUE(w.Live("web").empty());
  w.StopAllStopping();
  w.Settle();
  EXPECT_EQ(w.Job("web").status().state(), jobpb::JobStatus::STOPPED);
  t.ops = {StoreOp::Delete(JobKey("default", "web"))};
  ASSERT_TRUE(w.store().Commit(t, Fence{}).ok());
  w.Settle();
  EXPECT_TRUE(w.state().AllocsOf({"default", "web"}).empty());
  EXPECT_TRUE(w.state().agent_allocs().empty());
}

}  // namespace
}  // namespace berth::sched
