// End-to-end tests of berth-scheduler (issue #5 done-when 4 and 5): three
// real berth-lockd replicas, two real schedulers and three real agents on
// the linux runtime, driven through the berth CLI. Every wait is a
// condition poll with a deadline; durations are printed, never asserted.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"

namespace berth::e2e {
namespace {

constexpr int kSessionTtlS = 3;

class SchedulerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the linux runtime needs root";
    lockd_ = std::make_unique<LockdCluster>(3);
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u);
    scheds_ = std::make_unique<SchedulerSet>(
        lockd_.get(), 2,
        std::vector<std::string>{"--session-ttl-s", absl::StrCat(kSessionTtlS),
                                 "--update-progress-deadline-s", "8"});
    ASSERT_TRUE(scheds_->StartAll().ok());
    cgroup_parent_ = absl::StrCat("berth-sched-e2e-", getpid());
    for (const char* name : {"n1", "n2", "n3"}) {
      std::string data = absl::StrCat(lockd_->dir(), "/agent-", name);
      std::filesystem::create_directories(data);
      agents_[name] = std::make_unique<AgentProcess>(
          name, lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "linux",
          std::vector<std::string>{
              "--session-ttl-s", absl::StrCat(kSessionTtlS), "--cpu", "1000m",
              "--memory", "1GiB", "--cgroup-parent", cgroup_parent_,
              "--usage-interval-s", "2", "--stop-tasks-on-exit"});
      ASSERT_TRUE(agents_[name]->Start().ok());
    }
    ASSERT_GE(scheds_->AwaitLeader(absl::Seconds(30)), 0);
    ASSERT_TRUE(WaitFor([&] {
      RunResult r = scheds_->Cli({"node", "list", "--output", "json"});
      return r.exit_code == 0 && CountOf(r.out, "\"runtime\"") == 3;
    })) << "agents never registered";
  }

  void TearDown() override {
    if (!lockd_) return;
    // Restarted agents stop the copies that moved away while they were
    // dead; --stop-tasks-on-exit stops the rest on SIGTERM.
    for (auto& [name, agent] : agents_) {
      if (agent->pid() <= 0) agent->Start().IgnoreError();
    }
    for (const std::string& job : jobs_) {
      scheds_->Cli({"job", "stop", job, "--purge"});
    }
    WaitFor(
        [&] {
          RunResult r = scheds_->Cli({"node", "list", "--output", "json"});
          return r.exit_code == 0 &&
                 r.out.find("\"allocations\": ") == std::string::npos &&
                 CountOf(r.out, "\"allocations\":0") == 0;
        },
        absl::Seconds(20));
    for (auto& [name, agent] : agents_) agent->Term();
    for (const char* root : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct",
                             "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"}) {
      std::error_code ec;
      std::filesystem::path dir = std::filesystem::path(root) / cgroup_parent_;
      for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
        if (child.is_directory()) rmdir(child.path().c_str());
      }
      rmdir(dir.c_str());
    }
  }

  static int CountOf(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t p = s.find(what); p != std::string::npos;
         p = s.find(what, p + 1)) {
      ++n;
    }
    return n;
  }

  void Submit(const std::string& job, const std::string& yaml) {
    jobs_.insert(job);
    RunResult r = scheds_->Submit(yaml);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // Waits until `pred` holds for the job's status; returns the last seen.
  schedpb::JobStatusResponse AwaitJob(
      const std::string& job,
      const std::function<bool(const schedpb::JobStatusResponse&)>& pred,
      absl::Duration timeout = absl::Seconds(60)) {
    schedpb::JobStatusResponse last;
    WaitFor(
        [&] {
          absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status(job);
          if (!r.ok()) return false;
          last = *r;
          return pred(last);
        },
        timeout);
    return last;
  }

  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
  std::set<std::string> jobs_;
  std::string cgroup_parent_;
};

constexpr char kWeb[] = R"(
job: web
kind: service
replicas: 3
placement: spread
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 100m, memory: 32MiB, pids: 16}
  restart: {policy: always, backoff: 1s}
  kill_timeout: 2s
)";

std::set<std::string> NodesOf(const std::vector<schedpb::AllocationView>& v) {
  std::set<std::string> out;
  for (const auto& a : v) out.insert(a.alloc().node());
  return out;
}

