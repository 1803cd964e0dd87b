// Scheduler's user-facing operations: validated writes through fenced
// transactions, and reads from the mirror.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"
#include "scheduler/cron/schedule.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/server/namespace_checks.h"
#include "scheduler/server/node_drain.h"
#include "scheduler/server/scheduler.h"
#include "scheduler/spec/job_spec.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

// The server re-checks what the CLI's parser guarantees, so a hand-made
// request can never store something the scheduler cannot run.
absl::Status ValidateJob(const jobpb::Job& job, absl::Time now) {
  std::string where =
      absl::StrCat("job \"", job.namespace_(), "/", job.name(), "\": ");
  if (job.name().empty() || job.namespace_().empty()) {
    return absl::InvalidArgumentError("job: name and namespace are required");
  }
  if (job.spec_hash() != JobSpecHash(job)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        "spec_hash does not match the spec (submit specs produced by "
        "the berth CLI's parser)"));
  }
  if (job.task().command().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "task.command is empty"));
  }
  if (job.kind() == jobpb::CRON) {
    absl::StatusOr<cron::Schedule> s =
        cron::Schedule::Parse(job.cron().schedule(), job.cron().timezone());
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "cron.schedule: ", s.status().message()));
    }
    if (!s->Next(now).has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "cron.schedule \"",
                                                     job.cron().schedule(),
                                                     "\" never fires again"));
    }
  }
  return absl::OkStatus();
}

// A warning when no registered node could ever hold one task.
std::string CapacityWarning(const ClusterState& s, const jobpb::Job& job) {
  const jobpb::Resources& r = job.task().resources();
  if (s.nodes().empty()) {
    return "warning: no agent is registered; the job stays pending until one "
           "is";
  }
  for (const auto& [name, n] : s.nodes()) {
    if (n.cpu_millicores() >= r.cpu_millicores() &&
        n.memory_bytes() >= r.memory_bytes() &&
        (r.pids() == 0 || n.pids() == 0 || n.pids() >= r.pids())) {
      return "";
    }
  }
  return absl::StrCat("warning: no node has ", r.cpu_millicores(), "m cpu and ",
                      r.memory_bytes() / (1 << 20),
                      "MiB memory; the job stays pending until one joins");
}

}  // namespace

absl::StatusOr<schedpb::SubmitJobResponse> Scheduler::Submit(
    const schedpb::SubmitJobRequest& req) {
  const jobpb::Job& job = req.job();
  const absl::Time now = opts_.clock->Now();
  if (absl::Status s = ValidateJob(job, now); !s.ok()) return s;
  StoreTxn txn;
  schedpb::SubmitJobResponse resp;
  std::string warning;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) {
      return NotLeaderLocked();
    }
    if (!NamespaceExists(state_, job.namespace_())) {
      return UnknownNamespace(job.namespace_());
    }
    const std::string key = JobKey(job.namespace_(), job.name());
    auto it = state_.jobs().find({job.namespace_(), job.name()});
    jobpb::JobRecord rec;
    if (it == state_.jobs().end()) {
      if (req.expected_version() > 0) {
        return absl::AbortedError(
            absl::StrCat("conflicting update: job ", JobName(job),
                         " does not exist, but version ",
                         req.expected_version(), " was expected"));
      }
      rec.set_version(1);
      rec.set_submit_unix_ms(absl::ToUnixMillis(now));
      *rec.mutable_job() = job;
      txn.conds.push_back(StoreCond::Absent(key));
    } else {
      const jobpb::JobRecord& old = it->second.value;
      if (req.expected_version() > 0 &&
          req.expected_version() != old.version()) {
        return absl::AbortedError(absl::StrCat(
            "conflicting update: job ", JobName(job), " is at version ",
            old.version(), ", not ", req.expected_version(),
            " (someone else changed it; re-read and retry)"));
      }
      if (old.job().kind() != job.kind()) {
        return absl::FailedPreconditionError(
            absl::StrCat("job ", JobName(job), " exists with kind ",
                         jobpb::Kind_Name(old.job().kind()),
                         "; stop it with --purge "
                         "before submitting it as ",
                         jobpb::Kind_Name(job.kind())));
      }
      if (old.job().spec_hash() == job.spec_hash() && !old.stopped()) {
        resp.set_version(old.version());
        resp.set_changed(false);
        resp.set_message("unchanged");
        return resp;
      }
      rec = old;
      rec.set_stopped(false);
      if (old.job().spec_hash() != job.spec_hash()) {
        *rec.mutable_previous() = old.job();
        *rec.mutable_job() = job;
        rec.set_version(old.version() + 1);
        jobpb::Rollout* r = rec.mutable_rollout();
        r->Clear();
        r->set_from_version(old.version());
        r->set_to_version(rec.version());
        r->set_started_unix_ms(absl::ToUnixMillis(now));
      }
      if (job.kind() == jobpb::BATCH && old.stopped()) {
        rec.set_submit_unix_ms(absl::ToUnixMillis(now));
      }
      txn.conds.push_back(StoreCond::ModRevision(key, it->second.mod_revision));
    }
    txn.ops.push_back(StoreOp::Put(key, rec.SerializeAsString()));
    resp.set_version(rec.version());
    resp.set_changed(true);
    warning = CapacityWarning(state_, job);
  }
  absl::Status s = CommitOne(txn);
  if (s.code() == absl::StatusCode::kAborted) {
    return absl::AbortedError(
        absl::StrCat("conflicting update: job ", JobName(job),
                     " changed while this submit was in flight; retry"));
  }
  if (!s.ok()) return s;
  resp.set_message(warning.empty() ? "submitted" : warning);
  absl::MutexLock l(&mu_);
  kick_ = true;
  return resp;
}

