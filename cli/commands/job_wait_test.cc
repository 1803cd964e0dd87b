#include "cli/commands/job_wait.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using Verdict = JobProgress::Verdict;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

schedpb::JobStatusResponse Job(jobpb::Kind kind, int64_t version) {
  schedpb::JobStatusResponse r;
  jobpb::JobRecord* rec = r.mutable_record();
  rec->set_version(version);
  rec->set_submit_unix_ms(absl::ToUnixMillis(kT0));
  rec->mutable_job()->set_name("web");
  rec->mutable_job()->set_kind(kind);
  rec->mutable_job()->set_spec_hash("h2");
  if (kind == jobpb::SERVICE) rec->mutable_job()->set_replicas(2);
  if (kind == jobpb::BATCH)
    rec->mutable_job()->mutable_batch()->set_completions(1);
  return r;
}

schedpb::AllocationView* Alloc(schedpb::JobStatusResponse* r,
                               const std::string& id, const std::string& node,
                               const std::string& hash = "h2") {
  schedpb::AllocationView* v = r->add_allocations();
  v->mutable_alloc()->set_id(id);
  v->mutable_alloc()->set_node(node);
  v->mutable_alloc()->set_job_version(hash);
  v->mutable_alloc()->set_desired_state(jobpb::Allocation::RUN);
  return v;
}

void Running(schedpb::AllocationView* v, bool healthy) {
  v->mutable_status()->set_state(agentpb::RUNNING);
  v->mutable_status()->set_healthy(healthy);
}

std::string Text(const std::vector<std::string>& lines) {
  return absl::StrJoin(lines, "\n");
}

TEST(JobProgress, ServiceSettlesWhenEveryReplicaIsHealthy) {
  JobProgress p("default/web", 2);
  std::vector<std::string> lines;
  // A follower that has not seen the submit yet is not judged.
  EXPECT_EQ(p.Observe(Job(jobpb::SERVICE, 1), 0, kT0, &lines),
            Verdict::kWaiting);
  EXPECT_TRUE(lines.empty());

  schedpb::JobStatusResponse r = Job(jobpb::SERVICE, 2);
  Alloc(&r, "web.0", "n1");
  Alloc(&r, "web.1", "n1");
  Alloc(&r, "old.0", "n1", "h1");  // the previous version, not followed
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kWaiting);
  EXPECT_TRUE(absl::StrContains(Text(lines), "alloc web.0 on n1: placed"));
  EXPECT_TRUE(absl::StrContains(Text(lines), "2/2 placed, 0/2 healthy"));
  EXPECT_FALSE(absl::StrContains(Text(lines), "old.0"));

  lines.clear();
  Running(r.mutable_allocations(0), true);
  Running(r.mutable_allocations(1), false);
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kWaiting);
  EXPECT_TRUE(absl::StrContains(
      Text(lines), "alloc web.0 on n1: placed \u2192 running (healthy)"))
      << Text(lines);
  EXPECT_TRUE(absl::StrContains(Text(lines), "1/2 healthy"));

  lines.clear();
  Running(r.mutable_allocations(1), true);
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kDone);
  EXPECT_EQ(p.outcome(), "running, 2/2 healthy");
  // Nothing else changed, so only web.1 and the summary are new.
  EXPECT_EQ(lines.size(), 2u) << Text(lines);
}

TEST(JobProgress, UnplacedFailsAfterTheGraceWithTheExplanation) {
  JobProgress p("default/web", 1, absl::Seconds(2));
  schedpb::JobStatusResponse r = Job(jobpb::SERVICE, 1);
  Alloc(&r, "web.0", "")
      ->mutable_alloc()
      ->set_pending_reason("1 node lacked memory");
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kWaiting);
  EXPECT_TRUE(absl::StrContains(Text(lines),
                                "alloc web.0: unplaced (1 node lacked memory)"))
      << Text(lines);
  EXPECT_EQ(p.Observe(r, 0, kT0 + absl::Seconds(1), &lines), Verdict::kWaiting);
  EXPECT_EQ(p.Observe(r, 0, kT0 + absl::Seconds(2), &lines), Verdict::kFailed);
  EXPECT_EQ(p.outcome(), "unplaced: 1 node lacked memory");
}

