#include "lockservice/lockd/lock_acquisition.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"

namespace berth::lockd {
namespace {

// How long the clean-up proposals (leave the queue, release a lock nobody
// wants any more) may take; they run after the caller's deadline.
constexpr absl::Duration kCleanupTimeout = absl::Seconds(5);

}  // namespace

std::shared_ptr<LockAcquisition> LockAcquisition::Start(
    Core* core, lockpb::LockAcquireCmd acq, absl::Time deadline, Done done) {
  auto a = std::make_shared<LockAcquisition>(core, std::move(acq), deadline,
                                             std::move(done));
  a->Begin();
  return a;
}

LockAcquisition::LockAcquisition(Core* core, lockpb::LockAcquireCmd acq,
                                 absl::Time deadline, Done done)
    : core_(core),
      acq_(std::move(acq)),
      deadline_(deadline),
      done_(std::move(done)) {}

void LockAcquisition::Begin() {
  if (acq_.lease() == 0) {
    Complete(absl::InvalidArgumentError(
        "a lock needs a lease: grant one (or open a Session) and pass its id"));
    return;
  }
  lockpb::Command cmd;
  request_id_ = core_->NextRequestId();
  cmd.set_request_id(request_id_);
  *cmd.mutable_lock_acquire() = acq_;
  if (!acq_.try_only() && deadline_ != absl::InfiniteFuture()) {
    // The state machine drops the waiter at this leader time even if this
    // RPC (or this replica) is gone by then.
    cmd.mutable_lock_acquire()->set_wait_deadline_ms(
        core_->ToLeaderTimeMs(deadline_));
  }
  if (!acq_.try_only()) {
    // Register before proposing: the grant may be applied in the same batch
    // as the acquire, before the acquire's own answer arrives.
    Register();
  }
  core_->ProposeAsync(
      std::move(cmd), deadline_,
      [self = shared_from_this()](absl::StatusOr<lockpb::CommandResult> r) {
        self->OnAcquired(std::move(r));
      });
}

void LockAcquisition::Register() {
  const uint64_t h = core_->store()->AddLockWaiter(
      acq_.name(), acq_.lease(), [self = shared_from_this()](LockWaitResult r) {
        self->OnNotice(std::move(r));
      });
  absl::MutexLock l(&mu_);
  waiter_ = h;
}

void LockAcquisition::OnAcquired(absl::StatusOr<lockpb::CommandResult> r) {
  enum { kNone, kFinish, kLeave, kRelease } act = kNone;
  absl::StatusOr<lockpb::LockAcquireResult> result;
  int64_t token = 0;
  {
    absl::MutexLock l(&mu_);
    if (!r.ok()) {
      act = kFinish;
      result = r.status();
    } else if (r->lock().granted() && cancelled_) {
      act = kRelease;
      token = r->lock().token();
    } else if (r->lock().granted() || acq_.try_only()) {
      act = kFinish;
      result = r->lock();
    } else {
      ahead_ = r->lock().queue_position();
      if (notice_.has_value() && notice_->granted && cancelled_) {
        act = kRelease;
        token = notice_->token;
      } else if (notice_.has_value()) {
        act = kFinish;
        result = FromNotice(*notice_);
      } else if (cancelled_) {
        act = kLeave;
      } else {
        phase_ = Phase::kWaiting;
        if (deadline_ != absl::InfiniteFuture()) {
          timer_ = core_->timers()->Schedule(
              deadline_, [self = shared_from_this()] { self->OnTimeout(); });
        }
      }
    }
    if (act == kLeave) phase_ = Phase::kLeaving;
    if (act == kRelease) phase_ = Phase::kReleasing;
  }
  if (act == kFinish) Complete(std::move(result));
  if (act == kLeave) Leave();
  if (act == kRelease) Release(token);
}

void LockAcquisition::OnNotice(LockWaitResult r) {
  bool reregister = false;
  bool finish = false;
  absl::StatusOr<lockpb::LockAcquireResult> result;
  {
    absl::MutexLock l(&mu_);
    waiter_ = 0;  // the store fired and dropped the registration
    switch (phase_) {
      case Phase::kAcquiring:
        // A drop of this lease's waiter that was queued by an earlier call
        // can be applied before our acquire; it is not ours. (A grant is:
        // the lease holds the lock now.)
        if (!r.granted && r.request_id != request_id_) {
          reregister = true;
        } else {
          notice_ = std::move(r);
        }
        break;
      case Phase::kWaiting:
        result = FromNotice(r);
        notice_ = std::move(r);
        finish = true;
        break;
      case Phase::kLeaving:
        notice_ = std::move(r);  // OnLeft reads it
        break;
      default:
        break;
    }
  }
  if (reregister) Register();
  if (finish) Complete(std::move(result));
}

void LockAcquisition::OnTimeout() {
  {
    absl::MutexLock l(&mu_);
    timer_ = 0;
    if (phase_ != Phase::kWaiting) return;
    phase_ = Phase::kLeaving;
  }
  Leave();
}

void LockAcquisition::Cancel() {
  uint64_t timer = 0;
  {
    absl::MutexLock l(&mu_);
    cancelled_ = true;
    // In kAcquiring, OnAcquired sees the flag: leaving before the acquire
    // applied would be a no-op, and the waiter would be queued after all.
    if (phase_ != Phase::kWaiting) return;
    phase_ = Phase::kLeaving;
    std::swap(timer, timer_);
  }
  if (timer != 0) core_->timers()->Cancel(timer);
  Leave();
}

void LockAcquisition::Leave() {
  lockpb::Command cancel;
  cancel.mutable_lock_cancel()->set_name(acq_.name());
  cancel.mutable_lock_cancel()->set_lease(acq_.lease());
  // If the grant races with the cancel, its notice arrives before the
  // cancel's answer (both apply on the driver thread, in log order).
  core_->ProposeAsync(
      std::move(cancel), absl::Now() + kCleanupTimeout,
      [self = shared_from_this()](absl::StatusOr<lockpb::CommandResult>) {
        self->OnLeft();
      });
}

void LockAcquisition::OnLeft() {
  absl::StatusOr<lockpb::LockAcquireResult> result;
  int64_t release = 0;
  {
    absl::MutexLock l(&mu_);
    if (notice_.has_value() && notice_->granted) {
      if (cancelled_) {
        release = notice_->token;
        phase_ = Phase::kReleasing;
      } else {
        result = FromNotice(*notice_);
      }
    } else if (notice_.has_value() &&
               notice_->dropped_reason.code() != absl::StatusCode::kCancelled) {
      // Dropped for a reason of its own (lease expired, deadline) before
      // our cancel; a kCancelled drop is our own LockCancel.
      result = FromNotice(*notice_);
    } else if (cancelled_) {
      result = absl::CancelledError(
          absl::StrCat("client went away while waiting for lock ", acq_.name(),
                       "; left the queue"));
    } else {
      result = absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for lock ", acq_.name(), " (", ahead_,
                       " waiter(s) were ahead)"));
    }
  }
  if (release != 0) {
    Release(release);
  } else {
    Complete(std::move(result));
  }
}

