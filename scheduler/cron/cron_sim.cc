#include "scheduler/cron/cron_sim.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scheduler/state/keys.h"

namespace berth::cron::sim {

Leader::Leader(sched::MemStore* store, std::string id, int64_t token,
               EngineOptions options)
    : store_(store),
      fence_{sched::kLeaderElection, token},
      engine_(store, std::move(id), std::move(options)) {}

absl::Status Leader::Start(absl::Time now) {
  absl::StatusOr<sched::StoreSnapshot> snap = store_->Load(sched::kBerthPrefix);
  if (!snap.ok()) return snap.status();
  state_.Reset(*snap);
  absl::StatusOr<std::unique_ptr<sched::StoreWatch>> w =
      store_->Watch(sched::kBerthPrefix, snap->revision + 1);
  if (!w.ok()) return w.status();
  watch_ = *std::move(w);
  engine_.Sync(state_, now);
  return absl::OkStatus();
}

absl::Status Leader::Pump(absl::Time now) {
  if (partitioned_) return absl::OkStatus();
  absl::StatusOr<std::vector<sched::StoreEvent>> events =
      watch_->Next(absl::ZeroDuration());
  if (absl::IsOutOfRange(events.status())) return Start(now);
  if (!events.ok()) return events.status();
  for (const sched::StoreEvent& e : *events) {
    state_.Apply(e);
    sched::KeyRef ref = sched::ParseKey(e.key);
    if (ref.type == sched::KeyRef::Type::kJob) {
      engine_.OnJobChanged(state_, {ref.ns, ref.job}, now);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> Leader::Step(absl::Time now) {
  if (absl::Status s = Pump(now); !s.ok()) return s;
  absl::StatusOr<absl::Time> next = engine_.Step(state_, now, fence_);
  if (absl::Status s = Pump(now); !s.ok()) return s;
  return next;
}

absl::Status Leader::Settle(absl::Time now, int max_rounds) {
  for (int i = 0; i < max_rounds; ++i) {
    int64_t before = store_->commits();
    absl::StatusOr<absl::Time> next = Step(now);
    if (!next.ok()) return next.status();
    if (store_->commits() != before) continue;
    if (engine_.quiescent()) return absl::OkStatus();
    // Only retries after unknown outcomes remain; they wait for time.
    return absl::UnavailableError("commits with unknown outcome pending");
  }
  return absl::DeadlineExceededError(
      absl::StrCat("engine not quiescent after ", max_rounds, " rounds"));
}

jobpb::JobRecord CronJob(const CronJobArgs& a) {
  jobpb::JobRecord rec;
  jobpb::Job* job = rec.mutable_job();
  job->set_name(a.name);
  job->set_namespace_(a.ns);
  job->set_kind(jobpb::CRON);
  job->set_priority(50);
  job->mutable_task()->add_command("/bin/true");
  job->mutable_task()->mutable_resources()->set_cpu_millicores(100);
  job->mutable_task()->mutable_resources()->set_memory_bytes(64 << 20);
  job->mutable_task()->mutable_restart()->set_policy(
      jobpb::RestartPolicy::NEVER);
  job->mutable_task()->set_timeout_ms(a.timeout_ms);
  jobpb::CronPolicy* c = job->mutable_cron();
  c->set_schedule(a.schedule);
  c->set_timezone(a.timezone);
  c->set_concurrency(a.concurrency);
  c->set_catch_up(a.catch_up);
  c->set_starting_deadline_ms(a.starting_deadline_ms);
  c->set_successful_history_limit(a.successful_history);
  c->set_failed_history_limit(a.failed_history);
  c->set_suspend(a.suspend);
  job->set_spec_version(1);
  // Any value that changes with the spec will do for the engine.
  job->set_spec_hash(absl::StrCat(a.schedule, "|", a.timezone, "|",
                                  a.concurrency, a.catch_up, a.suspend));
  rec.set_version(1);
  rec.set_submit_unix_ms(a.submit_unix_ms);
  rec.set_suspended(a.suspended);
  return rec;
}

absl::Status PutJob(sched::Store* store, const jobpb::JobRecord& rec) {
  sched::StoreTxn txn;
  txn.ops.push_back(sched::StoreOp::Put(
      sched::JobKey(rec.job().namespace_(), rec.job().name()),
      rec.SerializeAsString()));
  return store->Commit(txn, sched::Fence{}).status();
}

absl::Status PutStatus(sched::Store* store,
                       const agentpb::AllocationStatus& status) {
  sched::StoreTxn txn;
  txn.ops.push_back(sched::StoreOp::Put(sched::StatusKey(status.alloc_id()),
                                        status.SerializeAsString()));
  return store->Commit(txn, sched::Fence{}).status();
}

}  // namespace berth::cron::sim
