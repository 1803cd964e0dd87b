// The per-job summary shown by `berth job list/status`.
#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/batch_verdict.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/slots.h"

namespace berth::sched::reconcile_internal {

void Summarize(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec) {
  const jobpb::Job& job = rec.job();
  std::vector<const jobpb::Allocation*> allocs = b.AllocsOf(id);
  jobpb::JobStatus st;
  st.set_updated_unix_ms(b.now_ms());
  std::string pending_reason;
  int32_t healthy = 0;
  const absl::Duration min_healthy =
      absl::Milliseconds(job.update().min_healthy_ms());
  for (const jobpb::Allocation* a : allocs) {
    if (IsLive(*a) && WantsRun(*a)) {
      if (a->node().empty()) {
        st.set_pending(st.pending() + 1);
        if (pending_reason.empty()) pending_reason = a->pending_reason();
      } else if (const agentpb::AllocationStatus* s =
                     b.state().FindStatus(a->id());
                 s && s->state() == agentpb::RUNNING &&
                 s->attempt() == a->attempt()) {
        st.set_running(st.running() + 1);
        if (IsHealthy(b, *a, min_healthy)) ++healthy;
      } else {
        st.set_pending(st.pending() + 1);  // placed, not started yet
      }
    }
    if (a->outcome().state() == jobpb::AllocOutcome::SUCCEEDED) {
      st.set_succeeded(st.succeeded() + 1);
    } else if (a->outcome().state() == jobpb::AllocOutcome::FAILED) {
      st.set_failed(st.failed() + 1);
    }
  }
  if (!pending_reason.empty()) st.set_explanation(pending_reason);

  if (rec.stopped()) {
    st.set_state(jobpb::JobStatus::STOPPED);
  } else if (rec.suspended() ||
             (job.kind() == jobpb::CRON && job.cron().suspend())) {
    st.set_state(jobpb::JobStatus::SUSPENDED);
  } else if (job.kind() == jobpb::BATCH) {
    BatchVerdict v = JudgeBatch(rec, allocs, b.now());
    st.set_succeeded(v.succeeded);
    if (v.finished) {
      st.set_state(v.complete ? jobpb::JobStatus::COMPLETE
                              : jobpb::JobStatus::FAILED);
      if (!v.complete) st.set_explanation(v.reason);
    } else {
      st.set_state(st.running() > 0 ? jobpb::JobStatus::RUNNING
                                    : jobpb::JobStatus::PENDING);
    }
  } else if (job.kind() == jobpb::SERVICE) {
    if (healthy >= job.replicas() && st.running() >= job.replicas()) {
      st.set_state(jobpb::JobStatus::RUNNING);
    } else if (st.running() > 0) {
      st.set_state(jobpb::JobStatus::DEGRADED);
    } else {
      st.set_state(jobpb::JobStatus::PENDING);
    }
    // A slot that exhausted its restart attempts has nothing live.
    for (auto& [slot, list] : BySlot(allocs)) {
      if (slot >= job.replicas() || list.empty()) continue;
      const jobpb::Allocation* last = list.front();
      if (!IsLive(*last) &&
          last->outcome().state() == jobpb::AllocOutcome::FAILED &&
          job.task().restart().attempts() > 0 &&
          last->attempt() > job.task().restart().attempts()) {
        st.set_explanation(
            absl::StrCat("replica ", slot, " gave up after ", last->attempt(),
                         " attempts: ", last->outcome().reason()));
      }
    }
    if (rec.rollout().rolling_back() && !rec.rollout().reason().empty() &&
        st.explanation().empty()) {
      st.set_explanation(absl::StrCat("rolled back: ", rec.rollout().reason()));
    }
  } else {
    st.set_state(jobpb::JobStatus::RUNNING);
  }
  b.SetJobStatus(id, st);
}

}  // namespace berth::sched::reconcile_internal