void LockAcquisition::Release(int64_t token) {
  lockpb::Command rel;
  rel.mutable_lock_release()->set_name(acq_.name());
  rel.mutable_lock_release()->set_token(token);
  core_->ProposeAsync(
      std::move(rel), absl::Now() + kCleanupTimeout,
      [self = shared_from_this()](absl::StatusOr<lockpb::CommandResult>) {
        self->Complete(absl::CancelledError("client went away; lock released"));
      });
}

void LockAcquisition::Complete(absl::StatusOr<lockpb::LockAcquireResult> r) {
  Done done;
  uint64_t waiter = 0, timer = 0;
  {
    absl::MutexLock l(&mu_);
    if (phase_ == Phase::kDone) return;
    phase_ = Phase::kDone;
    done = std::move(done_);
    std::swap(waiter, waiter_);
    std::swap(timer, timer_);
  }
  // Drop the registrations: each holds a reference to this object.
  if (waiter != 0) core_->store()->RemoveLockWaiter(waiter);
  if (timer != 0) core_->timers()->Cancel(timer);
  std::move(done)(std::move(r));
}

absl::StatusOr<lockpb::LockAcquireResult> LockAcquisition::FromNotice(
    const LockWaitResult& w) const {
  if (w.granted) {
    lockpb::LockAcquireResult out;
    out.set_granted(true);
    out.set_token(w.token);
    out.set_key(w.key);
    return out;
  }
  return absl::Status(w.dropped_reason.code() == absl::StatusCode::kOk
                          ? absl::StatusCode::kAborted
                          : w.dropped_reason.code(),
                      absl::StrCat("lock ", acq_.name(), ": waiter dropped: ",
                                   w.dropped_reason.message()));
}

absl::StatusOr<lockpb::LockAcquireResult> AcquireLockBlocking(
    Core* core, const grpc::ServerContextBase* ctx,
    const lockpb::LockAcquireCmd& acq, absl::Time deadline) {
  Notice n;
  absl::StatusOr<lockpb::LockAcquireResult> result;
  std::shared_ptr<LockAcquisition> a = LockAcquisition::Start(
      core, acq, deadline, [&](absl::StatusOr<lockpb::LockAcquireResult> r) {
        result = std::move(r);
        n.Notify();
      });
  // This caller owns a thread anyway (a sync RPC); look at the context now
  // and then so that a client that hangs up stops waiting promptly.
  bool cancelled = false;
  while (!n.WaitFor(absl::Milliseconds(200))) {
    if (!cancelled && ctx->IsCancelled()) {
      cancelled = true;
      a->Cancel();
    }
  }
  return result;
}

}  // namespace berth::lockd
