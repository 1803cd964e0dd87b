#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

}  // namespace

grpc::Status LeaseService::LeaseGrant(grpc::ServerContext* ctx,
                                      const lockpb::LeaseGrantRequest* req,
                                      lockpb::LeaseGrantResponse* resp) {
  if (req->ttl() <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "lease ttl must be a positive number of seconds");
  }
  lockpb::Command cmd;
  cmd.mutable_lease_grant()->set_id(req->id());
  cmd.mutable_lease_grant()->set_ttl_ms(req->ttl() * 1000);
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  resp->set_id(r->lease().id());
  resp->set_ttl(CeilSeconds(r->lease().ttl_ms()));
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status LeaseService::LeaseRevoke(grpc::ServerContext* ctx,
                                       const lockpb::LeaseRevokeRequest* req,
                                       lockpb::LeaseRevokeResponse* resp) {
  lockpb::Command cmd;
  cmd.mutable_lease_revoke()->set_id(req->id());
  return core_->ProposeInto(ctx, std::move(cmd), resp);
}

grpc::Status LeaseService::LeaseKeepAlive(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<lockpb::LeaseKeepAliveResponse,
                             lockpb::LeaseKeepAliveRequest>* stream) {
  lockpb::LeaseKeepAliveRequest req;
  while (stream->Read(&req)) {
    // Keepalives are replicated (they move the lease's deadline in the
    // log), so a new leader resumes each countdown instead of resetting it.
    lockpb::Command cmd;
    cmd.mutable_lease_keepalive()->set_id(req.id());
    absl::StatusOr<lockpb::CommandResult> r = core_->Propose(
        std::move(cmd), core_->clock()->Now() + absl::Seconds(5));
    lockpb::LeaseKeepAliveResponse resp;
    resp.set_id(req.id());
    if (r.ok()) {
      resp.set_ttl(CeilSeconds(r->lease().ttl_ms()));
    } else if (absl::IsNotFound(r.status())) {
      resp.set_ttl(0);  // the lease is gone: the session is lost
    } else {
      // Not the leader, or no quorum: end the stream so the client
      // reconnects to whoever leads now.
      return ToGrpc(r.status());
    }
    core_->FillHeader(resp.mutable_header());
    if (!stream->Write(resp)) break;
  }
  return grpc::Status::OK;
}

grpc::Status LeaseService::LeaseTimeToLive(
    grpc::ServerContext* ctx, const lockpb::LeaseTimeToLiveRequest* req,
    lockpb::LeaseTimeToLiveResponse* resp) {
  absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  absl::StatusOr<lockpb::LeaseTimeToLiveResponse> r =
      core_->store()->Read([&](lock::StateMachine& sm) {
        return sm.TimeToLive(req->id(), req->keys());
      });
  if (!r.ok()) return ToGrpc(r.status());
  *resp = std::move(*r);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status LeaseService::LeaseLeases(grpc::ServerContext* ctx,
                                       const lockpb::LeaseLeasesRequest* req,
                                       lockpb::LeaseLeasesResponse* resp) {
  absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  auto r =
      core_->store()->Read([&](lock::StateMachine& sm) { return sm.Leases(); });
  if (!r.ok()) return ToGrpc(r.status());
  for (const lock::LeaseRecord& l : *r) resp->add_leases()->set_id(l.id);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

}  // namespace berth::lockd