absl::StatusOr<schedpb::StopJobResponse> Scheduler::Stop(
    const schedpb::StopJobRequest& req) {
  // A stop is what the operator wants whatever the record now says, so a
  // write that lost to the reconciler's or cron's (a cron job writes its
  // record on every tick) is rebuilt from the newer record, not refused.
  for (int attempt = 0;; ++attempt) {
    StoreTxn txn;
    int64_t read_at = 0;
    {
      absl::MutexLock l(&mu_);
      if (!leader_) {
        return NotLeaderLocked();
      }
      auto it = state_.jobs().find({req.namespace_(), req.job()});
      if (it == state_.jobs().end()) {
        return absl::NotFoundError(absl::StrCat("job ", req.namespace_(), "/",
                                                req.job(), " does not exist"));
      }
      const std::string key = JobKey(req.namespace_(), req.job());
      txn.conds.push_back(StoreCond::ModRevision(key, it->second.mod_revision));
      if (req.purge()) {
        txn.ops.push_back(StoreOp::Delete(key));
        txn.ops.push_back(
            StoreOp::DeletePrefix(CronRunsPrefix(req.namespace_(), req.job())));
        txn.ops.push_back(
            StoreOp::Delete(CronMarkerKey(req.namespace_(), req.job())));
        txn.ops.push_back(
            StoreOp::DeletePrefix(EventsPrefix(req.namespace_(), req.job())));
      } else {
        jobpb::JobRecord rec = it->second.value;
        rec.set_stopped(true);
        txn.ops.push_back(StoreOp::Put(key, rec.SerializeAsString()));
      }
      read_at = state_.revision();
    }
    absl::Status s = CommitOne(txn);
    if (s.ok()) break;
    if (!absl::IsAborted(s)) return s;
    if (attempt + 1 >= kApiWriteAttempts) {
      return absl::AbortedError(
          absl::StrCat("job ", req.namespace_(), "/", req.job(),
                       " kept changing concurrently; retry the stop"));
    }
    AwaitMirrorPast(read_at);
  }
  absl::MutexLock l(&mu_);
  kick_ = true;
  schedpb::StopJobResponse resp;
  resp.set_message(req.purge() ? "stopping; the job and its history are "
                                 "deleted"
                               : "stopping");
  return resp;
}

void Scheduler::AwaitMirrorPast(int64_t read_at) {
  absl::MutexLock l(&mu_);
  auto moved = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_.revision() > read_at || stopping_;
  };
  AwaitMonotonic(&mu_, absl::Condition(&moved), absl::Seconds(2));
}

absl::StatusOr<schedpb::TriggerJobResponse> Scheduler::Trigger(
    const schedpb::TriggerJobRequest& req) {
  absl::MutexLock l(&mu_);
  if (!leader_ || cron_ == nullptr) {
    return NotLeaderLocked();
  }
  const jobpb::JobRecord* rec = state_.FindJob({req.namespace_(), req.job()});
  if (rec == nullptr) {
    return absl::NotFoundError(absl::StrCat("job ", req.namespace_(), "/",
                                            req.job(), " does not exist"));
  }
  if (rec->job().kind() != jobpb::CRON) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", req.namespace_(), "/", req.job(), " is a ",
        jobpb::Kind_Name(rec->job().kind()), " job; only cron jobs trigger"));
  }
  absl::StatusOr<std::string> id = cron_->Trigger(
      state_, {req.namespace_(), req.job()}, opts_.clock->Now(), fence_);
  if (!id.ok()) return id.status();
  kick_ = true;
  schedpb::TriggerJobResponse resp;
  resp.set_run_id(*id);
  resp.set_message("triggered");
  return resp;
}

