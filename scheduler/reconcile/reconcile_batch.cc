// Batch: run `completions` successful tasks, at most `parallelism` at a
// time; a failed index is retried with backoff until backoff_limit
// failures in all, and the job fails at its deadline. Preemption and node
// loss do not count as failures: the index simply runs again.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/batch_verdict.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/slots.h"

namespace berth::sched::reconcile_internal {

void ReconcileBatch(PlanBuilder& b, const JobId& id,
                    const jobpb::JobRecord& rec) {
  const jobpb::BatchPolicy& policy = rec.job().batch();
  // First, so an index stopped by a drain deadline runs again below.
  DrainFinite(b, id, rec);
  std::vector<const jobpb::Allocation*> allocs = b.AllocsOf(id);
  BatchVerdict v = JudgeBatch(rec, allocs, b.now());
  if (v.finished) {
    WindDown(b, id, v.complete ? "job complete" : v.reason);
    return;
  }
  if (policy.deadline_ms() > 0) {
    b.WakeAt(id,
             absl::FromUnixMillis(rec.submit_unix_ms() + policy.deadline_ms()));
  }
  auto slots = BySlot(allocs);
  int32_t active = 0;
  for (const jobpb::Allocation* a : allocs) {
    if (IsLive(*a) && WantsRun(*a)) ++active;
  }
  const int64_t backoff_ms =
      std::max<int64_t>(rec.job().task().restart().backoff_ms(), 1000);
  for (int32_t index = 0; index < policy.completions(); ++index) {
    if (active >= std::max(1, policy.parallelism())) break;
    const std::vector<const jobpb::Allocation*>& list = slots[index];
    bool done_or_running = false;
    for (const jobpb::Allocation* a : list) {
      if (a->outcome().state() == jobpb::AllocOutcome::SUCCEEDED ||
          (IsLive(*a) && WantsRun(*a))) {
        done_or_running = true;
      }
    }
    if (done_or_running) continue;
    const jobpb::Allocation* last = list.empty() ? nullptr : list.front();
    jobpb::Allocation a =
        NewAlloc(b, rec, index, last ? Generation(*last) + 1 : 1,
                 last ? last->attempt() + 1 : 1);
    if (last && last->outcome().state() == jobpb::AllocOutcome::FAILED) {
      int64_t nb = last->outcome().finish_unix_ms() + backoff_ms;
      if (nb > b.now_ms()) {
        a.set_not_before_unix_ms(nb);
        b.WakeAt(id, absl::FromUnixMillis(nb));
      }
      if (!last->node().empty()) a.add_failed_nodes(last->node());
    }
    b.Log(absl::StrCat("create ", a.id(), " (index ", index, ")"));
    b.Create(std::move(a));
    ++active;
  }
}

}  // namespace berth::sched::reconcile_internal
