#include "scheduler/reconcile/reconciler.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/slots.h"

namespace berth::sched {
namespace reconcile_internal {

jobpb::Allocation NewAlloc(const PlanBuilder& b, const jobpb::JobRecord& rec,
                           int32_t slot, int64_t generation, int32_t attempt) {
  const jobpb::Job& job = rec.job();
  jobpb::Allocation a;
  a.set_id(SlotAllocId(job.namespace_(), job.name(), slot, generation));
  a.set_job(job.name());
  a.set_namespace_(job.namespace_());
  a.set_task_group_index(slot);
  *a.mutable_resources() = job.task().resources();
  a.set_desired_state(jobpb::Allocation::RUN);
  a.set_attempt(attempt);
  a.set_job_version(job.spec_hash());
  a.set_priority(job.priority());
  a.set_create_unix_ms(b.now_ms());
  return a;
}

bool IsHealthy(const PlanBuilder& b, const jobpb::Allocation& a,
               absl::Duration min_healthy) {
  const agentpb::AllocationStatus* s = b.state().FindStatus(a.id());
  if (s == nullptr || s->state() != agentpb::RUNNING ||
      s->attempt() != a.attempt() || !s->healthy()) {
    return false;
  }
  int64_t since = s->healthy_since_unix_ms() > 0 ? s->healthy_since_unix_ms()
                                                 : s->start_unix_ms();
  return b.now_ms() - since >= absl::ToInt64Milliseconds(min_healthy);
}

void Observe(PlanBuilder& b, const ReconcileOptions& opts) {
  int lost = 0;
  for (const auto& [id, v] : b.state().allocs()) {
    const jobpb::Allocation& a = v.value;
    if (!IsLive(a)) continue;
    jobpb::AllocOutcome out;
    if (!WantsRun(a) && a.node().empty()) {
      out.set_state(jobpb::AllocOutcome::STOPPED);
      out.set_reason(a.stop_reason().empty() ? "stopped before placement"
                                             : a.stop_reason());
    } else if (!a.node().empty() && !b.state().nodes().count(a.node())) {
      if (WantsRun(a)) {
        if (lost >= opts.max_lost_replacements_per_pass) {
          b.WakeAt(b.now() + absl::Seconds(1));
          continue;
        }
        ++lost;
        out.set_state(jobpb::AllocOutcome::LOST);
        out.set_reason(
            absl::StrCat("node ", a.node(), " lost (its session expired)"));
        b.Event({a.namespace_(), a.job()}, "lost", out.reason(), id);
      } else {
        out.set_state(jobpb::AllocOutcome::STOPPED);
        out.set_reason(a.stop_reason());
      }
    } else if (const agentpb::AllocationStatus* s = b.state().FindStatus(id);
               s != nullptr && IsTerminal(*s) && s->attempt() == a.attempt()) {
      out = OutcomeFromStatus(a, *s);
    } else {
      continue;
    }
    if (out.node().empty()) out.set_node(a.node());
    if (out.finish_unix_ms() == 0) out.set_finish_unix_ms(b.now_ms());
    jobpb::Allocation* m = b.Mutable(id);
    *m->mutable_outcome() = out;
    b.Log(absl::StrCat("finished ", id, ": ",
                       jobpb::AllocOutcome::State_Name(out.state()), " ",
                       out.reason()));
  }
}

void WindDown(PlanBuilder& b, const JobId& id, const std::string& reason) {
  for (const jobpb::Allocation* a : b.AllocsOf(id)) {
    if (!IsLive(*a) || !WantsRun(*a)) continue;
    jobpb::Allocation* m = b.Mutable(a->id());
    if (m == nullptr) continue;  // created in this pass; never placed
    m->set_desired_state(jobpb::Allocation::STOP);
    m->set_stop_reason(reason);
    b.Log(absl::StrCat("stop ", a->id(), ": ", reason));
  }
}

void Collect(PlanBuilder& b, const ReconcileOptions& opts) {
  std::map<JobId, bool> seen;
  for (const auto& [unused, v] : b.state().allocs()) {
    seen[{v.value.namespace_(), v.value.job()}] = true;
  }
  for (const auto& [id, unused] : seen) {
    const jobpb::JobRecord* rec = b.state().FindJob(id);
    std::vector<const jobpb::Allocation*> allocs = b.AllocsOf(id);
    if (rec == nullptr) {
      for (const jobpb::Allocation* a : allocs) {
        if (!IsLive(*a)) b.Forget(a->id());
      }
      continue;
    }
    if (rec->job().kind() != jobpb::SERVICE) continue;
    for (auto& [slot, list] : BySlot(allocs)) {
      int kept = 0;
      for (const jobpb::Allocation* a : list) {  // newest first
        if (IsLive(*a)) continue;
        if (++kept > opts.finished_kept_per_slot) b.Forget(a->id());
      }
    }
  }
}

}  // namespace reconcile_internal

Plan Reconcile(const ClusterState& state, absl::Time now,
               const ReconcileOptions& opts) {
  using namespace reconcile_internal;  // NOLINT: the phases of this pass
  PlanBuilder b(&state, now);
  Observe(b, opts);
  std::map<JobId, bool> with_allocs;
  for (const auto& [unused, v] : state.allocs()) {
    with_allocs[{v.value.namespace_(), v.value.job()}] = true;
  }
  for (const auto& [id, v] : state.jobs()) {
    const jobpb::JobRecord& rec = v.value;
    if (rec.stopped()) {
      WindDown(b, id, "job stopped");
      continue;
    }
    switch (rec.job().kind()) {
      case jobpb::SERVICE:
        ReconcileService(b, id, rec, opts);
        break;
      case jobpb::BATCH:
        ReconcileBatch(b, id, rec);
        break;
      default:
        break;  // cron runs are created by the cron engine
    }
  }
  for (const auto& [id, unused] : with_allocs) {
    if (state.FindJob(id) == nullptr) WindDown(b, id, "job deleted");
  }
  PlacePending(b);
  Collect(b, opts);
  for (const auto& [id, v] : state.jobs()) Summarize(b, id, v.value);
  return b.Build();
}

}  // namespace berth::sched
