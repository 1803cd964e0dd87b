// Scheduler: its Prometheus metrics (docs/metrics.md).
#include "scheduler/server/scheduler.h"

namespace berth::sched {

void Scheduler::RegisterMetrics(metrics::Registry* r) {
  r->AddGaugeFn("berth_scheduler_is_leader",
                "1 if this scheduler holds the leader election, else 0.",
                [this] { return is_leader() ? 1 : 0; });
  r->AddCounterFn("berth_scheduler_passes_total",
                  "Leader passes (reconcile and cron) this process has run.",
                  [this] { return double(passes_.load()); });
  pass_duration_ =
      r->AddHistogram("berth_scheduler_pass_duration_seconds",
                      "One leader pass: cron step, reconcile and the commit "
                      "of its plan to lockd.",
                      metrics::LatencyBuckets())
          ->Get();
  cron_lag_ = r->AddHistogram("berth_scheduler_cron_lag_seconds",
                              "From a cron tick's scheduled time to the "
                              "commit of its claim (the run's creation).",
                              metrics::LatencyBuckets())
                  ->Get();
  r->AddGaugeFn("berth_scheduler_allocations_pending",
                "Allocations that want to run but are not placed on a "
                "node, in this process's mirror.",
                [this] { return double(CountAllocs().pending); });
  r->AddGaugeFn("berth_scheduler_allocations_placed",
                "Allocations placed on a node that should run (desired "
                "RUN, no final outcome), in this process's mirror.",
                [this] { return double(CountAllocs().placed); });
}

Scheduler::AllocCounts Scheduler::CountAllocs() const {
  AllocCounts c;
  absl::MutexLock l(&mu_);
  for (const auto& [job, n] : state_.pending_jobs()) c.pending += n;
  // One pass over the mirror per scrape: cheap next to a leader pass,
  // which reads the same map.
  for (const auto& [id, a] : state_.allocs()) {
    const jobpb::Allocation& alloc = a.value;
    if (!alloc.node().empty() &&
        alloc.desired_state() == jobpb::Allocation::RUN &&
        alloc.outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED) {
      ++c.placed;
    }
  }
  return c;
}

}  // namespace berth::sched
