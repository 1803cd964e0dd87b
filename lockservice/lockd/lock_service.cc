#include "absl/strings/str_cat.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {

absl::StatusOr<lockpb::LockAcquireResult> AcquireLock(
    Core* core, grpc::ServerContext* ctx, const lockpb::LockAcquireCmd& acq,
    absl::Time deadline) {
  if (acq.lease() == 0) {
    return absl::InvalidArgumentError(
        "a lock needs a lease: grant one (or open a Session) and pass its id");
  }
  lockpb::Command cmd;
  uint64_t request_id = core->NextRequestId();
  cmd.set_request_id(request_id);
  *cmd.mutable_lock_acquire() = acq;
  if (!acq.try_only() && deadline != absl::InfiniteFuture()) {
    // The state machine drops the waiter at this leader time even if this
    // RPC (or this replica) is gone by then.
    cmd.mutable_lock_acquire()->set_wait_deadline_ms(
        absl::ToUnixMillis(deadline));
  }
  // Register before proposing: the grant may be applied before Propose
  // returns to us.
  core->store()->ExpectLockNotice(request_id);
  absl::StatusOr<lockpb::CommandResult> r = core->Propose(cmd, deadline);
  if (!r.ok() || r->lock().granted() || acq.try_only()) {
    core->store()->ForgetLockNotice(request_id);
    if (!r.ok()) return r.status();
    return r->lock();
  }
  int64_t ahead = r->lock().queue_position();
  // Wait in slices so that a client that hangs up stops waiting promptly.
  // A retried acquire for a lease that was already queued keeps the
  // original waiter (and its request id), so the grant notice may go to an
  // earlier call. Between slices, also ask the state machine who holds it.
  auto held_by_us = [&]() -> std::optional<LockWaitResult> {
    auto holder = core->store()->Read(
        [&](lock::StateMachine& sm) { return sm.Holder(acq.name()); });
    if (holder.ok() && holder->held() && holder->lease() == acq.lease()) {
      return LockWaitResult{true, holder->token(), holder->key(),
                            absl::OkStatus()};
    }
    return std::nullopt;
  };
  std::optional<LockWaitResult> w;
  while (!w.has_value() && absl::Now() < deadline && !ctx->IsCancelled()) {
    w = core->store()->AwaitLockNotice(
        request_id, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
    if (!w.has_value()) w = held_by_us();
  }
  if (!w.has_value()) {
    // Leave the queue. If the grant raced with us, it shows up as a notice
    // by the time the cancel applies, and we hand the lock back.
    lockpb::Command cancel;
    cancel.mutable_lock_cancel()->set_name(acq.name());
    cancel.mutable_lock_cancel()->set_lease(acq.lease());
    core->Propose(cancel, absl::Now() + absl::Seconds(5)).IgnoreError();
    w = core->store()->AwaitLockNotice(request_id, absl::Now());
  }
  core->store()->ForgetLockNotice(request_id);
  if (!w.has_value()) w = held_by_us();
  if (w.has_value() && w->granted) {
    if (ctx->IsCancelled()) {
      lockpb::Command rel;
      rel.mutable_lock_release()->set_name(acq.name());
      rel.mutable_lock_release()->set_token(w->token);
      core->Propose(rel, absl::Now() + absl::Seconds(5)).IgnoreError();
      return absl::CancelledError("client went away; lock released");
    }
    lockpb::LockAcquireResult out;
    out.set_granted(true);
    out.set_token(w->token);
    out.set_key(w->key);
    return out;
  }
  if (w.has_value()) {
    return absl::Status(w->dropped_reason.code() == absl::StatusCode::kOk
                            ? absl::StatusCode::kAborted
                            : w->dropped_reason.code(),
                        absl::StrCat("lock ", acq.name(), ": waiter dropped: ",
                                     w->dropped_reason.message()));
  }
  return absl::DeadlineExceededError(absl::StrCat("timed out waiting for lock ",
                                                  acq.name(), " (", ahead,
                                                  " waiter(s) were ahead)"));
}

namespace {

lockpb::LockAcquireCmd ToAcquire(const lockpb::LockRequest& req,
                                 bool try_only) {
  lockpb::LockAcquireCmd acq;
  acq.set_name(req.name());
  acq.set_lease(req.lease());
  acq.set_value(req.value());
  acq.set_try_only(try_only);
  if (req.has_lock_delay_ms()) acq.set_lock_delay_ms(req.lock_delay_ms());
  return acq;
}

}  // namespace

grpc::Status LockService::Lock(grpc::ServerContext* ctx,
                               const lockpb::LockRequest* req,
                               lockpb::LockResponse* resp) {
  absl::Time deadline = absl::InfiniteFuture();
  if (req->timeout_ms() > 0) {
    deadline = absl::Now() + absl::Milliseconds(req->timeout_ms());
  }
  auto cd = ctx->deadline();
  if (cd != std::chrono::system_clock::time_point::max()) {
    deadline = std::min(deadline, absl::FromChrono(cd));
  }
  absl::StatusOr<lockpb::LockAcquireResult> r =
      AcquireLock(core_, ctx, ToAcquire(*req, false), deadline);
  if (!r.ok()) return ToGrpc(r.status());
  resp->set_key(r->key());
  resp->set_token(r->token());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status LockService::TryLock(grpc::ServerContext* ctx,
                                  const lockpb::LockRequest* req,
                                  lockpb::TryLockResponse* resp) {
  absl::StatusOr<lockpb::LockAcquireResult> r =
      AcquireLock(core_, ctx, ToAcquire(*req, true), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  resp->set_acquired(r->granted());
  resp->set_key(r->key());
  resp->set_token(r->token());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status LockService::Unlock(grpc::ServerContext* ctx,
                                 const lockpb::UnlockRequest* req,
                                 lockpb::UnlockResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_lock_release()->set_name(req->name());
  cmd.mutable_lock_release()->set_token(req->token());
  return core_->ProposeInto(ctx, std::move(cmd), resp);
}

grpc::Status LockService::Holder(grpc::ServerContext* ctx,
                                 const lockpb::HolderRequest* req,
                                 lockpb::HolderResponse* resp) {
  return core_->ReadInto(ctx, resp, [&](lock::StateMachine& sm) {
    return sm.Holder(req->name());
  });
}

grpc::Status LockService::CheckToken(grpc::ServerContext* ctx,
                                     const lockpb::CheckTokenRequest* req,
                                     lockpb::CheckTokenResponse* resp) {
  absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  auto r = core_->store()->Read([&](lock::StateMachine& sm) {
    return sm.CheckToken(req->name(), req->token());
  });
  if (!r.ok()) return ToGrpc(r.status());
  *resp = std::move(*r);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

}  // namespace berth::lockd
