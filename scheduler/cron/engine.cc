#include "scheduler/cron/engine.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scheduler/cron/catch_up.h"
#include "scheduler/cron/engine_txn.h"
#include "scheduler/cron/parser.h"
#include "scheduler/cron/suspend.h"
#include "scheduler/state/keys.h"

namespace berth::cron {
namespace {

using internal::IsLiveCron;
using internal::JobView;

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

CronEngine::CronEngine(sched::Store* store, std::string scheduler_id,
                       EngineOptions options)
    : store_(store),
      scheduler_id_(std::move(scheduler_id)),
      options_(std::move(options)) {}

void CronEngine::Sync(const sched::ClusterState& state, absl::Time now) {
  entries_.clear();
  free_slots_.clear();
  index_.clear();
  heap_ = TimerHeap();
  blocked_.clear();
  retrying_.clear();
  wait_revision_.clear();
  active_.clear();
  prepared_.clear();
  next_prepare_ = absl::InfinitePast();
  scanned_revision_ = -1;
  next_timeout_ = absl::InfiniteFuture();
  std::map<std::pair<std::string, std::string>, Parsed> cache;
  parse_cache_ = &cache;
  for (const auto& [id, rec] : state.jobs()) {
    if (IsLiveCron(&rec.value)) OnJobChanged(state, id, now);
  }
  parse_cache_ = nullptr;
  for (const auto& [id, runs] : state.cron_runs()) {
    for (const auto& [tick, run] : runs) {
      if (run.value.result() == jobpb::CronRun::ACTIVE) {
        active_.insert(id);
        break;
      }
    }
  }
}

void CronEngine::Remove(uint32_t slot) {
  heap_.Erase(slot);
  prepared_.erase(slot);
  blocked_.erase(slot);
  retrying_.erase(slot);
  index_.erase(entries_[slot].id);
  entries_[slot] = Entry();
  free_slots_.push_back(slot);
}

void CronEngine::OnJobChanged(const sched::ClusterState& state,
                              const sched::JobId& job, absl::Time now) {
  const jobpb::JobRecord* rec = state.FindJob(job);
  auto it = index_.find(job);
  if (!IsLiveCron(rec)) {
    if (it != index_.end()) Remove(it->second);
    return;
  }
  uint32_t slot;
  if (it != index_.end()) {
    slot = it->second;
  } else {
    if (free_slots_.empty()) {
      slot = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    index_[job] = slot;
    entries_[slot].id = job;
  }
  Entry& e = entries_[slot];
  if (e.spec_hash != rec->job().spec_hash() || !e.schedule) {
    e.spec_hash = rec->job().spec_hash();
    e.schedule.reset();
    const jobpb::CronPolicy& p = rec->job().cron();
    if (parse_cache_ != nullptr) {
      auto hit = parse_cache_->find({p.schedule(), p.timezone()});
      if (hit != parse_cache_->end()) {
        e.schedule = hit->second.schedule;
        e.every_seconds = hit->second.every_seconds;
      }
    }
  }
  if (!e.schedule) {
    const jobpb::CronPolicy& p = rec->job().cron();
    absl::StatusOr<Schedule> s = Schedule::Parse(p.schedule(), p.timezone());
    absl::StatusOr<ParsedSpec> parsed = ParseSpec(p.schedule());
    if (!s.ok() || !parsed.ok()) {
      // Submit validation rejects these; a bad record must not stop cron.
      ++stats_.bad_specs;
      e.schedule.reset();
      heap_.Erase(slot);
      return;
    }
    e.schedule = *std::move(s);
    e.every_seconds = parsed->is_every ? parsed->every_seconds : 0;
    if (parse_cache_ != nullptr) {
      parse_cache_->emplace(std::make_pair(p.schedule(), p.timezone()),
                            Parsed{*e.schedule, e.every_seconds});
    }
  }
  TickSource ticks{&*e.schedule, e.every_seconds};
  JobView view = internal::ViewOf(state, job);
  e.next_tick = ticks.Next(internal::MarkerTick(view)).value_or(0);
  // Due ticks are planned at the next Step; otherwise the timer waits for
  // the next tick, so a Sync of many jobs leaves nothing to do until then.
  retrying_.erase(slot);
  if (blocked_.contains(slot)) return;
  if (internal::ResumePending(view)) {
    heap_.Set(slot, now);  // decide the suspended ticks' catch-up now
  } else if (e.next_tick == 0) {
    heap_.Erase(slot);
  } else {
    heap_.Set(slot, std::max(now, absl::FromUnixSeconds(e.next_tick)));
  }
}

bool CronEngine::Waiting(const sched::ClusterState& state,
                         const sched::JobId& job) const {
  auto it = wait_revision_.find(job);
  return it != wait_revision_.end() && state.revision() < it->second;
}

absl::StatusOr<CronEngine::Outcome> CronEngine::Commit(
    const sched::StoreTxn& txn, const sched::Fence& fence,
    const sched::JobId& job) {
  return Commit(txn, fence, std::vector<sched::JobId>{job});
}

absl::StatusOr<CronEngine::Outcome> CronEngine::Commit(
    const sched::StoreTxn& txn, const sched::Fence& fence,
    const std::vector<sched::JobId>& jobs) {
  ++commits_this_step_;
  absl::StatusOr<sched::CommitResult> r = store_->Commit(txn, fence);
  if (!r.ok()) {
    if (absl::IsFailedPrecondition(r.status())) return r.status();
    // Applied or not: unknown. The retry is the same conditional txn built
    // from the mirror, so it cannot apply twice.
    ++stats_.unknown_outcomes;
    stats_.last_commit_error = r.status().ToString();
    return Outcome::kUnknown;
  }
  // Either way the mirror must reach this revision before we decide again.
  for (const sched::JobId& job : jobs) {
    int64_t& wait = wait_revision_[job];
    wait = std::max(wait, r->revision);
  }
  if (!r->succeeded) {
    ++stats_.conflicts;
    return Outcome::kConflict;
  }
  return Outcome::kCommitted;
}

CronEngine::Claim CronEngine::BuildClaim(const sched::ClusterState& state,
                                         uint32_t slot, const JobView& view,
                                         const TickPlan& plan,
                                         const TickSource& ticks,
                                         int64_t now_ms) const {
  const sched::JobId& id = view.id;
  const jobpb::CronPolicy& p = view.record->job().cron();
  const bool suspended = internal::IsSuspended(*view.record);
  Claim c;
  c.slot = slot;
  c.id = id;
  c.tick = plan.tick;
  c.next_tick = ticks.Next(plan.tick).value_or(0);
  c.missed = plan.missed;
  sched::StoreTxn& txn = c.txn;
  // The usual claim: 3 conditions, 4 operations (run, allocation, marker,
  // one trimmed run); growing from empty reallocated and moved them twice.
  txn.conds.reserve(4);
  txn.ops.reserve(6);
  internal::AddMarkerCond(view, &txn);
  internal::NewRun nr;
  nr.tick = plan.tick;
  nr.now_ms = now_ms;
  nr.scheduler_id = scheduler_id_;
  std::vector<jobpb::CronRun> written =
      internal::FinalizeFinished(state, view, now_ms, &txn);
  c.finalized = static_cast<int64_t>(written.size());
  std::function<void(jobpb::CronMarker*)> edit;
  if (suspended) {
    // Decided like any tick, recorded as skipped; resume decides catch-up.
    nr.result = jobpb::CronRun::SKIPPED;
    nr.reason = internal::kSuspendedReason;
    c.suspended = 1;
    const int64_t tick = plan.tick;
    edit = [tick](jobpb::CronMarker* m) {
      internal::MarkSuspendedSkip(tick, m);
    };
    written.push_back(internal::PutNewRun(view, nr, &txn));
  } else if (plan.kind == TickPlan::Kind::kMiss) {
    nr.result = jobpb::CronRun::MISSED;
    nr.reason = absl::StrCat(plan.missed, plan.missed_exact ? "" : " (about)",
                             " tick(s) missed: outside the starting deadline "
                             "or the catch-up policy");
    written.push_back(internal::PutNewRun(view, nr, &txn));
  } else {
    auto active = internal::ActiveRuns(state, view, now_ms);
    if (!active.empty() && p.concurrency() == jobpb::CronPolicy::FORBID) {
      nr.result = jobpb::CronRun::SKIPPED;
      nr.reason =
          absl::StrCat("concurrency forbid: run ",
                       active.front()->value.tick_unix(), " was still active");
      c.skipped = 1;
      written.push_back(internal::PutNewRun(view, nr, &txn));
    } else {
      if (p.concurrency() == jobpb::CronPolicy::REPLACE) {
        for (const auto* run : active) {
          internal::StopReplaced(state, *run, plan.tick, now_ms, &txn);
          ++c.replaced;
        }
      }
      c.claimed = 1;
      internal::PutNewRun(view, nr, &txn);
    }
  }
  internal::PutMarker(view, true, plan.tick, c.claimed, c.skipped, plan.missed,
                      &txn, edit);
  c.trimmed = internal::AppendTrim(state, view, written,
                                   options_.max_history_deletes_per_txn, &txn);
  return c;
}

std::optional<CronEngine::Claim> CronEngine::PlanDue(
    const sched::ClusterState& state, uint32_t slot, absl::Time now) {
  Entry& e = entries_[slot];
  const sched::JobId id = e.id;
  retrying_.erase(slot);
  if (Waiting(state, id)) {
    heap_.Erase(slot);
    blocked_.insert(slot);
    return std::nullopt;
  }
  JobView view = internal::ViewOf(state, id);
  if (!IsLiveCron(view.record)) {
    Remove(slot);
    return std::nullopt;
  }
  const jobpb::CronPolicy& p = view.record->job().cron();
  TickSource ticks{&*e.schedule, e.every_seconds};
  CatchUpPolicy cp{p.catch_up(), p.starting_deadline_ms(),
                   options_.on_time_grace_ms};
  const int64_t now_ms = Ms(now);
  if (internal::ResumePending(view)) {
    // The resume decision first; due ticks follow once it is in the mirror.
    Claim c;
    c.slot = slot;
    c.id = id;
    c.next_tick = ticks.Next(internal::MarkerTick(view)).value_or(0);
    internal::AddMarkerCond(view, &c.txn);
    internal::ResumePlan rp =
        internal::PlanResume(state, view, now_ms, scheduler_id_, &c.txn);
    c.tick = rp.latest_tick;
    c.claimed = rp.claimed;
    c.replaced = rp.replaced;
    c.finalized = rp.finalized;
    c.trimmed = internal::AppendTrim(
        state, view, rp.written, options_.max_history_deletes_per_txn, &c.txn);
    heap_.Erase(slot);
    return c;
  }
  TickPlan plan = PlanTicks(ticks, internal::MarkerTick(view), now_ms, cp);
  if (!active_.contains(id) && internal::HasActiveRun(view)) {
    active_.insert(id);
  }
  e.next_tick = plan.tick;
  if (plan.kind == TickPlan::Kind::kWait) {
    if (plan.tick == 0) {
      heap_.Erase(slot);
    } else {
      heap_.Set(slot, absl::FromUnixSeconds(plan.tick));
    }
    return std::nullopt;
  }

  Claim c = BuildClaim(state, slot, view, plan, ticks, now_ms);
  // Out of the heap while its commit is pending; FinishClaim decides where
  // it goes next.
  heap_.Erase(slot);
  return c;
}

void CronEngine::FinishClaim(const Claim& c, Outcome out, absl::Time now) {
  if (out == Outcome::kUnknown) {
    retrying_.insert(c.slot);
    heap_.Set(c.slot, now + options_.retry_backoff);
    return;
  }
  heap_.Erase(c.slot);
  blocked_.insert(c.slot);
  if (out != Outcome::kCommitted) return;
  entries_[c.slot].next_tick = c.next_tick;
  stats_.finalized += c.finalized;
  stats_.claims += c.claimed;
  stats_.skipped += c.skipped;
  stats_.suspended += c.suspended;
  stats_.replaced += c.replaced;
  stats_.missed += c.missed;
  stats_.history_deleted += c.trimmed;
  if (c.claimed > 0) {
    active_.insert(c.id);
    if (options_.on_claim) options_.on_claim(c.id, c.tick);
  }
}

absl::StatusOr<absl::Time> CronEngine::Step(const sched::ClusterState& state,
                                            absl::Time now,
                                            const sched::Fence& fence) {
  commits_this_step_ = 0;
  if (now < last_now_) {
    for (uint32_t slot : retrying_) heap_.Set(slot, now);
    next_timeout_ = std::min(next_timeout_, now);
  }
  last_now_ = now;
  // Jobs whose own writes the mirror now shows are planned again.
  for (auto it = blocked_.begin(); it != blocked_.end();) {
    if (Waiting(state, entries_[*it].id)) {
      ++it;
      continue;
    }
    heap_.Set(*it, now);
    it = blocked_.erase(it);
  }
  for (auto it = wait_revision_.begin(); it != wait_revision_.end();) {
    it = state.revision() >= it->second ? wait_revision_.erase(it)
                                        : std::next(it);
  }
  // Claims first: a due tick must not wait behind other jobs' finalizations
  // (a claim finalizes its own job's finished runs itself). Claims are
  // packed into shared transactions up to the operation limit.
  std::vector<Claim>& batch = claim_batch_;
  batch.clear();
  size_t batch_size = 0;
  while (!heap_.empty() && heap_.TopDeadline() <= now &&
         commits_this_step_ < options_.max_commits_per_step) {
    const uint32_t slot = heap_.TopId();
    std::optional<Claim> c =
        TakePrepared(state, slot, heap_.TopDeadline(), now);
    if (!c) c = PlanDue(state, slot, now);
    if (!c) continue;
    if (!batch.empty() &&
        batch_size + c->size() > static_cast<size_t>(internal::kTxnLimit)) {
      if (absl::Status s = CommitClaims(&batch, now, fence); !s.ok()) return s;
      batch_size = 0;
    }
    batch_size += c->size();
    batch.push_back(*std::move(c));
  }
  if (absl::Status s = CommitClaims(&batch, now, fence); !s.ok()) return s;
  // Jobs claimed above wait for the mirror, so the scan skips them.
  if (state.revision() != scanned_revision_ || now >= next_timeout_) {
    if (absl::Status s = ScanActive(state, now, fence); !s.ok()) return s;
  }
  // Last: planning ahead only uses time the due work did not need.
  const bool more_to_prepare = PrepareAhead(state, now);
  absl::Time next = next_timeout_;
  if (!heap_.empty()) next = std::min(next, heap_.TopDeadline());
  if (more_to_prepare) next = now;
  // A safety net only: the caller steps again as soon as the mirror moves.
  if (!blocked_.empty()) next = std::min(next, now + options_.retry_backoff);
  return std::max(next, now);
}

absl::StatusOr<std::string> CronEngine::Trigger(
    const sched::ClusterState& state, const sched::JobId& job, absl::Time now,
    const sched::Fence& fence) {
  JobView view = internal::ViewOf(state, job);
  if (view.record == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("job ", job.first, "/", job.second, " does not exist"));
  }
  if (view.record->job().kind() != jobpb::CRON) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", job.first, "/", job.second, " is not a cron job"));
  }
  if (view.record->stopped()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job.first, "/", job.second, " is stopped"));
  }
  if (Waiting(state, job)) {
    return absl::UnavailableError(
        "the scheduler is applying its previous change to this job; retry");
  }
  const int64_t now_ms = Ms(now);
  internal::NewRun nr;
  nr.tick = -now_ms;
  // Two triggers within one millisecond: take the next free id.
  while (view.runs != nullptr && view.runs->contains(nr.tick)) --nr.tick;
  nr.manual = true;
  nr.now_ms = now_ms;
  nr.scheduler_id = scheduler_id_;
  const jobpb::CronPolicy& p = view.record->job().cron();
  auto active = internal::ActiveRuns(state, view, now_ms);
  if (!active.empty() && p.concurrency() == jobpb::CronPolicy::FORBID) {
    return absl::AbortedError(absl::StrCat(
        "concurrency forbid: run ", active.front()->value.tick_unix(),
        " is still active; nothing was started"));
  }
  sched::StoreTxn txn;
  internal::AddMarkerCond(view, &txn);
  std::vector<jobpb::CronRun> written =
      internal::FinalizeFinished(state, view, now_ms, &txn);
  if (p.concurrency() == jobpb::CronPolicy::REPLACE) {
    for (const auto* run : active) {
      internal::StopReplaced(state, *run, nr.tick, now_ms, &txn);
    }
  }
  jobpb::CronRun run = internal::PutNewRun(view, nr, &txn);
  internal::PutMarker(view, false, 0, 1, 0, 0, &txn);
  absl::StatusOr<Outcome> out = Commit(txn, fence, job);
  if (!out.ok()) return out.status();
  if (*out == Outcome::kUnknown) {
    return absl::UnavailableError(
        "outcome unknown (lockd did not answer); check the job's history "
        "before triggering again");
  }
  if (*out == Outcome::kConflict) {
    return absl::AbortedError("the job changed concurrently; retry");
  }
  ++stats_.claims;
  stats_.finalized += static_cast<int64_t>(written.size());
  stats_.replaced += p.concurrency() == jobpb::CronPolicy::REPLACE
                         ? static_cast<int64_t>(active.size())
                         : 0;
  active_.insert(job);
  if (auto it = index_.find(job); it != index_.end()) {
    heap_.Erase(it->second);
    blocked_.insert(it->second);
  }
  return run.alloc_id();
}

std::optional<absl::Time> CronEngine::NextRun(const sched::JobId& job) const {
  auto it = index_.find(job);
  if (it == index_.end()) return std::nullopt;
  const Entry& e = entries_[it->second];
  if (!e.schedule || e.next_tick == 0) return std::nullopt;
  return absl::FromUnixSeconds(e.next_tick);
}

}  // namespace berth::cron
