// Services: keep `replicas` slots running, restart per the restart policy,
// and roll spec changes out max_parallel slots at a time, rolling back when
// a new version fails or never becomes healthy. Moves off draining nodes
// share the max_parallel budget (drain.cc).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/reconcile/slots.h"

namespace berth::sched::reconcile_internal {
namespace {

absl::Duration Backoff(const jobpb::JobRecord& rec,
                       const ReconcileOptions& opts) {
  int64_t ms = rec.job().task().restart().backoff_ms();
  return ms > 0 ? absl::Milliseconds(ms) : opts.default_backoff;
}

// A rollout is in flight: the spec changed and not every slot runs the new
// version healthily yet.
bool RolloutActive(const jobpb::JobRecord& rec) {
  return rec.has_previous() && rec.rollout().to_version() == rec.version() &&
         !rec.rollout().rolling_back() &&
         rec.rollout().done() < rec.job().replicas();
}

void RollBack(PlanBuilder& b, const JobId& id, const jobpb::JobRecord& rec,
              const std::string& why) {
  jobpb::JobRecord next = rec;
  *next.mutable_job() = rec.previous();
  *next.mutable_previous() = rec.job();
  next.set_version(rec.version() + 1);
  jobpb::Rollout* r = next.mutable_rollout();
  r->set_from_version(rec.version());
  r->set_to_version(next.version());
  r->set_done(0);
  r->set_rolling_back(true);
  r->set_reason(why);
  r->set_started_unix_ms(b.now_ms());
  b.SetJobRecord(id, next);
  b.Event(id, "rollback",
          absl::StrCat("version ", rec.version(), " ", why,
                       "; rolling back to the previous spec as version ",
                       next.version()));
}

}  // namespace

void ReconcileService(PlanBuilder& b, const JobId& id,
                      const jobpb::JobRecord& rec,
                      const ReconcileOptions& opts) {
  const jobpb::Job& job = rec.job();
  const std::string& hash = job.spec_hash();
  const int32_t replicas = job.replicas();
  const absl::Duration min_healthy =
      absl::Milliseconds(job.update().min_healthy_ms());
  const jobpb::RestartPolicy& restart = job.task().restart();
  auto slots = BySlot(b.AllocsOf(id));

  // Rollout failure: a new-version allocation started by this rollout died
  // or has not become healthy in time.
  if (RolloutActive(rec)) {
    for (const auto& [slot, list] : slots) {
      for (const jobpb::Allocation* a : list) {
        if (a->job_version() != hash ||
            a->create_unix_ms() < rec.rollout().started_unix_ms()) {
          continue;
        }
        std::string why;
        if (!IsLive(*a) &&
            a->outcome().state() == jobpb::AllocOutcome::FAILED) {
          why = absl::StrCat("failed: ", a->outcome().reason());
        } else if (IsLive(*a) && WantsRun(*a) &&
                   !IsHealthy(b, *a, min_healthy)) {
          absl::Time deadline = absl::FromUnixMillis(a->create_unix_ms()) +
                                opts.update_progress_deadline + min_healthy;
          if (b.now() >= deadline) {
            why =
                absl::StrCat("did not become healthy within ",
                             absl::FormatDuration(
                                 opts.update_progress_deadline + min_healthy));
          } else {
            b.WakeAt(id, deadline);
          }
        }
        if (!why.empty()) {
          RollBack(b, id, rec, why);
          return;
        }
      }
    }
  }

  int32_t in_flight = 0;  // new-version slots not yet healthy
  int32_t healthy_new = 0;
  std::vector<const jobpb::Allocation*> old_live;
  for (int32_t slot = 0; slot < replicas; ++slot) {
    const std::vector<const jobpb::Allocation*>& list = slots[slot];
    const jobpb::Allocation* live = nullptr;
    for (const jobpb::Allocation* a : list) {
      if (!IsLive(*a) || !WantsRun(*a)) continue;
      if (live == nullptr) {
        live = a;
      } else if (live->replaces() == a->id()) {
        continue;  // moving off a draining node; DrainService stops it
      } else if (jobpb::Allocation* extra = b.Mutable(a->id())) {
        // Never expected (one live allocation per slot); keep the newest.
        extra->set_desired_state(jobpb::Allocation::STOP);
        extra->set_stop_reason("duplicate allocation for its slot");
      }
    }
    if (live != nullptr) {
      if (live->job_version() != hash) {
        old_live.push_back(live);
      } else if (IsHealthy(b, *live, min_healthy)) {
        ++healthy_new;
      } else {
        ++in_flight;
        // Health is a matter of time once it runs healthily; anything
        // else that changes it (a status) dirties the job by itself.
        if (auto at = HealthyAt(b, *live, min_healthy)) b.WakeAt(id, *at);
      }
      continue;
    }
    // The slot has nothing running: start it, or restart it.
    const jobpb::Allocation* last = list.empty() ? nullptr : list.front();
    int64_t gen = last ? Generation(*last) + 1 : 1;
    int32_t attempt = last ? last->attempt() : 1;
    absl::Time not_before = b.now();
    if (last != nullptr) {
      jobpb::AllocOutcome::State st = last->outcome().state();
      bool crashed = st == jobpb::AllocOutcome::FAILED ||
                     st == jobpb::AllocOutcome::SUCCEEDED;
      if (crashed) {
        if (restart.policy() == jobpb::RestartPolicy::NEVER ||
            (restart.policy() == jobpb::RestartPolicy::ON_FAILURE &&
             st == jobpb::AllocOutcome::SUCCEEDED)) {
          continue;
        }
        if (restart.attempts() > 0 && last->attempt() > restart.attempts()) {
          continue;  // gave up; Summarize explains
        }
        attempt = last->attempt() + 1;
        not_before = absl::FromUnixMillis(last->outcome().finish_unix_ms()) +
                     Backoff(rec, opts);
      }
    }
    jobpb::Allocation a = NewAlloc(b, rec, slot, gen, attempt);
    if (last && last->outcome().state() == jobpb::AllocOutcome::FAILED) {
      *a.mutable_failed_nodes() = last->failed_nodes();
      if (!last->node().empty()) a.add_failed_nodes(last->node());
      while (a.failed_nodes_size() > 3)
        a.mutable_failed_nodes()->erase(a.mutable_failed_nodes()->begin());
    }
    if (not_before > b.now()) {
      a.set_not_before_unix_ms(absl::ToUnixMillis(not_before));
      b.WakeAt(id, not_before);
    }
    b.Log(absl::StrCat("create ", a.id(), " (slot ", slot, ", attempt ",
                       attempt, ")"));
    if (a.job_version() == hash) ++in_flight;
    b.Create(std::move(a));
  }

  // Scale down: slots beyond `replicas`.
  for (const auto& [slot, list] : slots) {
    if (slot < replicas) continue;
    for (const jobpb::Allocation* a : list) {
      if (!IsLive(*a) || !WantsRun(*a)) continue;
      jobpb::Allocation* m = b.Mutable(a->id());
      if (m == nullptr) continue;
      m->set_desired_state(jobpb::Allocation::STOP);
      m->set_stop_reason(absl::StrCat("scaled down to ", replicas));
    }
  }

  // Rolling update: replace old-version slots, max_parallel at a time,
  // only while every new-version slot so far is healthy.
  int32_t max_parallel = std::max(1, job.update().max_parallel());
  std::sort(old_live.begin(), old_live.end(),
            [](const jobpb::Allocation* x, const jobpb::Allocation* y) {
              return x->task_group_index() < y->task_group_index();
            });
  for (const jobpb::Allocation* old : old_live) {
    if (in_flight >= max_parallel) break;
    jobpb::Allocation* m = b.Mutable(old->id());
    if (m == nullptr) continue;
    m->set_desired_state(jobpb::Allocation::STOP);
    m->set_stop_reason(absl::StrCat("replaced by version ", rec.version()));
    jobpb::Allocation next =
        NewAlloc(b, rec, old->task_group_index(), Generation(*old) + 1, 1);
    b.Log(absl::StrCat("update ", old->id(), " -> ", next.id()));
    b.Create(std::move(next));
    ++in_flight;
  }
  DrainService(b, id, rec, slots, max_parallel - in_flight, opts);
  if (rec.has_previous() && rec.rollout().to_version() == rec.version() &&
      old_live.empty() && in_flight == 0 && rec.rollout().done() < replicas) {
    jobpb::JobRecord next = rec;
    next.mutable_rollout()->set_done(replicas);
    b.SetJobRecord(id, next);
    b.Event(id, rec.rollout().rolling_back() ? "rolled-back" : "updated",
            absl::StrCat("all ", replicas, " replicas run version ",
                         rec.version()));
  }
}

}  // namespace berth::sched::reconcile_internal
