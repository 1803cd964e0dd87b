// berth job suspend|resume end to end (issue #19 item 2): three real
// berth-lockd replicas, two real schedulers and one real agent on the
// process runtime, driven through the berth CLI. Every wait is a condition
// poll with a deadline; durations are printed, never asserted.
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"

namespace berth::e2e {
namespace {

class JobSuspendE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(3));
    ASSERT_NO_FATAL_FAILURE(StartAgent("n1"));
  }

  void Submit(const std::string& job, const std::string& yaml) {
    ASSERT_TRUE(SubmitUntilAccepted(job, yaml))
        << "no scheduler accepted " << job;
  }

  // `berth job list` row of `job` (table output), "" if absent.
  std::string ListRow(const std::string& job) {
    RunResult r = scheds_->Cli({"job", "list"});
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      std::vector<absl::string_view> cols =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (cols.size() > 1 && cols[1] == job) return std::string(line);
    }
    return "";
  }
};

bool IsSuspendedSkip(const jobpb::CronRun& r) {
  return r.result() == jobpb::CronRun::SKIPPED && r.reason() == "suspended";
}

// Issue #19 done-when: a "*/2 * * * * *" cron job runs, is suspended (no
// run while suspended, the history shows the skips with reason
// "suspended", the suspension survives a scheduler leader kill), and runs
// again after resume.
TEST_F(JobSuspendE2ETest, CronEveryTwoSecondsSkipsWhileSuspendedAndResumes) {
  Submit("tick", R"(
job: tick
kind: cron
cron:
  schedule: "*/2 * * * * *"
  concurrency: forbid
  catch_up: none
  history: {successful: 1000, failed: 1000}
task:
  command: ["/bin/sh", "-c", "echo tick"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)");
  auto history = [&]() { return scheds_->History("tick"); };
  auto count = [&](const std::function<bool(const jobpb::CronRun&)>& pred) {
    absl::StatusOr<schedpb::JobHistoryResponse> h = history();
    int n = 0;
    if (!h.ok()) return -1;
    for (const jobpb::CronRun& r : h->runs()) n += pred(r) ? 1 : 0;
    return n;
  };
  auto ran = [](const jobpb::CronRun& r) {
    return !r.manual() && !r.alloc_id().empty();
  };
  ASSERT_TRUE(WaitFor([&] { return count(ran) >= 2; }, absl::Seconds(60)))
      << "the cron job never ran";

  RunResult s = scheds_->Cli({"job", "suspend", "tick"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_TRUE(absl::StrContains(s.out, "default/tick: suspended")) << s.out;
  RunResult again = scheds_->Cli({"job", "suspend", "tick"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(absl::StrContains(again.out, "already suspended")) << again.out;
  EXPECT_TRUE(absl::StrContains(ListRow("tick"), "suspended"))
      << ListRow("tick");

  ASSERT_TRUE(
      WaitFor([&] { return count(IsSuspendedSkip) >= 3; }, absl::Seconds(30)))
      << "no tick was recorded as skipped (suspended)";
  // The suspension lives in lockd: the next leader keeps skipping.
  int leader = scheds_->Leader();
  ASSERT_GE(leader, 0);
  const std::string next_id = leader == 0 ? "s2" : "s1";
  scheds_->Kill9(leader);
  ASSERT_TRUE(WaitFor(
      [&] {
        return count([&](const jobpb::CronRun& r) {
                 return IsSuspendedSkip(r) && r.claimed_by() == next_id;
               }) >= 2;
      },
      absl::Seconds(60)))
      << "the new leader did not keep the job suspended";
  EXPECT_TRUE(absl::StrContains(ListRow("tick"), "suspended"));

  RunResult r = scheds_->Cli({"job", "resume", "tick"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "resumed")) << r.out;
  absl::StatusOr<schedpb::JobHistoryResponse> at_resume = history();
  ASSERT_TRUE(at_resume.ok());
  int64_t last_skip = 0;
  for (const jobpb::CronRun& run : at_resume->runs()) {
    if (IsSuspendedSkip(run)) last_skip = std::max(last_skip, run.tick_unix());
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return count([&](const jobpb::CronRun& run) {
                 return ran(run) && run.tick_unix() > last_skip &&
                        run.result() == jobpb::CronRun::SUCCEEDED;
               }) >= 2;
      },
      absl::Seconds(60)))
      << "no run after resume";
  RunResult stop = scheds_->Cli({"job", "stop", "tick"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;

  absl::StatusOr<schedpb::JobHistoryResponse> h = history();
  ASSERT_TRUE(h.ok()) << h.status();
  int64_t first_skip = 0;
  int skips = 0;
  for (const jobpb::CronRun& run : h->runs()) {
    if (!IsSuspendedSkip(run)) continue;
    if (first_skip == 0) first_skip = run.tick_unix();
    ++skips;
    EXPECT_TRUE(run.alloc_id().empty());
  }
  ASSERT_GT(first_skip, 0);
  // Nothing ran while suspended: every scheduled tick in the suspension
  // is a skip, and no allocation exists for one (catch_up none).
  for (const jobpb::CronRun& run : h->runs()) {
    if (run.manual() || run.tick_unix() < first_skip ||
        run.tick_unix() > last_skip) {
      continue;
    }
    EXPECT_TRUE(IsSuspendedSkip(run))
        << "tick " << run.tick_unix() << " is "
        << jobpb::CronRun::Result_Name(run.result()) << " while suspended";
  }
  EXPECT_EQ(h->marker().suspended_skips(), skips);
  EXPECT_EQ(h->marker().suspended_from_unix(), 0);
  RunResult text = scheds_->Cli({"job", "history", "tick"});
  EXPECT_TRUE(absl::StrContains(text.out, "suspended")) << text.out;
  std::cout << "cron: " << skips << " ticks skipped while suspended, last "
            << last_skip << std::endl;
}

// catch_up latest with a starting deadline: on resume the newest tick
// skipped while suspended runs once; the older skips stay skipped.
TEST_F(JobSuspendE2ETest, CronCatchUpLatestRunsTheNewestSkipOnResume) {
  Submit("late", R"(
job: late
kind: cron
cron:
  schedule: "*/2 * * * * *"
  concurrency: forbid
  catch_up: latest
  starting_deadline: 20s
  history: {successful: 1000, failed: 1000}
task:
  command: ["/bin/sh", "-c", "echo late"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)");
  RunResult s = scheds_->Cli({"job", "suspend", "late"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  auto runs = [&]() {
    absl::StatusOr<schedpb::JobHistoryResponse> h = scheds_->History("late");
    return h.ok()
               ? std::vector<jobpb::CronRun>(h->runs().begin(), h->runs().end())
               : std::vector<jobpb::CronRun>{};
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        int n = 0;
        for (const auto& r : runs()) n += IsSuspendedSkip(r) ? 1 : 0;
        return n >= 3;
      },
      absl::Seconds(30)));
  RunResult r = scheds_->Cli({"job", "resume", "late"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto caught_up = [](const jobpb::CronRun& run) {
    return absl::StrContains(run.reason(), "run on resume");
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& run : runs()) {
          if (caught_up(run) && run.result() == jobpb::CronRun::SUCCEEDED) {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(60)))
      << "the newest suspended tick was not run on resume";
  std::vector<jobpb::CronRun> h = runs();
  int64_t caught_tick = 0;
  int caught = 0, skipped = 0;
  for (const auto& run : h) {
    if (caught_up(run)) {
      ++caught;
      caught_tick = run.tick_unix();
      EXPECT_FALSE(run.alloc_id().empty());
    }
  }
  EXPECT_EQ(caught, 1) << "catch_up latest runs one suspended tick";
  for (const auto& run : h) {
    if (!IsSuspendedSkip(run)) continue;
    ++skipped;
    EXPECT_LT(run.tick_unix(), caught_tick)
        << "the caught-up tick must be the newest of the suspension";
    EXPECT_TRUE(run.alloc_id().empty());
  }
  EXPECT_GE(skipped, 2);
  std::cout << "caught up tick " << caught_tick << "; " << skipped
            << " older suspended ticks stayed skipped" << std::endl;
}

TEST_F(JobSuspendE2ETest, ServiceStopsOnSuspendAndIsPlacedAgainOnResume) {
  Submit("web", R"(
job: web
kind: service
replicas: 2
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)");
  auto status = [&]() { return scheds_->Status("web"); };
  schedpb::JobStatusResponse st;
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<schedpb::JobStatusResponse> r = status();
        if (r.ok()) st = *r;
        return r.ok() && RunningAllocs(*r).size() == 2;
      },
      absl::Seconds(60)))
      << "the service never ran";
  std::set<std::string> before;
  for (const auto& v : RunningAllocs(st)) before.insert(v.alloc().id());
  const int64_t version = st.record().version();

  const absl::Time suspended_at = absl::Now();
  RunResult s = scheds_->Cli({"job", "suspend", "web"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_TRUE(absl::StrContains(s.out, "suspended")) << s.out;
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<schedpb::JobStatusResponse> r = status();
        if (!r.ok()) return false;
        st = *r;
        if (!LiveAllocs(st).empty()) return false;
        if (st.record().status().state() != jobpb::JobStatus::SUSPENDED) {
          return false;
        }
        for (const auto& v : st.allocations()) {
          if (before.count(v.alloc().id()) &&
              v.alloc().outcome().state() != jobpb::AllocOutcome::STOPPED) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(60)))
      << "the allocations were not stopped: " << st.DebugString();
  std::cout << "service stopped "
            << absl::FormatDuration(absl::Now() - suspended_at)
            << " after suspend" << std::endl;
  EXPECT_EQ(st.record().version(), version) << "suspend keeps the version";
  EXPECT_TRUE(st.record().suspended());
  EXPECT_TRUE(absl::StrContains(ListRow("web"), "suspended")) << ListRow("web");
  RunResult text = scheds_->Cli({"job", "status", "web"});
  EXPECT_TRUE(absl::StrContains(text.out, "(suspended)")) << text.out;
  RunResult again = scheds_->Cli({"job", "suspend", "web"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(absl::StrContains(again.out, "already suspended"));

  RunResult r = scheds_->Cli({"job", "resume", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "resumed")) << r.out;
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<schedpb::JobStatusResponse> q = status();
        if (!q.ok()) return false;
        st = *q;
        std::vector<schedpb::AllocationView> run = RunningAllocs(st);
        if (run.size() != 2) return false;
        for (const auto& v : run) {
          if (before.count(v.alloc().id())) return false;
        }
        return st.record().status().state() == jobpb::JobStatus::RUNNING;
      },
      absl::Seconds(60)))
      << "the service was not placed again: " << st.DebugString();
  EXPECT_EQ(st.record().version(), version);
  EXPECT_FALSE(st.record().suspended());
  RunResult resumed_again = scheds_->Cli({"job", "resume", "web"});
  ASSERT_EQ(resumed_again.exit_code, 0) << resumed_again.err;
  EXPECT_TRUE(absl::StrContains(resumed_again.out, "not suspended"));
}

TEST_F(JobSuspendE2ETest, UnknownOrStoppedJobsGetClearErrors) {
  RunResult r = scheds_->Cli({"job", "suspend", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "default/nope does not exist")) << r.err;
  r = scheds_->Cli({"job", "resume", "nope", "-n", "other"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "other/nope does not exist")) << r.err;
  r = scheds_->Cli({"job", "suspend"});
  EXPECT_EQ(r.exit_code, 2) << "a missing JOB is a usage error";

  Submit("gone", R"(
job: gone
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "while true; do sleep 1; done"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)");
  ASSERT_EQ(scheds_->Cli({"job", "stop", "gone"}).exit_code, 0);
  r = scheds_->Cli({"job", "suspend", "gone"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "default/gone is stopped")) << r.err;
}

}  // namespace
}  // namespace berth::e2e