TEST_F(SchedulerE2ETest, ServiceSpreadsAndMovesOffAKilledAgent) {
  Submit("web", kWeb);
  schedpb::JobStatusResponse st = AwaitJob(
      "web", [](const auto& r) { return RunningAllocs(r).size() == 3; });
  ASSERT_EQ(RunningAllocs(st).size(), 3u);
  EXPECT_EQ(NodesOf(RunningAllocs(st)),
            (std::set<std::string>{"n1", "n2", "n3"}));

  const absl::Time killed = absl::Now();
  agents_["n2"]->Kill9();
  st = AwaitJob(
      "web",
      [](const auto& r) {
        std::vector<schedpb::AllocationView> run = RunningAllocs(r);
        return run.size() == 3 && NodesOf(run).count("n2") == 0;
      },
      absl::Seconds(kSessionTtlS + 30));
  std::vector<schedpb::AllocationView> run = RunningAllocs(st);
  ASSERT_EQ(run.size(), 3u);
  EXPECT_EQ(NodesOf(run).count("n2"), 0u);
  std::cout << "replica moved off the killed agent after "
            << absl::FormatDuration(absl::Now() - killed) << " (session TTL "
            << kSessionTtlS << "s)" << std::endl;
  bool lost = false;
  for (const auto& v : st.allocations()) {
    lost |= v.alloc().outcome().state() == jobpb::AllocOutcome::LOST;
  }
  EXPECT_TRUE(lost) << "the replica on n2 must be recorded lost";
}

TEST_F(SchedulerE2ETest, BatchWithFailingFirstAttemptsCompletesExactlyTen) {
  // Generation 1 of every completion index fails; the retry succeeds.
  Submit("crunch", R"(
job: crunch
kind: batch
batch: {completions: 10, parallelism: 4, backoff_limit: 12}
task:
  command: ["/bin/sh", "-c", "case \"$BERTH_ALLOC_ID\" in *.1) exit 3;; esac; sleep 0.2; exit 0"]
  resources: {cpu: 100m, memory: 16MiB}
  restart: {policy: on-failure, backoff: 1s}
)");
  schedpb::JobStatusResponse st = AwaitJob(
      "crunch",
      [](const auto& r) {
        return r.record().status().state() == jobpb::JobStatus::COMPLETE ||
               r.record().status().state() == jobpb::JobStatus::FAILED;
      },
      absl::Seconds(120));
  EXPECT_EQ(st.record().status().state(), jobpb::JobStatus::COMPLETE)
      << st.record().status().explanation();
  int succeeded = 0, failed = 0;
  std::set<int> indexes;
  for (const auto& v : st.allocations()) {
    if (v.alloc().outcome().state() == jobpb::AllocOutcome::SUCCEEDED) {
      ++succeeded;
      indexes.insert(v.alloc().task_group_index());
    }
    failed += v.alloc().outcome().state() == jobpb::AllocOutcome::FAILED;
  }
  EXPECT_EQ(succeeded, 10);
  EXPECT_EQ(indexes.size(), 10u);
  EXPECT_EQ(failed, 10) << "each index fails exactly once";
}

TEST_F(SchedulerE2ETest, LeaderKillLeavesServiceUntouchedAndStandbyPlaces) {
  Submit("web", kWeb);
  schedpb::JobStatusResponse before = AwaitJob(
      "web", [](const auto& r) { return RunningAllocs(r).size() == 3; });
  ASSERT_EQ(RunningAllocs(before).size(), 3u);
  std::map<std::string, int64_t> pids;
  for (const auto& v : RunningAllocs(before)) {
    pids[v.alloc().id()] = v.status().pid();
  }
  int leader = scheds_->Leader();
  ASSERT_GE(leader, 0);
  const absl::Time killed = absl::Now();
  scheds_->Kill9(leader);
  int next = scheds_->AwaitLeader(absl::Seconds(kSessionTtlS + 30), leader);
  ASSERT_GE(next, 0) << "the standby never took over";
  std::cout << "standby leads after "
            << absl::FormatDuration(absl::Now() - killed) << std::endl;

  Submit("after", R"(
job: after
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 100m, memory: 16MiB}
  kill_timeout: 2s
)");
  schedpb::JobStatusResponse after = AwaitJob(
      "after", [](const auto& r) { return RunningAllocs(r).size() == 1; });
  EXPECT_EQ(RunningAllocs(after).size(), 1u);

  absl::StatusOr<schedpb::JobStatusResponse> web = scheds_->Status("web");
  ASSERT_TRUE(web.ok()) << web.status();
  std::map<std::string, int64_t> now;
  for (const auto& v : RunningAllocs(*web))
    now[v.alloc().id()] = v.status().pid();
  EXPECT_EQ(now, pids) << "failover must not touch running allocations";
  EXPECT_EQ(web->allocations_size(), before.allocations_size());
}

