// Incremental reconcile: what a pass evaluates when driven by the mirror's
// dirty set, and what sampling costs placement in quality.
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/test_world.h"

namespace berth::sched {
namespace {

using testing::TestWorld;

std::string Service(const std::string& name, int replicas,
                    const std::string& extra = "") {
  return absl::StrFormat(
      "job: %s\nkind: service\nreplicas: %d\n%s"
      "task:\n  command: [\"/bin/app\"]\n"
      "  resources: {cpu: 500m, memory: 256MiB}\n"
      "  restart: {policy: always, backoff: 2s}\n",
      name, replicas, extra);
}

int Placed(const std::vector<jobpb::Allocation>& allocs) {
  int n = 0;
  for (const jobpb::Allocation& a : allocs) n += !a.node().empty();
  return n;
}

// A settled cluster of three services on four nodes, all running healthy.
void SettledCluster(TestWorld& w) {
  for (const char* n : {"n1", "n2", "n3", "n4"}) w.AddNode(n);
  for (const char* j : {"a", "b", "c"}) w.Submit(Service(j, 3));
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(11));  // past the default min_healthy
  w.Settle();
}

TEST(IncrementalReconcileTest, IdlePassEvaluatesNoJob) {
  TestWorld w(/*incremental=*/true);
  SettledCluster(w);
  EXPECT_EQ(w.Job("a").status().state(), jobpb::JobStatus::RUNNING);
  w.Advance(absl::Minutes(1));
  std::vector<std::string> log = w.Step();
  EXPECT_EQ(w.last_evaluated(), 0);
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(w.last_changed().empty());
}

TEST(IncrementalReconcileTest, ChangeToOneJobReevaluatesOnlyThatJob) {
  TestWorld w(/*incremental=*/true);
  SettledCluster(w);
  w.Submit(Service("b", 5));  // scale b up
  w.Step();
  EXPECT_EQ(w.last_evaluated(), 1);
  EXPECT_EQ(w.last_changed(), (std::set<JobId>{{"default", "b"}}));
  EXPECT_EQ(w.Live("b").size(), 5u);

  // An allocation of c crashes: only c is evaluated (and restarted after
  // its backoff, by the wake-up the pass asked for).
  w.Settle();
  std::string id = w.Live("c").front().id();
  w.Exit(id, 1);
  w.Step();
  EXPECT_EQ(w.last_evaluated(), 1);
  EXPECT_EQ(w.last_changed(), (std::set<JobId>{{"default", "c"}}));
  w.Settle();
  EXPECT_EQ(Placed(w.Live("c")), 2) << "the restart waits for its backoff";
  w.Advance(absl::Seconds(3));
  w.Step();
  EXPECT_EQ(w.last_evaluated(), 1) << "the backoff wake-up names c only";
  EXPECT_EQ(Placed(w.Live("c")), 3);
}

TEST(IncrementalReconcileTest, NodeLossAndDrainDirtyOnlyTheJobsConcerned) {
  TestWorld w(/*incremental=*/true);
  for (const char* n : {"n1", "n2"}) w.AddNode(n);
  w.Submit(Service(
      "a", 1,
      "constraints: [{attribute: node.name, operator: \"=\", value: n1}]\n"));
  w.Submit(Service(
      "b", 1,
      "constraints: [{attribute: node.name, operator: \"=\", value: n2}]\n"));
  w.Settle();
  w.RunAllPlaced();
  w.Settle();
  ASSERT_EQ(w.Live("b").front().node(), "n2");

  w.store().Commit({{}, {StoreOp::Put(DrainKey("n2"), "")}}, Fence{});
  w.Step();
  EXPECT_EQ(w.last_evaluated(), 1) << "b runs on the drained node";
  w.Settle();

  w.RemoveNode("n1");
  w.Step();
  EXPECT_EQ(w.last_evaluated(), 1) << "only a ran on n1";
  EXPECT_EQ(w.last_changed(), (std::set<JobId>{{"default", "a"}}));
}

// After any sequence of incremental passes, a pass over every job finds
// nothing left to do: the dirty set missed nothing.
TEST(IncrementalReconcileTest, FullPassAfterIncrementalPassesFindsNothing) {
  TestWorld w(/*incremental=*/true);
  SettledCluster(w);
  w.Submit(R"(
job: batch
kind: batch
batch: {completions: 4, parallelism: 2, backoff_limit: 5}
task:
  command: ["/bin/work"]
  resources: {cpu: 500m, memory: 256MiB}
)");
  w.Settle();
  w.RunAllPlaced();
  w.Settle();
  for (const jobpb::Allocation& a : w.Live("batch")) w.Exit(a.id(), 0);
  w.RemoveNode("n3");
  w.store().Commit({{}, {StoreOp::Put(DrainKey("n4"), "")}}, Fence{});
  w.Settle();
  w.RunAllPlaced();
  w.Advance(absl::Seconds(10));
  w.Settle();

  Plan full = Reconcile(w.state(), w.now());
  EXPECT_TRUE(full.changes.empty())
      << full.log.size()
      << " lines, first: " << (full.log.empty() ? "" : full.log[0]);
  EXPECT_TRUE(full.changed_jobs.empty());
}

// Placement quality under sampling, against a full scan of every feasible
// node, on the same seeded random cluster and job stream. Metrics: spread
// - the standard deviation of per-node cpu utilization (lower is better);
// binpack - the number of nodes holding any allocation (lower is better).
struct Quality {
  double spread_stddev = 0;
  int binpack_nodes = 0;
};

double RunCluster(int32_t sample, jobpb::PlacementMode mode) {
  TestWorld w(/*incremental=*/true);
  w.options().placement_sample_nodes = sample;
  std::mt19937 rng(20261204);
  constexpr int kNodes = 1200;
  const int64_t cpus[] = {4000, 8000, 16000, 32000};
  for (int i = 0; i < kNodes; ++i) {
    int64_t cpu = cpus[rng() % 4];
    w.AddNode(absl::StrFormat("n%04d", i), cpu,
              (cpu / 1000) * (int64_t{2} << 30) * (1 + rng() % 2));
  }
  for (int j = 0; j < 60; ++j) {
    int replicas = 10 + static_cast<int>(rng() % 50);
    int cpu_m = 100 * (1 + static_cast<int>(rng() % 20));
    int mem_mi = 128 * (1 + static_cast<int>(rng() % 16));
    w.Submit(absl::StrFormat(
        "job: j%02d\nkind: service\nreplicas: %d\nplacement: %s\n"
        "task:\n  command: [\"/bin/app\"]\n"
        "  resources: {cpu: %dm, memory: %dMiB}\n",
        j, replicas, mode == jobpb::BINPACK ? "binpack" : "spread", cpu_m,
        mem_mi));
    w.Settle();
  }
  const ClusterState& s = w.state();
  std::vector<double> util;
  int used = 0;
  for (const auto& [name, unused] : s.nodes()) {
    const NodeIndex::Entry* e = s.node_index().Find(name);
    util.push_back(static_cast<double>(e->node.allocated().cpu_millicores()) /
                   e->node.capacity().cpu_millicores());
    used += !e->allocs.empty();
  }
  if (mode == jobpb::BINPACK) return used;
  double mean = 0, var = 0;
  for (double u : util) mean += u;
  mean /= util.size();
  for (double u : util) var += (u - mean) * (u - mean);
  return std::sqrt(var / util.size());
}

TEST(PlacementSamplingQualityTest, SpreadWithinFivePercentOfFullScan) {
  double full = RunCluster(0, jobpb::SPREAD);
  double sampled = RunCluster(kDefaultSampleNodes, jobpb::SPREAD);
  RecordProperty("full_stddev", absl::StrFormat("%.5f", full));
  RecordProperty("sampled_stddev", absl::StrFormat("%.5f", sampled));
  std::cout << "spread: per-node cpu utilization stddev full " << full
            << ", sampled " << sampled << "\n";
  EXPECT_LE(sampled, full * 1.05);
}

TEST(PlacementSamplingQualityTest, BinpackWithinFivePercentOfFullScan) {
  double full = RunCluster(0, jobpb::BINPACK);
  double sampled = RunCluster(kDefaultSampleNodes, jobpb::BINPACK);
  RecordProperty("full_nodes", absl::StrFormat("%.0f", full));
  RecordProperty("sampled_nodes", absl::StrFormat("%.0f", sampled));
  std::cout << "binpack: nodes used full " << full << ", sampled " << sampled
            << "\n";
  EXPECT_GT(full, 0);
  EXPECT_LE(sampled, full * 1.05);
}

}  // namespace
}  // namespace berth::sched