absl::Status Scheduler::CreateNamespace(const std::string& name) {
  if (name.empty() || name.size() > 63 ||
      !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name,
                     "\" is not a valid namespace (lower-case letters, digits "
                     "and '-', at most 63)"));
  }
  {
    absl::MutexLock l(&mu_);
    if (!leader_) {
      return NotLeaderLocked();
    }
  }
  StoreTxn txn;
  txn.ops.push_back(StoreOp::Put(NamespaceKey(name), ""));
  return CommitOne(txn);
}

absl::StatusOr<schedpb::ListJobsResponse> Scheduler::ListJobs(
    const std::string& ns) const {
  absl::MutexLock l(&mu_);
  // An empty list from a scheduler that has not loaded the mirror would
  // look like "no jobs"; Unavailable sends the CLI to the next scheduler.
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  schedpb::ListJobsResponse resp;
  for (const auto& [id, v] : state_.jobs()) {
    if (!ns.empty() && id.first != ns) continue;
    schedpb::JobSummary* s = resp.add_jobs();
    s->set_namespace_(id.first);
    s->set_name(id.second);
    s->set_kind(v.value.job().kind());
    s->set_version(v.value.version());
    *s->mutable_status() = v.value.status();
    s->set_priority(v.value.job().priority());
    s->set_stopped(v.value.stopped());
    const bool suspended =
        v.value.suspended() ||
        (v.value.job().kind() == jobpb::CRON && v.value.job().cron().suspend());
    s->set_suspended(suspended);
    if (v.value.job().kind() == jobpb::CRON && !v.value.stopped() &&
        !suspended) {
      absl::StatusOr<cron::Schedule> sched = cron::Schedule::Parse(
          v.value.job().cron().schedule(), v.value.job().cron().timezone());
      if (sched.ok()) {
        std::optional<absl::Time> next = sched->Next(opts_.clock->Now());
        if (next) s->set_next_run_unix(absl::ToUnixSeconds(*next));
      }
    }
  }
  return resp;
}

absl::StatusOr<schedpb::JobStatusResponse> Scheduler::JobStatus(
    const std::string& ns, const std::string& job) const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  const jobpb::JobRecord* rec = state_.FindJob({ns, job});
  if (rec == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("job ", ns, "/", job, " does not exist"));
  }
  schedpb::JobStatusResponse resp;
  *resp.mutable_record() = *rec;
  for (const std::string& id : state_.AllocsOf({ns, job})) {
    schedpb::AllocationView* v = resp.add_allocations();
    *v->mutable_alloc() = state_.allocs().at(id).value;
    if (const agentpb::AllocationStatus* s = state_.FindStatus(id)) {
      *v->mutable_status() = *s;
    }
  }
  auto ev = state_.events().find({ns, job});
  if (ev != state_.events().end()) {
    for (const jobpb::Event& e : ev->second) *resp.add_events() = e;
  }
  return resp;
}

absl::StatusOr<schedpb::JobHistoryResponse> Scheduler::JobHistory(
    const std::string& ns, const std::string& job) const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  const jobpb::JobRecord* rec = state_.FindJob({ns, job});
  if (rec == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("job ", ns, "/", job, " does not exist"));
  }
  schedpb::JobHistoryResponse resp;
  auto runs = state_.cron_runs().find({ns, job});
  if (runs != state_.cron_runs().end()) {
    for (const auto& [tick, v] : runs->second) *resp.add_runs() = v.value;
  }
  auto m = state_.cron_markers().find({ns, job});
  if (m != state_.cron_markers().end())
    *resp.mutable_marker() = m->second.value;
  return resp;
}

absl::StatusOr<schedpb::ListNodesResponse> Scheduler::ListNodes(
    bool with_allocations) const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  schedpb::ListNodesResponse resp;
  std::map<std::string, schedpb::NodeView*> by_name;
  for (const auto& [name, info] : state_.nodes()) {
    schedpb::NodeView* v = resp.add_nodes();
    *v->mutable_info() = info;
    v->set_draining(state_.draining().count(name) > 0);
    by_name[name] = v;
  }
  FillDrainViews(state_, &resp);
  for (const auto& [id, v] : state_.allocs()) {
    const jobpb::Allocation& a = v.value;
    auto it = by_name.find(a.node());
    if (it == by_name.end() || !IsLive(a)) continue;
    jobpb::Resources* r = it->second->mutable_allocated();
    r->set_cpu_millicores(r->cpu_millicores() + a.resources().cpu_millicores());
    r->set_memory_bytes(r->memory_bytes() + a.resources().memory_bytes());
    r->set_pids(r->pids() + a.resources().pids());
    it->second->set_allocations(it->second->allocations() + 1);
    if (!with_allocations) continue;
    schedpb::AllocationView* view = it->second->add_allocs();
    *view->mutable_alloc() = a;
    if (const agentpb::AllocationStatus* s = state_.FindStatus(id)) {
      *view->mutable_status() = *s;
    }
  }
  return resp;
}

}  // namespace berth::sched
