#include "cli/commands/bench_failover_cron.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/sched_client.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/spec/job_spec.h"
#include "scheduler/state/keys.h"

namespace berth::cli {

absl::StatusOr<CronTickTally> TallyTicks(
    const std::vector<jobpb::CronRun>& runs, int64_t period_s) {
  std::map<int64_t, std::vector<const jobpb::CronRun*>> by_tick;
  for (const jobpb::CronRun& r : runs) {
    if (!r.manual()) by_tick[r.tick_unix()].push_back(&r);
  }
  if (by_tick.empty()) {
    return absl::FailedPreconditionError("the cron job recorded no runs");
  }
  CronTickTally t;
  t.first_tick = by_tick.begin()->first;
  t.last_tick = by_tick.rbegin()->first;
  for (int64_t tick = t.first_tick; tick <= t.last_tick; tick += period_s) {
    ++t.expected;
    auto it = by_tick.find(tick);
    if (it == by_tick.end()) {
      ++t.absent;
      continue;
    }
    if (it->second.size() > 1) ++t.duplicates;
    bool ran = false, missed = false;
    for (const jobpb::CronRun* r : it->second) {
      ran = ran || !r->alloc_id().empty();
      missed = missed || r->result() == jobpb::CronRun::MISSED;
    }
    if (ran) {
      ++t.ran;
    } else if (missed) {
      ++t.missed;
    }
  }
  return t;
}

absl::Status FailoverCron::Submit(absl::Duration timeout) {
  auto jobs = sched::ParseJobSpecs(
      absl::StrCat("job: ", job_,
                   "\nkind: cron\n"
                   "cron:\n  schedule: \"*/2 * * * * *\"\n"
                   "  history: {successful: 1000, failed: 1000}\n"
                   "task:\n  command: [\"/bin/true\"]\n"
                   "  resources: {cpu: 10m, memory: 8MiB}\n"),
      "bench");
  if (!jobs.ok()) return jobs.status();
  schedpb::SubmitJobRequest req;
  *req.mutable_job() = jobs->front();
  schedpb::SubmitJobResponse resp;
  // SchedClient tries each scheduler, follows the leader and waits out an
  // election, up to `timeout`.
  return SchedClient(addrs_, timeout, nullptr)
      .Run([&](schedpb::Scheduler::Stub* stub, grpc::ClientContext* ctx) {
        return stub->SubmitJob(ctx, req, &resp);
      });
}

absl::StatusOr<std::vector<jobpb::CronRun>> FailoverCron::Runs() {
  schedpb::JobHistoryRequest req;
  req.set_namespace_(sched::kDefaultNamespace);
  req.set_job(job_);
  schedpb::JobHistoryResponse resp;
  absl::Status s =
      SchedClient(addrs_, absl::Seconds(5), nullptr)
          .Run([&](schedpb::Scheduler::Stub* stub, grpc::ClientContext* ctx) {
            return stub->JobHistory(ctx, req, &resp);
          });
  if (!s.ok()) return s;
  return std::vector<jobpb::CronRun>(resp.runs().begin(), resp.runs().end());
}

absl::Status FailoverCron::AwaitTickAtOrAfter(int64_t unix_s,
                                              absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::vector<jobpb::CronRun>> runs = Runs();
    if (runs.ok()) {
      for (const jobpb::CronRun& r : *runs) {
        if (r.tick_unix() >= unix_s) return absl::OkStatus();
      }
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("no cron run of a tick at or after ", unix_s, " within ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

void FailoverCron::Remove() {
  schedpb::StopJobRequest stop;
  stop.set_namespace_(sched::kDefaultNamespace);
  stop.set_job(job_);
  stop.set_purge(true);
  schedpb::StopJobResponse resp;
  SchedClient(addrs_, absl::Seconds(5), nullptr)
      .Run([&](schedpb::Scheduler::Stub* stub, grpc::ClientContext* ctx) {
        return stub->StopJob(ctx, stop, &resp);
      })
      .IgnoreError();  // best effort: the bench is ending
}

}  // namespace berth::cli
