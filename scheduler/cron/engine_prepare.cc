// Planning claims ahead of their tick. At 100,000 jobs a second's 1,667
// ticks come due together, and the last one waited for every other job's
// planning (mirror reads, protobuf builds, allocations: 30-80 µs a claim on
// this class of machine). Planned in the second before, the burst only
// checks and commits.
//
// Why a claim planned ahead is the claim PlanDue would build at the tick:
//  * it is built from the mirror at revision r by the same code (BuildClaim)
//    with the tick's due time as "now";
//  * it is used only if nothing the plan read has changed since: the job's
//    record, marker and runs, its allocations and their statuses all bump
//    the job's changed_revision in the mirror (ClusterState::JobRefs), which
//    must still be <= r;
//  * the catch-up decision, the one input that depends on the time, is
//    taken again at the real time and must come out the same (same kind,
//    tick and missed count); a late Step plans afresh;
//  * the engine's own bookkeeping (waiting for the mirror, a retry pending)
//    is checked at use, as PlanDue checks it.
// Exactly-once never rested on this: the claim carries the same conditions
// (marker as read, run and allocation absent), so a plan that somehow went
// stale conflicts instead of applying. The only visible difference is the
// run's claimed_unix_ms (and the allocation's create time): the tick's due
// time rather than the moment the Step began.
#include <utility>

#include "scheduler/cron/engine.h"
#include "scheduler/cron/engine_txn.h"

namespace berth::cron {
namespace {

bool SamePlan(const TickPlan& a, const TickPlan& b) {
  return a.kind == b.kind && a.tick == b.tick && a.missed == b.missed &&
         a.missed_exact == b.missed_exact;
}

}  // namespace

CronEngine::Prepared CronEngine::Prepare(const sched::ClusterState& state,
                                         uint32_t slot,
                                         absl::Time deadline) const {
  Prepared p;
  p.deadline = deadline;
  p.revision = state.revision();
  const Entry& e = entries_[slot];
  if (!e.schedule || Waiting(state, e.id)) return p;
  internal::JobView view = internal::ViewOf(state, e.id);
  if (!internal::IsLiveCron(view.record) || internal::ResumePending(view)) {
    return p;
  }
  const jobpb::CronPolicy& policy = view.record->job().cron();
  TickSource ticks{&*e.schedule, e.every_seconds};
  CatchUpPolicy cp{policy.catch_up(), policy.starting_deadline_ms(),
                   options_.on_time_grace_ms};
  const int64_t at_ms = absl::ToUnixMillis(deadline);
  p.marker_tick = internal::MarkerTick(view);
  p.cp = cp;
  p.plan = PlanTicks(ticks, p.marker_tick, at_ms, cp);
  if (p.plan.kind == TickPlan::Kind::kWait) return p;
  p.has_active_run = internal::HasActiveRun(view);
  p.claim = BuildClaim(state, slot, view, p.plan, ticks, at_ms);
  p.usable = true;
  return p;
}

bool CronEngine::PrepareAhead(const sched::ClusterState& state,
                              absl::Time now) {
  if (options_.prepare_ahead <= absl::ZeroDuration() || now < next_prepare_) {
    return false;
  }
  int planned = 0;
  bool more = false;
  heap_.ForEachUntil(
      now + options_.prepare_ahead, [&](uint32_t slot, absl::Time deadline) {
        if (deadline <= now || retrying_.contains(slot)) return;
        // Planned (or found unplannable) for this deadline already. Not
        // checked for staleness here: that costs a mirror lookup per entry
        // on every walk, and TakePrepared checks it anyway.
        auto it = prepared_.find(slot);
        if (it != prepared_.end() && it->second.deadline == deadline) return;
        if (planned >= options_.max_prepares_per_step) {
          more = true;
          return;
        }
        ++planned;
        Prepared p = Prepare(state, slot, deadline);
        if (p.usable) ++stats_.prepared;
        prepared_.insert_or_assign(slot, std::move(p));
      });
  // A walk visits every entry due within the window, so it runs a few times
  // per window, not at every Step (the bench loop steps every 5 ms).
  next_prepare_ = more ? now : now + options_.prepare_ahead / 4;
  return more;
}

std::optional<CronEngine::Claim> CronEngine::TakePrepared(
    const sched::ClusterState& state, uint32_t slot, absl::Time deadline,
    absl::Time now) {
  auto it = prepared_.find(slot);
  if (it == prepared_.end()) return std::nullopt;
  Prepared p = std::move(it->second);
  prepared_.erase(it);
  if (!p.usable) return std::nullopt;
  const sched::JobId& id = p.claim.id;
  const sched::ClusterState::JobRefs refs = state.FindJobRefs(id);
  const Entry& e = entries_[slot];
  bool fresh = p.deadline == deadline && !retrying_.contains(slot) &&
               !Waiting(state, id) && e.schedule.has_value() &&
               refs.record != nullptr && refs.changed_revision <= p.revision;
  // The record and marker are as planned, so the policy and marker tick
  // kept with the plan are theirs: no need to read them again.
  fresh =
      fresh &&
      SamePlan(p.plan, PlanTicks(TickSource{&*e.schedule, e.every_seconds},
                                 p.marker_tick, absl::ToUnixMillis(now), p.cp));
  if (!fresh) {
    ++stats_.prepared_stale;
    return std::nullopt;
  }
  ++stats_.prepared_used;
  // What PlanDue does to a job it plans.
  heap_.Erase(slot);
  entries_[slot].next_tick = p.plan.tick;
  if (p.has_active_run) active_.insert(id);
  return std::move(p.claim);
}

}  // namespace berth::cron
