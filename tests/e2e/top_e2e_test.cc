// berth top and the waiting `berth job run` end to end (issue #17 items 4
// and 5): a real lockd, two real schedulers and a real process-runtime
// agent that samples usage every second, driven through the berth CLI.
// Every wait is a condition poll with a deadline.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

class TopE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(1));
    const std::string data = absl::StrCat(lockd_->dir(), "/agent-n1");
    std::filesystem::create_directories(data);
    agents_.push_back(std::make_unique<AgentProcess>(
        "n1", lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
        std::vector<std::string>{"--cpu", "2000m", "--memory", "2GiB",
                                 "--usage-interval-s", "1",
                                 "--stop-tasks-on-exit"}));
    ASSERT_TRUE(agents_.back()->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Node("n1").has_value(); }))
        << "n1 never registered";
  }

  // `berth job run FILE` without --detach, as a user types it.
  RunResult RunAndWait(const std::string& job, const std::string& yaml,
                       std::vector<std::string> flags = {}) {
    jobs_.insert(job);
    const std::string path = absl::StrCat(lockd_->dir(), "/", job, ".yaml");
    std::ofstream(path) << yaml;
    std::vector<std::string> args = {"job", "run", path};
    args.insert(args.end(), flags.begin(), flags.end());
    return scheds_->Cli(args, absl::Seconds(120));
  }
};

constexpr char kBusy[] = R"(
job: busy
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.2; done"]
  resources: {cpu: 200m, memory: 64MiB}
  health:
    exec: ["/bin/true"]
    interval: 1s
    timeout: 1s
  kill_timeout: 1s
)";

TEST_F(TopE2ETest, JobRunWaitsUntilRunningAndTopShowsTheTasksMemory) {
  RunResult run = RunAndWait("busy", kBusy);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::cout << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "default/busy: version 1")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "1/1 placed, 1/1 healthy")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "on n1: ")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "running (healthy)")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "==> default/busy: running, 1/1"))
      << run.out;
  // It returned because the job runs, not by chance: the scheduler agrees.
  absl::StatusOr<schedpb::JobStatusResponse> st = scheds_->Status("busy");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(RunningAllocs(*st).size(), 1u) << st->DebugString();
  const std::string id = RunningAllocs(*st)[0].alloc().id();

  // The agent samples every second; wait for a report with memory and a
  // CPU rate (two samples).
  schedpb::ListNodesResponse nodes;
  const schedpb::AllocationView* task = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    RunResult r = scheds_->Cli({"top", "--once", "--output", "json"});
    if (r.exit_code != 0) return false;
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    nodes.Clear();
    if (!google::protobuf::util::JsonStringToMessage(r.out, &nodes, o).ok()) {
      return false;
    }
    for (const auto& n : nodes.nodes()) {
      for (const auto& v : n.allocs()) {
        if (v.alloc().id() == id && v.status().usage().memory_bytes() > 0 &&
            v.status().usage().cpu_millicores() > 0) {
          task = &v;
        }
      }
    }
    return task != nullptr;
  })) << "no usage report with memory and CPU for "
      << id << ": " << nodes.DebugString();
  EXPECT_EQ(task->alloc().node(), "n1");

  RunResult top = scheds_->Cli({"top", "--once"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  std::cout << top.out;
  EXPECT_TRUE(absl::StrContains(top.out, "1 node, 1 task")) << top.out;
  std::string row;
  for (absl::string_view l : absl::StrSplit(top.out, '\n')) {
    if (absl::StartsWith(l, id)) row = std::string(l);
  }
  ASSERT_FALSE(row.empty()) << top.out;
  EXPECT_TRUE(absl::StrContains(row, " busy ")) << row;
  EXPECT_TRUE(absl::StrContains(row, " n1 ")) << row;
  EXPECT_TRUE(absl::StrContains(row, "running")) << row;
  EXPECT_TRUE(absl::StrContains(row, "/64.0MiB")) << row;
  EXPECT_FALSE(absl::StrContains(row, " 0B/")) << row;

  // Not a terminal: -n 2 prints two plain refreshes, no escape codes.
  RunResult twice =
      scheds_->Cli({"top", "-n", "2", "--interval", "100ms", "--sort", "mem"});
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_EQ(
      std::vector<std::string>(absl::StrSplit(twice.out, "berth top ")).size(),
      3u)
      << twice.out;
  EXPECT_TRUE(absl::StrContains(twice.out, "sorted by memory"));
  EXPECT_FALSE(absl::StrContains(twice.out, "\033[")) << twice.out;
}

TEST_F(TopE2ETest, JobRunFailsWithTheUnplacedReason) {
  RunResult run = RunAndWait("huge", R"(
job: huge
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "sleep 1000"]
  resources: {cpu: 10m, memory: 64GiB}
)");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  std::cout << run.out << run.err;
  EXPECT_TRUE(
      absl::StrContains(run.err, "berth job run: default/huge: unplaced: "))
      << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "memory")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, ": unplaced (")) << run.out;
}

TEST_F(TopE2ETest, JobRunWaitsForBatchCompletionAndReportsTaskFailure) {
  RunResult ok = RunAndWait("quick", R"(
job: quick
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c", "exit 0"]
  resources: {cpu: 10m, memory: 8MiB}
)");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(absl::StrContains(ok.out, "==> default/quick: complete"))
      << ok.out;

  RunResult bad = RunAndWait("broken", R"(
job: broken
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c", "exit 3"]
  resources: {cpu: 10m, memory: 8MiB}
)");
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "berth job run: default/broken: "))
      << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "code 3")) << bad.err;

  // --detach returns at once, before anything could run.
  RunResult detached = RunAndWait("huge2", R"(
job: huge2
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "sleep 1000"]
  resources: {cpu: 10m, memory: 64GiB}
)",
                                  {"--detach"});
  EXPECT_EQ(detached.exit_code, 0) << detached.err;
  EXPECT_FALSE(absl::StrContains(detached.out, "==>")) << detached.out;
}

}  // namespace
}  // namespace berth::e2e