TEST_F(SchedulerE2ETest, HighPriorityServicePreemptsBatchWhichComesBack) {
  // 6 x 500m fills the three 1000m agents.
  Submit("fill", R"(
job: fill
kind: batch
priority: 20
batch: {completions: 6, parallelism: 6, backoff_limit: 20}
task:
  command: ["/bin/sh", "-c", "sleep 600"]
  resources: {cpu: 500m, memory: 16MiB}
  kill_timeout: 1s
)");
  ASSERT_EQ(RunningAllocs(AwaitJob("fill",
                                   [](const auto& r) {
                                     return RunningAllocs(r).size() == 6;
                                   }))
                .size(),
            6u);
  Submit("vip", R"(
job: vip
kind: service
priority: 80
replicas: 2
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 800m, memory: 16MiB}
  kill_timeout: 1s
)");
  schedpb::JobStatusResponse vip = AwaitJob(
      "vip", [](const auto& r) { return RunningAllocs(r).size() == 2; });
  EXPECT_EQ(RunningAllocs(vip).size(), 2u);
  schedpb::JobStatusResponse fill = AwaitJob("fill", [](const auto& r) {
    int stopped = 0;
    for (const auto& v : r.allocations()) {
      stopped += v.alloc().desired_state() == jobpb::Allocation::EVICT &&
                 v.alloc().outcome().state() == jobpb::AllocOutcome::STOPPED;
    }
    return stopped >= 2;
  });
  int evicted = 0;
  for (const auto& v : fill.allocations()) {
    if (v.alloc().desired_state() != jobpb::Allocation::EVICT) continue;
    ++evicted;
    EXPECT_NE(v.alloc().stop_reason().find("preempted by default/vip"),
              std::string::npos);
  }
  EXPECT_GE(evicted, 2);
  EXPECT_EQ(fill.record().status().failed(), 0) << "evictions are no failures";

  RunResult stop = scheds_->Cli({"job", "stop", "vip"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  fill = AwaitJob("fill",
                  [](const auto& r) { return RunningAllocs(r).size() == 6; });
  EXPECT_EQ(RunningAllocs(fill).size(), 6u)
      << "evicted batch tasks must run again once room frees up";
}

TEST_F(SchedulerE2ETest, UpdateThatNeverBecomesHealthyRollsBack) {
  const std::string v1 = R"(
job: api
kind: service
replicas: 3
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 100m, memory: 16MiB}
  health: {exec: ["/bin/true"], interval: 1s, timeout: 1s}
  kill_timeout: 1s
update: {max_parallel: 1, min_healthy: 1s}
)";
  Submit("api", v1);
  schedpb::JobStatusResponse st = AwaitJob("api", [](const auto& r) {
    return r.record().status().state() == jobpb::JobStatus::RUNNING;
  });
  ASSERT_EQ(st.record().status().state(), jobpb::JobStatus::RUNNING);
  const std::string v1_hash = st.record().job().spec_hash();
  Submit("api", absl::StrReplaceAll(v1, {{"/bin/true", "/bin/false"}}));
  st = AwaitJob(
      "api",
      [](const auto& r) {
        return r.record().rollout().rolling_back() &&
               r.record().status().state() == jobpb::JobStatus::RUNNING;
      },
      absl::Seconds(90));
  EXPECT_TRUE(st.record().rollout().rolling_back());
  EXPECT_EQ(st.record().version(), 3);
  EXPECT_EQ(st.record().job().spec_hash(), v1_hash);
  int v2_allocs = 0;
  for (const auto& v : st.allocations()) {
    v2_allocs += v.alloc().job_version() == st.record().previous().spec_hash();
  }
  EXPECT_EQ(v2_allocs, 1) << "the update must stop after its first step";
  for (const auto& a : LiveAllocs(st)) EXPECT_EQ(a.job_version(), v1_hash);
}

