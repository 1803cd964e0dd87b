// Scheduler failover end-to-end (issue #14 item 6): three real berth-lockd
// replicas, two real schedulers with the DEFAULT session TTL and one real
// agent on the process runtime, all on 127.0.0.1, driven through the berth
// CLI. Every wait is a condition poll with a deadline; durations are
// printed, never asserted.
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"

namespace berth::e2e {
namespace {

class SchedulerFailoverE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    lockd_ = std::make_unique<LockdCluster>(3);
    ASSERT_TRUE(lockd_->StartAll().ok());
    ASSERT_NE(lockd_->AwaitLeader(), 0u);
    scheds_ = std::make_unique<SchedulerSet>(lockd_.get(), 2);
    ASSERT_TRUE(scheds_->StartAll().ok());
    std::string data = absl::StrCat(lockd_->dir(), "/agent-n1");
    std::filesystem::create_directories(data);
    agent_ = std::make_unique<AgentProcess>(
        "n1", lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
        std::vector<std::string>{"--cpu", "4000m", "--memory", "4GiB",
                                 "--stop-tasks-on-exit"});
    ASSERT_TRUE(agent_->Start().ok());
    ASSERT_GE(scheds_->AwaitLeader(absl::Seconds(30)), 0);
    ASSERT_TRUE(WaitFor([&] {
      RunResult r = scheds_->Cli({"node", "list", "--output", "json"});
      return r.exit_code == 0 && absl::StrContains(r.out, "\"n1\"");
    })) << "the agent never registered";
  }

  void TearDown() override {
    if (!lockd_) return;
    for (const std::string& job : jobs_) {
      scheds_->Cli({"job", "stop", job, "--purge"});
    }
    if (agent_) agent_->Term();
  }

  static std::string Service(const std::string& name) {
    return absl::StrReplaceAll(R"(
job: NAME
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)",
                               {{"NAME", name}});
  }

  // Submits until a scheduler accepts (the CLI fails while nobody leads).
  bool SubmitUntilAccepted(const std::string& job, const std::string& yaml) {
    jobs_.insert(job);
    return WaitFor([&] { return scheds_->Submit(yaml).exit_code == 0; },
                   absl::Seconds(60));
  }

  bool AwaitRunning(const std::string& job) {
    return WaitFor(
        [&] {
          absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status(job);
          return r.ok() && RunningAllocs(*r).size() == 1;
        },
        absl::Seconds(60));
  }

  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
  std::unique_ptr<AgentProcess> agent_;
  std::set<std::string> jobs_;
};

// A service submitted right after the leader is killed -9 is accepted by
// whichever scheduler leads next, and that leader places it. Three rounds,
// each killing the current leader and restarting it as the standby.
TEST_F(SchedulerFailoverE2ETest, SubmitDuringFailoverIsPlacedByTheNextLeader) {
  ASSERT_TRUE(SubmitUntilAccepted("warm", Service("warm")));
  ASSERT_TRUE(AwaitRunning("warm"));
  for (int round = 0; round < 3; ++round) {
    int leader = scheds_->AwaitLeader(absl::Seconds(30));
    ASSERT_GE(leader, 0);
    const absl::Time killed = absl::Now();
    scheds_->Kill9(leader);
    const std::string job = absl::StrCat("during-", round);
    ASSERT_TRUE(SubmitUntilAccepted(job, Service(job)))
        << "no scheduler accepted the submit after the kill";
    const absl::Time accepted = absl::Now();
    EXPECT_TRUE(AwaitRunning(job))
        << job << " was accepted during the failover but never ran";
    std::cout << "round " << round << ": accepted "
              << absl::FormatDuration(accepted - killed) << " after the kill, "
              << "running after " << absl::FormatDuration(absl::Now() - killed)
              << std::endl;
    ASSERT_TRUE(scheds_->Start(leader).ok());
  }
}

// SIGTERM makes the leader resign: the standby leads and places, and the
// old leader says it resigned.
TEST_F(SchedulerFailoverE2ETest, SigtermResignsAndTheStandbyLeads) {
  int leader = scheds_->AwaitLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const absl::Time termed = absl::Now();
  scheds_->Term(leader);
  int next = scheds_->AwaitLeader(absl::Seconds(30), leader);
  ASSERT_GE(next, 0) << "the standby never took over";
  std::cout << "standby leads " << absl::FormatDuration(absl::Now() - termed)
            << " after SIGTERM to the leader" << std::endl;
  EXPECT_TRUE(absl::StrContains(scheds_->Stderr(leader), "resigned"))
      << scheds_->Stderr(leader);
  ASSERT_TRUE(SubmitUntilAccepted("after-term", Service("after-term")));
  EXPECT_TRUE(AwaitRunning("after-term"));
}

// A cron job every 2 s with the default catch-up (none) loses at most one
// tick per failover: two kills -9 of the leader, then the marker's missed
// count is at most 2.
TEST_F(SchedulerFailoverE2ETest, CronLosesAtMostOneTickPerFailover) {
  jobs_.insert("tick");
  ASSERT_EQ(scheds_
                ->Submit(R"(
job: tick
kind: cron
cron:
  schedule: "*/2 * * * * *"
  concurrency: allow
task:
  command: ["/bin/sh", "-c", "true"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)")
                .exit_code,
            0);
  auto claimed_at_least = [&](int n) {
    return WaitFor(
        [&] {
          absl::StatusOr<schedpb::JobHistoryResponse> h =
              scheds_->History("tick");
          return h.ok() && h->marker().claimed() >= n;
        },
        absl::Seconds(2 * n + 60));
  };
  ASSERT_TRUE(claimed_at_least(3));
  for (int kill = 0; kill < 2; ++kill) {
    int leader = scheds_->AwaitLeader(absl::Seconds(30));
    ASSERT_GE(leader, 0);
    absl::StatusOr<schedpb::JobHistoryResponse> before =
        scheds_->History("tick");
    ASSERT_TRUE(before.ok()) << before.status();
    scheds_->Kill9(leader);
    ASSERT_TRUE(claimed_at_least(before->marker().claimed() + 3))
        << "no runs after the leader was killed";
    ASSERT_TRUE(scheds_->Start(leader).ok());
  }
  absl::StatusOr<schedpb::JobHistoryResponse> h = scheds_->History("tick");
  ASSERT_TRUE(h.ok()) << h.status();
  std::cout << "cron over two failovers: claimed " << h->marker().claimed()
            << ", missed " << h->marker().missed() << std::endl;
  EXPECT_LE(h->marker().missed(), 2);
}

}  // namespace
}  // namespace berth::e2e
