// The cron side of `berth bench failover --component scheduler`: a job
// firing every 2 seconds with the default catch-up (none) runs through the
// leader kills, and its history afterwards says how many ticks the
// failovers cost (issue #14: at most one per failover) and whether any
// tick ran twice (never).
#ifndef BERTH_CLI_COMMANDS_BENCH_FAILOVER_CRON_H_
#define BERTH_CLI_COMMANDS_BENCH_FAILOVER_CRON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/job.pb.h"

namespace berth::cli {

// What a cron history says about the ticks between its first and last run.
struct CronTickTally {
  int64_t first_tick = 0;  // unix seconds
  int64_t last_tick = 0;
  int expected = 0;    // ticks of the schedule from first to last, inclusive
  int ran = 0;         // ticks with a run that got an allocation
  int missed = 0;      // ticks recorded as MISSED (outside the deadline)
  int absent = 0;      // ticks with no record at all
  int duplicates = 0;  // ticks recorded more than once
  int lost() const { return expected - ran; }
};

// Tallies `runs` of a schedule that fires every `period_s` seconds on
// multiples of it. Fails when there are no runs.
absl::StatusOr<CronTickTally> TallyTicks(
    const std::vector<jobpb::CronRun>& runs, int64_t period_s);

// Submits, watches and removes the every-2-seconds cron job.
class FailoverCron {
 public:
  FailoverCron(std::vector<std::string> sched_addrs, std::string job)
      : addrs_(std::move(sched_addrs)), job_(std::move(job)) {}

  // Submits the job to the leading scheduler, retrying through an
  // election until `timeout`.
  absl::Status Submit(absl::Duration timeout);
  // The job's runs, oldest first.
  absl::StatusOr<std::vector<jobpb::CronRun>> Runs();
  // Waits until a run of a tick at or after `unix_s` is recorded.
  absl::Status AwaitTickAtOrAfter(int64_t unix_s, absl::Duration timeout);
  // Stops and purges the job (best effort: the bench is ending).
  void Remove();

  static constexpr int64_t kPeriodS = 2;

 private:
  std::vector<std::string> addrs_;
  std::string job_;
};

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_FAILOVER_CRON_H_
