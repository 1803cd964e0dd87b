// Reconciler: compares what jobs want with what the cluster has and plans
// the difference. A pure function of the mirror, the set of jobs to
// evaluate and the time: it does no I/O, so the leader can run it after
// every change and tests can drive it with a simulated clock.
//
// Incremental: a pass evaluates only the jobs in its EvalScope (the
// leader takes them from ClusterState's DirtySet) and touches nothing
// else: no phase scans every allocation, and placement starts from the
// mirror's node free-resource index. A pass over an empty scope costs
// O(1). Jobs are evaluated again when something about them changes or at
// the per-job wake-ups the pass returns (Plan::wakes).
//
// One pass over the scope, in order:
//   1. observe  - record outcomes of finished allocations (agent reports,
//                 lost nodes, stops that never reached a node);
//   2. per job  - services keep replicas up and roll updates; batch work
//                 runs completions with parallelism, retries and deadline;
//                 work on draining nodes moves elsewhere (drain.cc);
//                 stopped or deleted jobs are wound down;
//   3. place    - unplaced allocations go to nodes, highest priority first,
//                 evicting lower bands when that is the only way;
//   4. collect  - old finished allocations are forgotten;
//   5. status   - each job's summary and explanation.
//
// Thread safety: Reconcile is a pure function; any thread.
#ifndef BERTH_SCHEDULER_RECONCILE_RECONCILER_H_
#define BERTH_SCHEDULER_RECONCILE_RECONCILER_H_

#include <map>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/placement/placement.h"
#include "scheduler/reconcile/plan.h"
#include "scheduler/state/cluster_state.h"

namespace berth::sched {

struct ReconcileOptions {
  // Replacements created per pass for allocations of lost nodes, so losing
  // many nodes at once does not stampede the survivors.
  int max_lost_replacements_per_pass = 100;
  // Finished allocations kept per service slot (for status and logs).
  int finished_kept_per_slot = 2;
  // A new version that is not healthy this long after it started is a
  // failed update (on top of min_healthy).
  absl::Duration update_progress_deadline = absl::Seconds(30);
  absl::Duration default_backoff = absl::Seconds(1);
  // Placement's candidate pool beyond the allocations requested
  // (PlacementRequest::sample_nodes); 0 scores every feasible node.
  int32_t placement_sample_nodes = kDefaultSampleNodes;
  // The leader evaluates every job this often whatever the dirty set says,
  // and logs any job that needed work it was not told about (a missed
  // dirty mark is a bug; this bounds its cost).
  absl::Duration safety_sweep = absl::Seconds(30);
};

// Evaluates every job (and every orphaned allocation's job).
Plan Reconcile(const ClusterState& state, absl::Time now,
               const ReconcileOptions& options = {});
// Evaluates the jobs in `scope` only.
Plan Reconcile(const ClusterState& state, const EvalScope& scope,
               absl::Time now, const ReconcileOptions& options = {});

// Per-phase entry points (reconcile_*.cc), shared through this header.
namespace reconcile_internal {
// Records outcomes of the job's finished allocations; `lost` counts lost
// replacements across the pass for the rate limit.
void Observe(PlanBuilder& b, const ReconcileOptions& opts, const JobId& id,
             int* lost);
void ReconcileService(PlanBuilder& b, const JobId& id,
                      const jobpb::JobRecord& rec,
                      const ReconcileOptions& opts);
void ReconcileBatch(PlanBuilder& b, const JobId& id,
                    const jobpb::JobRecord& rec);
void WindDown(PlanBuilder& b, const JobId& id, const std::string& reason);
// Drain (drain.cc). Services: each slot whose live allocation is on a
// draining node gets a replacement elsewhere (`replaces` names the old
// one), at most `budget` new moves this pass; the old allocation stops once
// its replacement is healthy, or at the drain deadline. `slots` is BySlot
// of the job's allocations.
void DrainService(
    PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec,
    const std::map<int32_t, std::vector<const jobpb::Allocation*>>& slots,
    int32_t budget, const ReconcileOptions& opts);
// Batch allocations and cron runs on a draining node finish there until the
// drain deadline, then stop (STOPPED, not a failure: batch indexes run
// again elsewhere; a cron run just ends). Left alone under ignore_batch.
void DrainFinite(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec);
void PlacePending(PlanBuilder& b, const std::vector<JobId>& jobs,
                  const ReconcileOptions& opts);
void Collect(PlanBuilder& b, const ReconcileOptions& opts, const JobId& id);
void Summarize(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec);
// A new pending allocation for `slot` of the job.
jobpb::Allocation NewAlloc(const PlanBuilder& b, const jobpb::JobRecord& rec,
                           int32_t slot, int64_t generation, int32_t attempt);
// Healthy: running, the agent says healthy (when there is a check), and
// for at least `min_healthy`.
bool IsHealthy(const PlanBuilder& b, const jobpb::Allocation& a,
               absl::Duration min_healthy);
// When `a` will count as healthy if it keeps running healthily (it runs and
// passes its check but not yet for min_healthy); nullopt otherwise.
std::optional<absl::Time> HealthyAt(const PlanBuilder& b,
                                    const jobpb::Allocation& a,
                                    absl::Duration min_healthy);
}  // namespace reconcile_internal

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_RECONCILER_H_