// Issue #6 done-when 3: a cron job every 2 s keeps exactly one run per tick
// while the scheduler leader and then an agent are killed with kill -9.
TEST_F(SchedulerE2ETest, CronEveryTwoSecondsIsExactlyOnceAcrossKills) {
  Submit("tick", R"(
job: tick
kind: cron
cron:
  schedule: "*/2 * * * * *"
  concurrency: forbid
  catch_up: all
  starting_deadline: 30s
  history: {successful: 1000, failed: 1000}
task:
  command: ["/bin/sh", "-c", "echo tick"]
  resources: {cpu: 50m, memory: 16MiB}
  kill_timeout: 1s
)");
  auto runs_at_least = [&](int n) {
    return WaitFor(
        [&] {
          absl::StatusOr<schedpb::JobHistoryResponse> h =
              scheds_->History("tick");
          return h.ok() && h->runs_size() >= n;
        },
        absl::Seconds(2 * n + 60));
  };
  ASSERT_TRUE(runs_at_least(8));
  int leader = scheds_->Leader();
  ASSERT_GE(leader, 0);
  scheds_->Kill9(leader);
  ASSERT_TRUE(runs_at_least(16)) << "no runs after the leader was killed";
  agents_["n3"]->Kill9();
  ASSERT_TRUE(runs_at_least(30));
  RunResult stop = scheds_->Cli({"job", "stop", "tick"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;

  absl::StatusOr<schedpb::JobHistoryResponse> h = scheds_->History("tick");
  ASSERT_TRUE(h.ok()) << h.status();
  std::set<int64_t> ticks;
  std::set<std::string> allocs;
  std::map<jobpb::CronRun::Result, int> results;
  for (const jobpb::CronRun& r : h->runs()) {
    EXPECT_TRUE(ticks.insert(r.tick_unix()).second) << "duplicate tick";
    if (!r.alloc_id().empty()) {
      EXPECT_TRUE(allocs.insert(r.alloc_id()).second) << "duplicate run";
    }
    ++results[r.result()];
  }
  ASSERT_GE(ticks.size(), 30u);
  // Every tick between the first and the last is there, once.
  for (int64_t t = *ticks.begin(); t <= *ticks.rbegin(); t += 2) {
    EXPECT_EQ(ticks.count(t), 1u) << "tick " << t << " is missing";
  }
  EXPECT_EQ(h->marker().missed(), 0);
  std::cout << "cron runs: " << ticks.size() << " ticks, "
            << results[jobpb::CronRun::SUCCEEDED] << " succeeded, "
            << results[jobpb::CronRun::SKIPPED] << " skipped (forbid), "
            << results[jobpb::CronRun::FAILED] << " failed" << std::endl;
}

TEST_F(SchedulerE2ETest, BadInputGetsClearMessagesAndNothingIsDropped) {
  RunResult ns = scheds_->Submit(R"(
job: lost
namespace: nowhere
kind: service
replicas: 1
task: {command: ["/bin/true"], resources: {cpu: 100m, memory: 16MiB}}
)");
  EXPECT_NE(ns.exit_code, 0);
  EXPECT_NE(ns.err.find("namespace \"nowhere\" does not exist"),
            std::string::npos)
      << ns.err;

  jobs_.insert("huge");
  RunResult huge = scheds_->Submit(R"(
job: huge
kind: service
replicas: 1
task: {command: ["/bin/true"], resources: {cpu: 64000m, memory: 16MiB}}
)");
  EXPECT_EQ(huge.exit_code, 0) << huge.err;
  EXPECT_NE(huge.out.find("no node has 64000m cpu"), std::string::npos)
      << huge.out;
  schedpb::JobStatusResponse st = AwaitJob("huge", [](const auto& r) {
    return !r.record().status().explanation().empty();
  });
  EXPECT_EQ(st.record().status().state(), jobpb::JobStatus::PENDING);
  EXPECT_NE(st.record().status().explanation().find("3 nodes"),
            std::string::npos)
      << st.record().status().explanation();

  const std::string file = lockd_->dir() + "/conflict.yaml";
  std::ofstream(file) << kWeb;
  RunResult conflict =
      scheds_->Cli({"job", "run", "--detach", "--expected-version", "7", file});
  EXPECT_NE(conflict.exit_code, 0);
  EXPECT_NE(conflict.err.find("conflicting update"), std::string::npos)
      << conflict.err;
}

}  // namespace
}  // namespace berth::e2e
