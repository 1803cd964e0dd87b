// JobProgress: what `berth job run` prints while it waits for a submitted
// job to settle, and when it stops waiting. It is fed one JobStatus answer
// per poll and decides from it alone (plus the poll's time), so tests feed
// it made-up answers; the polling loop lives in job.cc.
//
// Settled means:
//   service: as many allocations of the submitted version running and
//            healthy as the job has replicas;
//   batch:   the job is complete (or failed: backoff limit, deadline);
//   cron:    scheduled (the next run time is printed).
// It fails when an allocation of the submitted version stays unplaced for
// `unplaced_grace` (the scheduler's explanation is the reason), when a
// service task fails, when a rolling update rolls back, or when the job is
// stopped meanwhile.
//
// Thread safety: none; one per job.
#ifndef BERTH_CLI_COMMANDS_JOB_WAIT_H_
#define BERTH_CLI_COMMANDS_JOB_WAIT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/scheduler.pb.h"

namespace berth::cli {

class JobProgress {
 public:
  enum class Verdict { kWaiting, kDone, kFailed };

  // `version`: what SubmitJob answered; older records are a lagging
  // mirror and are not judged.
  JobProgress(std::string name, int64_t version,
              absl::Duration unplaced_grace = absl::Seconds(2))
      : name_(std::move(name)),
        version_(version),
        unplaced_grace_(unplaced_grace) {}

  // One poll. `next_run_unix` is the job's next cron tick (0: none or not
  // cron). Appends what changed since the last poll to `lines`.
  Verdict Observe(const schedpb::JobStatusResponse& status,
                  int64_t next_run_unix, absl::Time now,
                  std::vector<std::string>* lines);

  // Why it failed, or how it settled ("running", "complete", ...).
  const std::string& outcome() const { return outcome_; }

 private:
  Verdict Settle(Verdict v, std::string outcome);

  const std::string name_;
  const int64_t version_;
  const absl::Duration unplaced_grace_;
  std::map<std::string, std::string> alloc_state_;  // id -> last printed
  std::map<std::string, absl::Time> unplaced_since_;
  std::string summary_;  // last printed summary line
  std::string outcome_;
};

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_JOB_WAIT_H_
