#include "scheduler/reconcile/reconciler.h"

#include <algorithm>
#include <map>
#include <set>

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
  std::optional<absl::Time> at = HealthyAt(b, a, min_healthy);
  return at.has_value() && *at <= b.now();
}

std::optional<absl::Time> HealthyAt(const PlanBuilder& b,
                                    const jobpb::Allocation& a,
                                    absl::Duration min_healthy) {
  const agentpb::AllocationStatus* s = b.state().FindStatus(a.id());
  if (s == nullptr || s->state() != agentpb::RUNNING ||
      s->attempt() != a.attempt() || !s->healthy()) {
    return std::nullopt;
  }
  int64_t since = s->healthy_since_unix_ms() > 0 ? s->healthy_since_unix_ms()
                                                 : s->start_unix_ms();
  return absl::FromUnixMillis(since) + min_healthy;
}

void Observe(PlanBuilder& b, const ReconcileOptions& opts, const JobId& job,
             int* lost) {
  for (const std::string& id : b.state().AllocIdsOf(job)) {
    const jobpb::Allocation& a = b.state().allocs().at(id).value;
    if (!IsLive(a)) continue;
    jobpb::AllocOutcome out;
    if (!WantsRun(a) && a.node().empty()) {
      out.set_state(jobpb::AllocOutcome::STOPPED);
      out.set_reason(a.stop_reason().empty() ? "stopped before placement"
                                             : a.stop_reason());
    } else if (!a.node().empty() && !b.state().nodes().count(a.node())) {
      if (WantsRun(a)) {
        if (*lost >= opts.max_lost_replacements_per_pass) {
          b.WakeAt(job, b.now() + absl::Seconds(1));
          continue;
        }
        ++*lost;
        out.set_state(jobpb::AllocOutcome::LOST);
        out.set_reason(
            absl::StrCat("node ", a.node(), " lost (its session expired)"));
        b.Event(job, "lost", out.reason(), id);
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

void Collect(PlanBuilder& b, const ReconcileOptions& opts, const JobId& id) {
  if (b.state().AllocIdsOf(id).empty()) return;
  const jobpb::JobRecord* rec = b.state().FindJob(id);
  std::vector<const jobpb::Allocation*> allocs = b.AllocsOf(id);
  if (rec == nullptr) {
    for (const jobpb::Allocation* a : allocs) {
      if (!IsLive(*a)) b.Forget(a->id());
    }
    return;
  }
  if (rec->job().kind() != jobpb::SERVICE) return;
  for (auto& [slot, list] : BySlot(allocs)) {
    int kept = 0;
    for (const jobpb::Allocation* a : list) {  // newest first
      if (IsLive(*a)) continue;
      if (++kept > opts.finished_kept_per_slot) b.Forget(a->id());
    }
  }
}

}  // namespace reconcile_internal

Plan Reconcile(const ClusterState& state, absl::Time now,
               const ReconcileOptions& opts) {
  return Reconcile(state, EvalScope::All(), now, opts);
}

Plan Reconcile(const ClusterState& state, const EvalScope& scope,
               absl::Time now, const ReconcileOptions& opts) {
  using namespace reconcile_internal;  // NOLINT: the phases of this pass
  std::vector<JobId> jobs;
  if (scope.all) {
    // Every job, and every job that is gone but still has allocations.
    std::set<JobId> all;
    for (const auto& [id, unused] : state.jobs()) all.insert(id);
    for (const auto& [id, unused] : state.allocs_by_job()) all.insert(id);
    jobs.assign(all.begin(), all.end());
  } else {
    jobs = scope.jobs;
    std::sort(jobs.begin(), jobs.end());
    jobs.erase(std::unique(jobs.begin(), jobs.end()), jobs.end());
  }
  PlanBuilder b(&state, now);
  int lost = 0;
  for (const JobId& id : jobs) Observe(b, opts, id, &lost);
  for (const JobId& id : jobs) {
    const jobpb::JobRecord* rec = state.FindJob(id);
    if (rec == nullptr) {
      if (!state.AllocIdsOf(id).empty()) WindDown(b, id, "job deleted");
      continue;
    }
    if (rec->stopped()) {
      WindDown(b, id, "job stopped");
      continue;
    }
    // Cron runs already started finish; the engine skips new ticks.
    if (rec->suspended() && rec->job().kind() != jobpb::CRON) {
      WindDown(b, id, "job suspended");
      continue;
    }
    switch (rec->job().kind()) {
      case jobpb::SERVICE:
        ReconcileService(b, id, *rec, opts);
        break;
      case jobpb::BATCH:
        ReconcileBatch(b, id, *rec);
        break;
      case jobpb::CRON:
        DrainFinite(b, id, *rec);  // runs are created by the cron engine
        break;
      default:
        break;
    }
  }
  PlacePending(b, jobs, opts);
  for (const JobId& id : jobs) Collect(b, opts, id);
  for (const JobId& id : jobs) {
    if (const jobpb::JobRecord* rec = state.FindJob(id)) Summarize(b, id, *rec);
  }
  Plan plan = b.Build();
  plan.jobs_evaluated = static_cast<int64_t>(jobs.size());
  return plan;
}

}  // namespace berth::sched
