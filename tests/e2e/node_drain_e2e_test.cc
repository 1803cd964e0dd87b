// berth node drain end-to-end (issue #19 item 1): a real lockd, two real
// schedulers and three real agents on the process runtime. Node n1 runs a
// 2-replica service and a batch job; `berth node drain n1` (the real CLI,
// waiting for the node to empty) runs while the test samples the service
// and kills the scheduler leader in the middle of the drain. Every wait is
// a condition poll with a deadline; durations are printed, never asserted.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

constexpr char kService[] = R"(
job: api
kind: service
replicas: 2
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
update: {max_parallel: 1, min_healthy: 2s}
)";

// Long enough to still run when the drain starts, well inside its deadline.
constexpr char kBatch[] = R"(
job: crunch
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c", "sleep 12"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)";

// Replicas that count towards the service's healthy minimum at `now`:
// wanted, running, and healthy for at least min_healthy (2s), as the
// scheduler judges them.
size_t Healthy(const schedpb::JobStatusResponse& r, absl::Time now) {
  size_t n = 0;
  for (const schedpb::AllocationView& v : RunningAllocs(r)) {
    if (v.status().healthy() &&
        absl::FromUnixMillis(v.status().healthy_since_unix_ms()) +
                absl::Seconds(2) <=
            now) {
      ++n;
    }
  }
  return n;
}

class NodeDrainE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartCluster(1)); }
};

TEST_F(NodeDrainE2ETest, DrainMovesServiceKeepsItsMinimumAndSurvivesFailover) {
  StartAgent("n1");
  ASSERT_EQ(scheds_->Submit(kService).exit_code, 0);
  ASSERT_EQ(scheds_->Submit(kBatch).exit_code, 0);
  std::set<std::string> before;  // allocation ids placed before the drain
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<schedpb::JobStatusResponse> api = scheds_->Status("api");
        absl::StatusOr<schedpb::JobStatusResponse> batch =
            scheds_->Status("crunch");
        if (!api.ok() || !batch.ok() || Healthy(*api, absl::Now()) != 2 ||
            RunningAllocs(*batch).size() != 1) {
          return false;
        }
        before.clear();
        for (const auto& v : api->allocations()) before.insert(v.alloc().id());
        for (const auto& v : batch->allocations())
          before.insert(v.alloc().id());
        return true;
      },
      absl::Seconds(60)))
      << "the service and the batch job never ran on n1";
  StartAgent("n2");
  StartAgent("n3");

  // Bad input first: an unknown node is refused by name.
  RunResult bad = scheds_->Cli({"node", "drain", "nope", "--detach"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "unknown node \"nope\"")) << bad.err;

  std::vector<std::string> argv = {BerthCliBinary(),
                                   "--scheduler",
                                   scheds_->Flag(),
                                   "--lock-endpoints",
                                   lockd_->EndpointsFlag(),
                                   "node",
                                   "drain",
                                   "n1",
                                   "--deadline",
                                   "3m"};
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<Subprocess>> cli =
      Subprocess::Start(argv, absl::StrCat(lockd_->dir(), "/drain-cli"));
  ASSERT_TRUE(cli.ok()) << cli.status();

  // Sample the service until n1 is empty; kill the leader once a move is
  // under way, so the rest of the drain is the next leader's.
  size_t min_healthy = 2;
  int samples = 0;
  int killed = -1;
  std::set<std::string> new_on_n1;
  int64_t deadline_before_kill = 0;
  bool empty = WaitFor(
      [&] {
        absl::StatusOr<schedpb::JobStatusResponse> api = scheds_->Status("api");
        if (api.ok()) {
          ++samples;
          min_healthy = std::min(min_healthy, Healthy(*api, absl::Now()));
          bool moving = false;
          for (const auto& v : api->allocations()) {
            moving |= !v.alloc().replaces().empty();
            if (v.alloc().node() == "n1" && !before.count(v.alloc().id())) {
              new_on_n1.insert(v.alloc().id());
            }
          }
          if (moving && killed < 0) {
            std::optional<schedpb::NodeView> n1 = Node("n1");
            if (n1 && n1->draining()) {
              deadline_before_kill = n1->drain().deadline_unix_ms();
              killed = scheds_->AwaitLeader(absl::Seconds(10));
              if (killed >= 0) {
                scheds_->Kill9(killed);
                std::cout << "killed leader s" << killed + 1 << " after "
                          << absl::FormatDuration(absl::Now() - started)
                          << std::endl;
              }
            }
          }
        }
        if (killed < 0) return false;
        std::optional<schedpb::NodeView> n1 = Node("n1");
        return n1 && n1->allocations() == 0;
      },
      absl::Minutes(4));
  ASSERT_GE(killed, 0) << "no move was ever seen";
  ASSERT_TRUE(empty) << "n1 never emptied";
  std::cout << "n1 empty after " << absl::FormatDuration(absl::Now() - started)
            << ", " << samples << " samples of the service" << std::endl;
  EXPECT_GE(min_healthy, 2u)
      << "the service dropped below its 2 healthy replicas during the drain";
  EXPECT_TRUE(new_on_n1.empty())
      << "placed on the draining node: " << *new_on_n1.begin();

  // The drain survived the leader kill, unchanged.
  ASSERT_GE(scheds_->AwaitLeader(absl::Seconds(30), killed), 0);
  std::optional<schedpb::NodeView> n1 = Node("n1");
  ASSERT_TRUE(n1.has_value());
  EXPECT_TRUE(n1->draining());
  EXPECT_EQ(n1->drain().deadline_unix_ms(), deadline_before_kill);

  // The CLI followed the drain through the failover to the end.
  std::optional<int> code = (*cli)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.has_value()) << (*cli)->Stdout();
  EXPECT_EQ(*code, 0) << (*cli)->Stderr();
  std::cout << "berth node drain printed:\n"
            << (*cli)->Stdout() << (*cli)->Stderr() << std::flush;
  EXPECT_TRUE(absl::StrContains((*cli)->Stdout(), "left")) << (*cli)->Stdout();
  EXPECT_TRUE(absl::StrContains((*cli)->Stdout(), "node n1 is empty"))
      << (*cli)->Stdout();

  // The service runs its 2 replicas elsewhere; the batch finished on n1
  // (it had time before the deadline) without a failure.
  absl::StatusOr<schedpb::JobStatusResponse> api = scheds_->Status("api");
  ASSERT_TRUE(api.ok()) << api.status();
  std::vector<schedpb::AllocationView> running = RunningAllocs(*api);
  EXPECT_EQ(running.size(), 2u);
  for (const auto& v : running) EXPECT_NE(v.alloc().node(), "n1");
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<schedpb::JobStatusResponse> b = scheds_->Status("crunch");
    return b.ok() && b->record().status().state() == jobpb::JobStatus::COMPLETE;
  })) << "the batch job never completed";
  absl::StatusOr<schedpb::JobStatusResponse> batch = scheds_->Status("crunch");
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->record().status().failed(), 0);
  for (const auto& v : batch->allocations()) {
    if (v.alloc().outcome().state() == jobpb::AllocOutcome::SUCCEEDED) {
      EXPECT_EQ(v.alloc().node(), "n1") << "the batch task did not finish "
                                           "where it ran";
    }
  }

  // Nothing new lands on the drained node.
  ASSERT_EQ(scheds_
                ->Submit(R"(
job: later
kind: service
replicas: 3
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)")
                .exit_code,
            0);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("later");
    return r.ok() && RunningAllocs(*r).size() == 3;
  })) << "the new job never ran";
  absl::StatusOr<schedpb::JobStatusResponse> later = scheds_->Status("later");
  ASSERT_TRUE(later.ok());
  for (const auto& v : later->allocations()) {
    EXPECT_NE(v.alloc().node(), "n1");
  }
  std::optional<schedpb::NodeView> still = Node("n1");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->allocations(), 0);

  // Undrain: the node takes work again.
  RunResult undrain = scheds_->Cli({"node", "undrain", "n1"});
  EXPECT_EQ(undrain.exit_code, 0) << undrain.err;
  EXPECT_TRUE(absl::StrContains(undrain.out, "no longer draining"))
      << undrain.out;
  EXPECT_TRUE(WaitFor([&] {
    std::optional<schedpb::NodeView> v = Node("n1");
    return v && !v->draining();
  }));
  for (const char* job : {"api", "crunch", "later"}) {
    scheds_->Cli({"job", "stop", job, "--purge"});
  }
}

