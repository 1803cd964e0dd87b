#include "lockservice/lockd/lock_acquisition.h"
#include "lockservice/lockd/services.h"
#include "lockservice/lockd/unary_call.h"

namespace berth::lockd {
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

// Runs one acquisition as a callback-API call: the grant (or why not) is
// filled in by `fill` and finishes the call; a client that goes away
// cancels the acquisition, which leaves the queue or hands the lock back.
template <typename Resp, typename Fill>
grpc::ServerUnaryReactor* AcquireCall(Core* core,
                                      grpc::CallbackServerContext* ctx,
                                      lockpb::LockAcquireCmd acq,
                                      absl::Time deadline, Resp* resp,
                                      Fill fill) {
  auto* call = new UnaryCall();
  lockpb::Command cmd;
  *cmd.mutable_lock_acquire() = acq;
  if (absl::Status a = core->Authorize(*ctx, cmd); !a.ok()) {
    call->Reply(a);
    return call;
  }
  std::shared_ptr<LockAcquisition> a =
      LockAcquisition::Start(core, std::move(acq), deadline,
                             [core, call, resp, fill = std::move(fill)](
                                 absl::StatusOr<lockpb::LockAcquireResult> r) {
                               if (!r.ok()) return call->Reply(r.status());
                               fill(*r, resp);
                               core->FillHeader(resp->mutable_header());
                               call->Reply(absl::OkStatus());
                             });
  call->set_on_cancel([a] { a->Cancel(); });
  return call;
}

}  // namespace

grpc::ServerUnaryReactor* LockService::Lock(grpc::CallbackServerContext* ctx,
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
  return AcquireCall(
      core_, ctx, ToAcquire(*req, false), deadline, resp,
      [](const lockpb::LockAcquireResult& r, lockpb::LockResponse* out) {
        out->set_key(r.key());
        out->set_token(r.token());
      });
}

grpc::ServerUnaryReactor* LockService::TryLock(grpc::CallbackServerContext* ctx,
                                               const lockpb::LockRequest* req,
                                               lockpb::TryLockResponse* resp) {
  return AcquireCall(
      core_, ctx, ToAcquire(*req, true), core_->Deadline(ctx), resp,
      [](const lockpb::LockAcquireResult& r, lockpb::TryLockResponse* out) {
        out->set_acquired(r.granted());
        out->set_key(r.key());
        out->set_token(r.token());
      });
}

grpc::ServerUnaryReactor* LockService::Unlock(grpc::CallbackServerContext* ctx,
                                              const lockpb::UnlockRequest* req,
                                              lockpb::UnlockResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_lock_release()->set_name(req->name());
  cmd.mutable_lock_release()->set_token(req->token());
  return ProposeCall(core_, ctx, std::move(cmd), resp, false,
                     [](lockpb::CommandResult&, lockpb::UnlockResponse*) {});
}

grpc::ServerUnaryReactor* LockService::Holder(grpc::CallbackServerContext* ctx,
                                              const lockpb::HolderRequest* req,
                                              lockpb::HolderResponse* resp) {
  if (absl::Status a = core_->AuthorizeKeys(*ctx, lock::kPermLock,
                                            "read the lock", req->name(), "");
      !a.ok()) {
    return RefusedCall(a);
  }
  return ReadCall(core_, ctx, false, resp, [req](lock::StateMachine& sm) {
    return sm.Holder(req->name());
  });
}

grpc::ServerUnaryReactor* LockService::CheckToken(
    grpc::CallbackServerContext* ctx, const lockpb::CheckTokenRequest* req,
    lockpb::CheckTokenResponse* resp) {
  if (absl::Status a = core_->AuthorizeKeys(*ctx, lock::kPermLock,
                                            "read the lock", req->name(), "");
      !a.ok()) {
    return RefusedCall(a);
  }
  return ReadCall(core_, ctx, false, resp, [req](lock::StateMachine& sm) {
    return sm.CheckToken(req->name(), req->token());
  });
}

}  // namespace berth::lockd
