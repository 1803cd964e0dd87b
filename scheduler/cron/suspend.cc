#include "scheduler/cron/suspend.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "scheduler/state/keys.h"

namespace berth::cron::internal {

bool IsSuspended(const jobpb::JobRecord& rec) {
  return rec.suspended() || rec.job().cron().suspend();
}

void MarkSuspendedSkip(int64_t tick, jobpb::CronMarker* m) {
  m->set_suspended_skips(m->suspended_skips() + 1);
  if (m->suspended_from_unix() == 0) m->set_suspended_from_unix(tick);
}

bool ResumePending(const JobView& view) {
  return view.record != nullptr && !IsSuspended(*view.record) &&
         view.marker != nullptr &&
         view.marker->value.suspended_from_unix() != 0;
}

std::vector<int64_t> ChooseResumeTicks(const std::vector<int64_t>& skipped,
                                       const jobpb::CronPolicy& policy,
                                       int64_t now_ms, bool has_active) {
  std::vector<int64_t> in;
  const int64_t deadline = policy.starting_deadline_ms();
  for (int64_t t : skipped) {
    if (deadline <= 0 || now_ms - t * 1000 <= deadline) in.push_back(t);
  }
  if (in.empty() || policy.catch_up() == jobpb::CronPolicy::NONE ||
      policy.catch_up() == jobpb::CronPolicy::CATCH_UP_UNSPECIFIED) {
    return {};
  }
  if (policy.concurrency() == jobpb::CronPolicy::FORBID && has_active) {
    return {};
  }
  if (policy.catch_up() == jobpb::CronPolicy::LATEST ||
      policy.concurrency() != jobpb::CronPolicy::ALLOW) {
    return {in.back()};
  }
  if (static_cast<int>(in.size()) > kMaxResumeRuns) {
    in.erase(in.begin(), in.end() - kMaxResumeRuns);
  }
  return in;
}

ResumePlan PlanResume(const sched::ClusterState& state, const JobView& view,
                      int64_t now_ms, const std::string& scheduler_id,
                      sched::StoreTxn* txn) {
  ResumePlan plan;
  const jobpb::CronPolicy& p = view.record->job().cron();
  const int64_t from = view.marker->value.suspended_from_unix();
  plan.written = FinalizeFinished(state, view, now_ms, txn);
  plan.finalized = static_cast<int64_t>(plan.written.size());
  std::vector<int64_t> skipped;
  if (view.runs != nullptr) {
    for (const auto& [tick, run] : *view.runs) {
      if (tick >= from && run.value.result() == jobpb::CronRun::SKIPPED &&
          run.value.reason() == kSuspendedReason) {
        skipped.push_back(tick);
      }
    }
  }
  auto active = ActiveRuns(state, view, now_ms);
  std::vector<int64_t> ticks =
      ChooseResumeTicks(skipped, p, now_ms, !active.empty());
  if (!ticks.empty() && p.concurrency() == jobpb::CronPolicy::REPLACE) {
    for (const auto* run : active) {
      StopReplaced(state, *run, ticks.back(), now_ms, txn);
      ++plan.replaced;
    }
  }
  const std::string why = absl::StrCat(
      "skipped while suspended; run on resume (catch_up ",
      absl::AsciiStrToLower(jobpb::CronPolicy::CatchUp_Name(p.catch_up())),
      ")");
  for (int64_t tick : ticks) {
    const sched::Versioned<jobpb::CronRun>& old = view.runs->at(tick);
    jobpb::CronRun run = old.value;
    run.set_result(jobpb::CronRun::ACTIVE);
    run.set_reason(why);
    run.set_claimed_unix_ms(now_ms);
    run.set_claimed_by(scheduler_id);
    run.set_finished_unix_ms(0);
    run.set_alloc_id(PutPendingAlloc(view, tick, now_ms, txn));
    std::string key = sched::CronRunKey(view.id.first, view.id.second, tick);
    txn->conds.push_back(sched::StoreCond::ModRevision(key, old.mod_revision));
    txn->ops.push_back(sched::StoreOp::Put(key, run.SerializeAsString()));
    plan.written.push_back(run);
    ++plan.claimed;
    plan.latest_tick = tick;
  }
  PutMarker(view, false, 0, plan.claimed, 0, 0, txn,
            [](jobpb::CronMarker* m) { m->set_suspended_from_unix(0); });
  return plan;
}

}  // namespace berth::cron::internal
