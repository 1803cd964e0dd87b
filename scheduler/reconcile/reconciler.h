// Reconciler: compares what every job wants with what the cluster has and
// plans the difference. A pure function of the mirror and the time: it
// does no I/O, so the leader can run it after every change and tests can
// drive it with a simulated clock.
//
// One pass, in order:
//   1. observe  - record outcomes of finished allocations (agent reports,
//                 lost nodes, stops that never reached a node);
//   2. per job  - services keep replicas up and roll updates; batch work
//                 runs completions with parallelism, retries and deadline;
//                 stopped or deleted jobs are wound down;
//   3. place    - unplaced allocations go to nodes, highest priority first,
//                 evicting lower bands when that is the only way;
//   4. collect  - old finished allocations are forgotten;
//   5. status   - each job's summary and explanation.
//
// Thread safety: Reconcile is a pure function; any thread.
#ifndef BERTH_SCHEDULER_RECONCILE_RECONCILER_H_
#define BERTH_SCHEDULER_RECONCILE_RECONCILER_H_

#include "absl/time/time.h"
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
};

Plan Reconcile(const ClusterState& state, absl::Time now,
               const ReconcileOptions& options = {});

// Per-phase entry points (reconcile_*.cc), shared through this header.
namespace reconcile_internal {
void Observe(PlanBuilder& b, const ReconcileOptions& opts);
void ReconcileService(PlanBuilder& b, const JobId& id,
                      const jobpb::JobRecord& rec,
                      const ReconcileOptions& opts);
void ReconcileBatch(PlanBuilder& b, const JobId& id,
                    const jobpb::JobRecord& rec);
void WindDown(PlanBuilder& b, const JobId& id, const std::string& reason);
void PlacePending(PlanBuilder& b);
void Collect(PlanBuilder& b, const ReconcileOptions& opts);
void Summarize(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec);
// A new pending allocation for `slot` of the job.
jobpb::Allocation NewAlloc(const PlanBuilder& b, const jobpb::JobRecord& rec,
                           int32_t slot, int64_t generation, int32_t attempt);
// Healthy: running, the agent says healthy (when there is a check), and
// for at least `min_healthy`.
bool IsHealthy(const PlanBuilder& b, const jobpb::Allocation& a,
               absl::Duration min_healthy);
}  // namespace reconcile_internal

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_RECONCILER_H_