TEST(JobProgress, PlacementWithinTheGraceIsNotAFailure) {
  JobProgress p("default/web", 1, absl::Seconds(2));
  schedpb::JobStatusResponse r = Job(jobpb::SERVICE, 1);
  r.mutable_record()->mutable_job()->set_replicas(1);
  schedpb::AllocationView* a = Alloc(&r, "web.0", "");
  a->mutable_alloc()->set_pending_reason("no room yet");
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kWaiting);
  a->mutable_alloc()->set_node("n1");
  a->mutable_alloc()->clear_pending_reason();
  Running(a, true);
  EXPECT_EQ(p.Observe(r, 0, kT0 + absl::Seconds(3), &lines), Verdict::kDone);
}

TEST(JobProgress, ServiceTaskFailureFailsWithItsReason) {
  JobProgress p("default/web", 1);
  schedpb::JobStatusResponse r = Job(jobpb::SERVICE, 1);
  schedpb::AllocationView* a = Alloc(&r, "web.0", "n1");
  a->mutable_status()->set_state(agentpb::FAILED);
  a->mutable_status()->set_reason("exec /nope: No such file or directory");
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kFailed);
  EXPECT_EQ(p.outcome(),
            "alloc web.0 failed: exec /nope: No such file or directory");
}

TEST(JobProgress, BatchWaitsForAStatusWrittenAfterTheSubmit) {
  JobProgress p("default/web", 1);
  schedpb::JobStatusResponse r = Job(jobpb::BATCH, 1);
  // A summary from before this submit (a resubmitted job) is stale.
  r.mutable_record()->mutable_status()->set_state(jobpb::JobStatus::COMPLETE);
  r.mutable_record()->mutable_status()->set_updated_unix_ms(
      absl::ToUnixMillis(kT0) - 1);
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kWaiting);
  r.mutable_record()->mutable_status()->set_updated_unix_ms(
      absl::ToUnixMillis(kT0) + 5);
  r.mutable_record()->mutable_status()->set_succeeded(1);
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kDone);
  EXPECT_EQ(p.outcome(), "complete");
  EXPECT_TRUE(absl::StrContains(Text(lines), "1/1 completed")) << Text(lines);
}

TEST(JobProgress, BatchFailureNamesTheLastTaskFailure) {
  JobProgress p("default/web", 1);
  schedpb::JobStatusResponse r = Job(jobpb::BATCH, 1);
  jobpb::JobStatus* st = r.mutable_record()->mutable_status();
  st->set_state(jobpb::JobStatus::FAILED);
  st->set_explanation("backoff limit 0 reached");
  st->set_updated_unix_ms(absl::ToUnixMillis(kT0) + 5);
  schedpb::AllocationView* a = Alloc(&r, "web.0", "n1");
  a->mutable_alloc()->mutable_outcome()->set_state(jobpb::AllocOutcome::FAILED);
  a->mutable_alloc()->mutable_outcome()->set_exit_code(3);
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kFailed);
  EXPECT_EQ(p.outcome(),
            "backoff limit 0 reached; last task failure: exit code 3");
  EXPECT_TRUE(absl::StrContains(Text(lines), "alloc web.0 on n1: failed"));
}

TEST(JobProgress, CronSettlesOnceScheduledWithTheNextRun) {
  JobProgress p("default/web", 1);
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(Job(jobpb::CRON, 1), 1700000060, kT0, &lines),
            Verdict::kDone);
  EXPECT_EQ(p.outcome(), "scheduled, next run 2023-11-14 22:14:20 UTC");
}

TEST(JobProgress, AStoppedJobFails) {
  JobProgress p("default/web", 1);
  schedpb::JobStatusResponse r = Job(jobpb::SERVICE, 1);
  r.mutable_record()->set_stopped(true);
  std::vector<std::string> lines;
  EXPECT_EQ(p.Observe(r, 0, kT0, &lines), Verdict::kFailed);
  EXPECT_EQ(p.outcome(), "the job was stopped");
}

}  // namespace
}  // namespace berth::cli
