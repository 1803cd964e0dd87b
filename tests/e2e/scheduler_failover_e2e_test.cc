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
#include "tests/e2e/process_cluster_test.h"

namespace berth::e2e {
namespace {

class SchedulerFailoverE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(3));
    ASSERT_NO_FATAL_FAILURE(StartAgent("n1"));
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

  bool AwaitRunning(const std::string& job) {
    return WaitFor(
        [&] {
          absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status(job);
          return r.ok() && RunningAllocs(*r).size() == 1;
        },
        absl::Seconds(60));
  }
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
