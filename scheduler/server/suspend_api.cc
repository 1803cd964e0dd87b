// berth job suspend|resume: flips JobRecord.suspended in one fenced,
// conditional write. The reconciler then stops (or places again) a service's
// or batch job's allocations; the cron engine records a suspended cron
// job's ticks as skipped and decides catch-up on resume (cron/suspend.h).
#include "absl/strings/str_cat.h"
#include "scheduler/server/scheduler.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

std::string Name(const schedpb::SuspendJobRequest& req) {
  return absl::StrCat(req.namespace_(), "/", req.job());
}

std::string Done(const jobpb::JobRecord& rec, bool suspend) {
  if (!suspend) {
    if (rec.job().kind() == jobpb::CRON && rec.job().cron().suspend()) {
      return "resumed by the operator, but its spec still sets "
             "cron.suspend: true, so ticks stay skipped until the spec "
             "changes";
    }
    return rec.job().kind() == jobpb::CRON
               ? "resumed; the next ticks run"
               : "resumed; its allocations are placed again";
  }
  return rec.job().kind() == jobpb::CRON
             ? "suspended; its ticks are recorded as skipped (reason "
               "\"suspended\") until it is resumed"
             : "suspended; its allocations are being stopped (the job, its "
               "version and history are kept)";
}

}  // namespace

absl::StatusOr<schedpb::SuspendJobResponse> Scheduler::SetSuspended(
    const schedpb::SuspendJobRequest& req, bool suspend) {
  schedpb::SuspendJobResponse resp;
  for (int attempt = 0;; ++attempt) {
    StoreTxn txn;
    int64_t read_at = 0;
    {
      absl::MutexLock l(&mu_);
      if (!leader_) return NotLeaderLocked();
      auto it = state_.jobs().find({req.namespace_(), req.job()});
      if (it == state_.jobs().end()) {
        return absl::NotFoundError(
            absl::StrCat("job ", Name(req), " does not exist"));
      }
      const jobpb::JobRecord& old = it->second.value;
      if (old.stopped()) {
        return absl::FailedPreconditionError(
            absl::StrCat("job ", Name(req),
                         " is stopped; submit it again (berth job run) "
                         "before suspending or resuming it"));
      }
      if (old.suspended() == suspend) {
        resp.set_changed(false);
        resp.set_message(suspend ? "already suspended" : "not suspended");
        if (!suspend && old.job().kind() == jobpb::CRON &&
            old.job().cron().suspend()) {
          resp.set_message(
              "not suspended by an operator; its spec sets cron.suspend: "
              "true (change the spec and run it again to resume)");
        }
        return resp;
      }
      jobpb::JobRecord rec = old;
      rec.set_suspended(suspend);
      if (suspend) {
        rec.set_suspended_unix_ms(absl::ToUnixMillis(opts_.clock->Now()));
      }
      const std::string key = JobKey(req.namespace_(), req.job());
      txn.conds.push_back(StoreCond::ModRevision(key, it->second.mod_revision));
      txn.ops.push_back(StoreOp::Put(key, rec.SerializeAsString()));
      resp.set_changed(true);
      resp.set_message(Done(rec, suspend));
      read_at = state_.revision();
    }
    absl::Status s = CommitOne(txn);
    if (s.ok()) break;
    if (!absl::IsAborted(s) || attempt + 1 >= kApiWriteAttempts) {
      if (absl::IsAborted(s)) {
        return absl::AbortedError(absl::StrCat(
            "job ", Name(req), " kept changing concurrently; retry"));
      }
      return s;
    }
    AwaitMirrorPast(read_at);
  }
  absl::MutexLock l(&mu_);
  kick_ = true;
  return resp;
}

}  // namespace berth::sched
