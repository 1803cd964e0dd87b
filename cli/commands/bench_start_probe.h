// StartProbe: the clock of `berth bench start`. One lockd prefix watch on
// /berth/ records, for every allocation of the jobs the bench submitted,
// when each milestone of its life became visible:
//
//   placed        the scheduler's /berth/allocs/<node>/<id> put arrived
//   running seen  the agent's first status with a start time arrived
//   exited seen   the agent's terminal status arrived
//
// plus the agent's own timestamps from AllocationStatus (start_unix_ms,
// finish_unix_ms; millisecond resolution). Every time is wall-clock
// (absl::Now) on this host, the same clock the agent stamps with, so the
// bench and the agent must run on one machine for the agent-stamped
// milestones to be meaningful (they always do with --cluster own).
//
// Thread safety: all methods are thread-safe; the watch callback runs on
// the lock client's watch thread. Ownership: borrows the Client, which must
// outlive the probe.
#ifndef BERTH_CLI_COMMANDS_BENCH_START_PROBE_H_
#define BERTH_CLI_COMMANDS_BENCH_START_PROBE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lockservice/client/client.h"
#include "lockservice/client/watch.h"

namespace berth::cli {

// What the probe knows about one allocation.
struct AllocTimes {
  std::string job;
  absl::Time placed_seen = absl::InfinitePast();
  absl::Time running_seen = absl::InfinitePast();
  absl::Time exited_seen = absl::InfinitePast();
  int64_t start_unix_ms = 0;   // agent: the runtime launched it
  int64_t finish_unix_ms = 0;  // agent: it recorded the exit
  bool terminal = false;
  bool succeeded = false;  // EXITED with code 0
  std::string outcome;     // state name and reason, for errors
};

class StartProbe {
 public:
  // Watches /berth/ from the current revision on; only jobs whose names
  // start with `job_prefix` are recorded.
  static absl::StatusOr<std::unique_ptr<StartProbe>> Start(
      lock::Client* client, std::string job_prefix);
  ~StartProbe();

  // Blocks until every job in `want` (job -> tasks) has that many
  // successful terminal allocations or any failed one (the bench's jobs do
  // not retry), or until `deadline`. Returns DEADLINE_EXCEEDED naming how
  // many tasks are missing.
  absl::Status AwaitDone(const std::map<std::string, int64_t>& want,
                         absl::Time deadline);
  // Allocations of `jobs`, keyed by allocation id.
  std::map<std::string, AllocTimes> Snapshot(
      const std::vector<std::string>& jobs) const;
  // The watch's terminal error, OK while it runs.
  absl::Status watch_status() const;

 private:
  explicit StartProbe(std::string job_prefix)
      : job_prefix_(std::move(job_prefix)) {}
  void OnBatch(absl::StatusOr<lock::WatchBatch> batch);
  int64_t TerminalCountLocked(const std::string& job) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string job_prefix_;
  std::unique_ptr<lock::Watch> watch_;
  mutable absl::Mutex mu_;
  std::map<std::string, AllocTimes> allocs_ ABSL_GUARDED_BY(mu_);
  // job -> allocation ids, so AwaitDone need not scan everything.
  std::map<std::string, std::vector<std::string>> by_job_ ABSL_GUARDED_BY(mu_);
  absl::Status watch_status_ ABSL_GUARDED_BY(mu_);
};

// Nearest-rank percentiles of a sample, in milliseconds.
struct Percentiles {
  int64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles ComputePercentiles(std::vector<double> ms);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_START_PROBE_H_
