// Moving work off draining nodes (`berth node drain`).
//
// Services move like a rolling update, start before stop: the replacement
// is created for the same slot (placement never picks a draining node),
// and the allocation on the draining node is stopped only once the
// replacement is healthy, so a slot never goes dark and the service never
// drops below its replica count while capacity exists elsewhere. Moves in
// flight count against update.max_parallel together with rollout slots.
//
// Batch allocations and cron runs finish where they are; at the drain
// deadline they are stopped. A stop is recorded STOPPED, which is neither
// a failure nor a restart attempt, so backoff_limit and restart.attempts
// are untouched; the batch reconciler simply runs the index again.
//
// At the deadline services stop too, healthy replacement or not: a drain
// with a deadline always ends with the node empty.
#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/slots.h"

namespace berth::sched::reconcile_internal {
namespace {

bool DeadlinePassed(const PlanBuilder& b, const jobpb::NodeDrain& d) {
  return d.deadline_unix_ms() > 0 && b.now_ms() >= d.deadline_unix_ms();
}

void WakeAtDeadline(PlanBuilder& b, const JobId& id,
                    const jobpb::NodeDrain& d) {
  if (d.deadline_unix_ms() > 0) {
    b.WakeAt(id, absl::FromUnixMillis(d.deadline_unix_ms()));
  }
}

void StopForDrain(PlanBuilder& b, const JobId& id, const jobpb::Allocation& a,
                  const std::string& reason) {
  jobpb::Allocation* m = b.Mutable(a.id());
  if (m == nullptr) return;  // created in this pass
  m->set_desired_state(jobpb::Allocation::STOP);
  m->set_stop_reason(reason);
  b.Log(absl::StrCat("stop ", a.id(), ": ", reason));
  b.Event(id, "drain", absl::StrCat("stopped ", a.id(), ": ", reason), a.id());
}

// A move in flight: stop `source` once `next` is healthy.
void FinishMove(PlanBuilder& b, const JobId& id, const jobpb::Allocation& next,
                const jobpb::Allocation& source, absl::Duration min_healthy) {
  const jobpb::NodeDrain* d = b.state().FindDrain(source.node());
  if (IsHealthy(b, next, min_healthy)) {
    StopForDrain(b, id, source,
                 absl::StrCat("node ", source.node(), " is draining; ",
                              next.id(), " runs on ", next.node()));
    return;
  }
  if (d != nullptr && DeadlinePassed(b, *d)) {
    StopForDrain(
        b, id, source,
        absl::StrCat("node ", source.node(), " drain deadline passed before ",
                     next.id(), " was healthy"));
    return;
  }
  if (auto at = HealthyAt(b, next, min_healthy)) b.WakeAt(id, *at);
  if (d != nullptr) WakeAtDeadline(b, id, *d);
}

}  // namespace

void DrainService(
    PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec,
    const std::map<int32_t, std::vector<const jobpb::Allocation*>>& slots,
    int32_t budget, const ReconcileOptions& opts) {
  const jobpb::Job& job = rec.job();
  const absl::Duration min_healthy =
      absl::Milliseconds(job.update().min_healthy_ms());
  const int64_t backoff_ms =
      job.task().restart().backoff_ms() > 0
          ? job.task().restart().backoff_ms()
          : absl::ToInt64Milliseconds(opts.default_backoff);
  for (const auto& [slot, list] : slots) {
    if (slot >= job.replicas() || list.empty()) continue;
    const jobpb::Allocation* live = nullptr;
    const jobpb::Allocation* source = nullptr;
    for (const jobpb::Allocation* a : list) {  // newest first
      if (!IsLive(*a) || !WantsRun(*a)) continue;
      if (live == nullptr) {
        live = a;
      } else if (live->replaces() == a->id()) {
        source = a;
      }
    }
    if (live == nullptr) continue;
    if (source != nullptr) {
      FinishMove(b, id, *live, *source, min_healthy);
      continue;
    }
    if (live->node().empty()) continue;
    const jobpb::NodeDrain* d = b.state().FindDrain(live->node());
    if (d == nullptr) continue;
    if (DeadlinePassed(b, *d)) {
      StopForDrain(b, id, *live,
                   absl::StrCat("node ", live->node(),
                                " drain deadline passed; the replica starts "
                                "elsewhere"));
      continue;
    }
    WakeAtDeadline(b, id, *d);
    if (budget <= 0) {
      b.Log(absl::StrCat("drain: ", live->id(), " waits for max_parallel"));
      continue;
    }
    --budget;
    // A replacement that failed waits out the restart backoff before the
    // next try; the failure does not count against restart.attempts.
    const jobpb::Allocation* newest = list.front();
    jobpb::Allocation next =
        NewAlloc(b, rec, slot, Generation(*newest) + 1, live->attempt());
    next.set_replaces(live->id());
    if (newest != live && newest->replaces() == live->id() &&
        newest->outcome().state() == jobpb::AllocOutcome::FAILED) {
      int64_t nb = newest->outcome().finish_unix_ms() + backoff_ms;
      if (nb > b.now_ms()) {
        next.set_not_before_unix_ms(nb);
        b.WakeAt(id, absl::FromUnixMillis(nb));
      }
    }
    b.Log(absl::StrCat("drain: move ", live->id(), " -> ", next.id()));
    b.Event(id, "drain",
            absl::StrCat("moving ", live->id(), " off draining node ",
                         live->node(), " (replacement ", next.id(), ")"),
            live->id());
    b.Create(std::move(next));
  }
}

void DrainFinite(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec) {
  const bool batch = rec.job().kind() == jobpb::BATCH;
  for (const jobpb::Allocation* a : b.AllocsOf(id)) {
    if (!IsLive(*a) || !WantsRun(*a) || a->node().empty()) continue;
    const jobpb::NodeDrain* d = b.state().FindDrain(a->node());
    if (d == nullptr || d->ignore_batch()) continue;
    if (!DeadlinePassed(b, *d)) {
      WakeAtDeadline(b, id, *d);
      continue;
    }
    StopForDrain(b, id, *a,
                 absl::StrCat("node ", a->node(), " drain deadline passed",
                              batch ? "; the task runs again elsewhere" : ""));
  }
}

}  // namespace berth::sched::reconcile_internal