// A batch task still running at the drain deadline is stopped, recorded
// as stopped (not failed: backoff_limit 0 would fail the job), and its
// index runs again on another node. The first attempt would sleep for ten
// minutes; later ones finish at once.
TEST_F(NodeDrainE2ETest, BatchPastTheDeadlineIsStoppedAndRunsElsewhere) {
  StartAgent("n1");
  ASSERT_EQ(scheds_
                ->Submit(R"(
job: slow
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c",
            "case $BERTH_ALLOC_ID in *.1) sleep 600;; *) true;; esac"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)")
                .exit_code,
            0);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("slow");
    return r.ok() && RunningAllocs(*r).size() == 1;
  })) << "the batch task never ran on n1";
  StartAgent("n2");
  RunResult drain = scheds_->Cli({"node", "drain", "n1", "--deadline", "2s"},
                                 absl::Seconds(120));
  EXPECT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_TRUE(absl::StrContains(drain.out, "node n1 is empty")) << drain.out;
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("slow");
    return r.ok() && r->record().status().state() == jobpb::JobStatus::COMPLETE;
  })) << "the batch job never completed";
  absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("slow");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->record().status().failed(), 0);
  bool stopped_on_n1 = false, succeeded_on_n2 = false;
  for (const auto& v : r->allocations()) {
    const jobpb::AllocOutcome& o = v.alloc().outcome();
    if (o.state() == jobpb::AllocOutcome::STOPPED && o.node() == "n1") {
      stopped_on_n1 = true;
      EXPECT_TRUE(absl::StrContains(o.reason(), "drain deadline"))
          << o.reason();
    }
    succeeded_on_n2 |=
        o.state() == jobpb::AllocOutcome::SUCCEEDED && v.alloc().node() == "n2";
  }
  EXPECT_TRUE(stopped_on_n1);
  EXPECT_TRUE(succeeded_on_n2);
  scheds_->Cli({"job", "stop", "slow", "--purge"});
}

}  // namespace
}  // namespace berth::e2e
