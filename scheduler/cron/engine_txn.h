// Transaction builders of the cron engine (internal to scheduler/cron).
//
// Each function reads the mirror and appends conditions and operations to
// a StoreTxn; the engine decides which to combine and commits. Every write
// to an existing record is conditioned on the mod revision it was read at,
// so a transaction built from a stale mirror fails instead of overwriting.
//
// Thread safety: pure functions of their arguments.
#ifndef BERTH_SCHEDULER_CRON_ENGINE_TXN_H_
#define BERTH_SCHEDULER_CRON_ENGINE_TXN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "proto/job.pb.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/store.h"

namespace berth::cron::internal {

using RunMap = std::map<int64_t, sched::Versioned<jobpb::CronRun>>;

// What the engine reads of one job.
struct JobView {
  sched::JobId id;
  const jobpb::JobRecord* record = nullptr;                     // null: deleted
  const sched::Versioned<jobpb::CronMarker>* marker = nullptr;  // null: none
  const RunMap* runs = nullptr;                                 // null: none
};
// A cron job the engine keeps a timer for. Suspended jobs keep theirs:
// their ticks are recorded as skipped.
bool IsLiveCron(const jobpb::JobRecord* rec);

// Whether any of the job's runs is recorded ACTIVE (finished or not).
bool HasActiveRun(const JobView& view);

JobView ViewOf(const sched::ClusterState& state, const sched::JobId& id);

// The marker's last tick, or for a job never scheduled its submit time
// (ticks strictly after it fire).
int64_t MarkerTick(const JobView& view);

// How a run ended, once its allocation has finished for good.
struct RunEnd {
  jobpb::CronRun::Result result = jobpb::CronRun::FAILED;
  std::string reason;
  std::string node;
  int64_t start_unix_ms = 0;
  int64_t finish_unix_ms = 0;
  int32_t exit_code = 0;
  int32_t attempts = 0;
};
// nullopt while the run's allocation may still run (or be retried).
std::optional<RunEnd> FinishedRun(const sched::ClusterState& state,
                                  const jobpb::CronRun& run,
                                  const jobpb::JobRecord* record,
                                  int64_t now_ms);

// ACTIVE runs whose allocation has not finished.
std::vector<const sched::Versioned<jobpb::CronRun>*> ActiveRuns(
    const sched::ClusterState& state, const JobView& view, int64_t now_ms);

// Condition: the marker is as read (or still absent).
void AddMarkerCond(const JobView& view, sched::StoreTxn* txn);
// Puts the marker advanced to `tick` (unchanged when `advance` is false)
// with the counters incremented, then `edit` applied (if any).
void PutMarker(const JobView& view, bool advance, int64_t tick, int64_t claimed,
               int64_t skipped, int64_t missed, sched::StoreTxn* txn,
               const std::function<void(jobpb::CronMarker*)>& edit = nullptr);

struct NewRun {
  int64_t tick = 0;
  bool manual = false;
  int64_t now_ms = 0;
  std::string scheduler_id;
  jobpb::CronRun::Result result = jobpb::CronRun::ACTIVE;
  std::string reason;
};
// Creates the run record (condition: absent); for ACTIVE also the pending
// allocation (condition: absent). Returns the record written.
jobpb::CronRun PutNewRun(const JobView& view, const NewRun& run,
                         sched::StoreTxn* txn);
// Creates the pending allocation of `tick` (condition: absent); returns
// its id.
std::string PutPendingAlloc(const JobView& view, int64_t tick, int64_t now_ms,
                            sched::StoreTxn* txn);

// Replace: stops the allocation of `active` and marks it REPLACED.
void StopReplaced(const sched::ClusterState& state,
                  const sched::Versioned<jobpb::CronRun>& active,
                  int64_t new_tick, int64_t now_ms, sched::StoreTxn* txn);

// Writes the end of `run`.
jobpb::CronRun PutFinished(const sched::Versioned<jobpb::CronRun>& run,
                           const RunEnd& end, int64_t now_ms,
                           sched::StoreTxn* txn);

// lockd's (and MemStore's) limit on conditions + operations per txn.
inline constexpr int kTxnLimit = 128;
// Runs finalized per transaction; the rest follow in the next ones. Leaves
// room for a claim, a replace and some history trimming.
inline constexpr int kMaxFinalizedPerTxn = 24;

// Writes the end of every ACTIVE run of the job whose allocation has
// finished (at most kMaxFinalizedPerTxn); returns the records written. A
// claim includes these, so the job never shows a finished run as active
// next to a new one.
std::vector<jobpb::CronRun> FinalizeFinished(const sched::ClusterState& state,
                                             const JobView& view,
                                             int64_t now_ms,
                                             sched::StoreTxn* txn);

// Sets the allocation of `run` desired STOP because it ran too long.
bool StopTimedOut(const sched::ClusterState& state, const jobpb::CronRun& run,
                  int64_t timeout_ms, sched::StoreTxn* txn);

// History limits: deletes the oldest finished runs (and their finished
// allocations) beyond the job's limits, counting `written` (records this
// transaction puts). At most `max_deletes`; returns how many.
int AppendTrim(const sched::ClusterState& state, const JobView& view,
               const std::vector<jobpb::CronRun>& written, int max_deletes,
               sched::StoreTxn* txn);

}  // namespace berth::cron::internal

#endif  // BERTH_SCHEDULER_CRON_ENGINE_TXN_H_
