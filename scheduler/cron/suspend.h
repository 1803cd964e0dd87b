// Suspended cron jobs (internal to scheduler/cron).
//
// A cron job is suspended when an operator suspended it (`berth job
// suspend`, JobRecord.suspended) OR its spec says `cron.suspend: true`;
// either one suspends, and it runs again only when neither does.
//
// While suspended, the engine decides each due tick as usual but records it
// as a SKIPPED run with reason "suspended" (no allocation), advances the
// marker past it, and remembers in the marker the first tick of the
// suspension (CronMarker.suspended_from_unix). Ticks are therefore never
// fired late by the normal path: the marker is past them.
//
// On resume, the engine decides catch-up for the ticks skipped since that
// first tick, once, in one fenced transaction that also clears
// suspended_from_unix (conditioned on the marker, so a retry or a second
// leader cannot run them twice):
//   catch_up none:   nothing runs;
//   catch_up latest: the newest suspended tick runs, if inside
//                    starting_deadline (now - tick <= deadline; no deadline
//                    means inside);
//   catch_up all:    every suspended tick inside the deadline runs, oldest
//                    first, at most kMaxResumeRuns; under concurrency
//                    forbid or replace only the newest one does.
// Concurrency still applies: forbid with a run still active runs nothing;
// replace stops the active run. A tick that runs keeps its run record, now
// ACTIVE with its own allocation, and its reason says it was caught up.
//
// Thread safety: pure functions of their arguments.
#ifndef BERTH_SCHEDULER_CRON_SUSPEND_H_
#define BERTH_SCHEDULER_CRON_SUSPEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/job.pb.h"
#include "scheduler/cron/engine_txn.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/store.h"

namespace berth::cron::internal {

inline constexpr char kSuspendedReason[] = "suspended";
// Each caught-up run costs 4 conditions + operations of the 128 allowed.
inline constexpr int kMaxResumeRuns = 16;

bool IsSuspended(const jobpb::JobRecord& rec);

// The marker edit for `tick` skipped because the job is suspended.
void MarkSuspendedSkip(int64_t tick, jobpb::CronMarker* m);

// True when the job is not suspended but its marker still holds a
// suspension whose catch-up has not been decided.
bool ResumePending(const JobView& view);

// The ticks to run on resume, ascending, from the ticks skipped while
// suspended (ascending). `has_active`: a run of the job is still active.
std::vector<int64_t> ChooseResumeTicks(const std::vector<int64_t>& skipped,
                                       const jobpb::CronPolicy& policy,
                                       int64_t now_ms, bool has_active);

struct ResumePlan {
  std::vector<jobpb::CronRun> written;  // records this transaction puts
  int64_t claimed = 0;
  int64_t replaced = 0;
  int64_t finalized = 0;
  int64_t latest_tick = 0;  // the newest tick started (0: none)
};
// Appends the resume decision to `txn`, which must already hold the
// marker condition: finished runs finalized, the chosen ticks' runs made
// ACTIVE with a pending allocation, replaced runs stopped, and the
// marker's suspension cleared.
ResumePlan PlanResume(const sched::ClusterState& state, const JobView& view,
                      int64_t now_ms, const std::string& scheduler_id,
                      sched::StoreTxn* txn);

}  // namespace berth::cron::internal

#endif  // BERTH_SCHEDULER_CRON_SUSPEND_H_
