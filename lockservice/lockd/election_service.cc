#include "lockservice/lockd/lock_acquisition.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {

grpc::Status ElectionService::Campaign(grpc::ServerContext* ctx,
                                       const lockpb::CampaignRequest* req,
                                       lockpb::CampaignResponse* resp) {
  lockpb::LockAcquireCmd acq;
  acq.set_name(req->name());
  acq.set_lease(req->lease());
  acq.set_value(req->value());
  // A leader that dies hands over at once: followers are waiting for it.
  acq.set_lock_delay_ms(0);
  lockpb::Command cmd;
  *cmd.mutable_lock_acquire() = acq;
  if (absl::Status a = core_->Authorize(*ctx, cmd); !a.ok()) return ToGrpc(a);
  absl::Time deadline = absl::InfiniteFuture();
  if (req->timeout_ms() > 0) {
    deadline = absl::Now() + absl::Milliseconds(req->timeout_ms());
  }
  auto cd = ctx->deadline();
  if (cd != std::chrono::system_clock::time_point::max()) {
    deadline = std::min(deadline, absl::FromChrono(cd));
  }
  absl::StatusOr<lockpb::LockAcquireResult> r =
      AcquireLockBlocking(core_, ctx, acq, deadline);
  if (!r.ok()) return ToGrpc(r.status());
  lockpb::LeaderKey* lk = resp->mutable_leader();
  lk->set_name(req->name());
  lk->set_key(r->key());
  lk->set_rev(r->token());
  lk->set_lease(req->lease());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status ElectionService::Proclaim(grpc::ServerContext* ctx,
                                       const lockpb::ProclaimRequest* req,
                                       lockpb::ProclaimResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_proclaim()->set_name(req->leader().name());
  cmd.mutable_proclaim()->set_token(req->leader().rev());
  cmd.mutable_proclaim()->set_value(req->value());
  return core_->ProposeInto(ctx, std::move(cmd), resp);
}

grpc::Status ElectionService::Leader(grpc::ServerContext* ctx,
                                     const lockpb::LeaderRequest* req,
                                     lockpb::LeaderResponse* resp) {
  if (absl::Status a = core_->AuthorizeKeys(
          *ctx, lock::kPermLock, "read the election", req->name(), "");
      !a.ok()) {
    return ToGrpc(a);
  }
  return core_->ReadInto(ctx, resp, [&](lock::StateMachine& sm) {
    return sm.Leader(req->name());
  });
}

grpc::Status ElectionService::Observe(
    grpc::ServerContext* ctx, const lockpb::LeaderRequest* req,
    grpc::ServerWriter<lockpb::LeaderResponse>* writer) {
  if (absl::Status a = core_->AuthorizeKeys(
          *ctx, lock::kPermLock, "observe the election", req->name(), "");
      !a.ok()) {
    return ToGrpc(a);
  }
  // Watch the lock's holder keys ("<name>/<lease>") and re-read the leader
  // whenever one changes; send only real changes of leader or value.
  WatchSink sink(10000);
  std::string prefix = req->name() + "/";
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  int64_t compact = 0;
  absl::Status st = core_->store()->StartWatch(
      &sink, 1, WatchHub::Spec{prefix, end, 0, false}, &compact);
  if (!st.ok()) return ToGrpc(st);
  std::string last;
  bool first = true;
  grpc::Status result = grpc::Status::OK;
  while (!ctx->IsCancelled()) {
    auto r = core_->store()->Read(
        [&](lock::StateMachine& sm) { return sm.Leader(req->name()); });
    if (!r.ok()) {
      result = ToGrpc(r.status());
      break;
    }
    std::string fp = r->kv().SerializeAsString();
    if (first || fp != last) {
      core_->FillHeader(r->mutable_header());
      if (!writer->Write(*r)) break;
      last = fp;
      first = false;
    }
    std::vector<lockpb::WatchResponse> ev;
    while (ev.empty() && !ctx->IsCancelled()) {
      if (!sink.Pop(&ev, absl::Now() + absl::Milliseconds(500))) break;
    }
    bool cancelled = false;
    for (auto& e : ev) cancelled |= e.canceled();
    if (cancelled) {
      result = grpc::Status(grpc::StatusCode::ABORTED,
                            "observer fell behind; observe again");
      break;
    }
  }
  hub_->RemoveSink(&sink);
  return result;
}

grpc::Status ElectionService::Resign(grpc::ServerContext* ctx,
                                     const lockpb::ResignRequest* req,
                                     lockpb::ResignResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_lock_release()->set_name(req->leader().name());
  cmd.mutable_lock_release()->set_token(req->leader().rev());
  return core_->ProposeInto(ctx, std::move(cmd), resp);
}

}  // namespace berth::lockd
