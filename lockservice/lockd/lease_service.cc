#include <algorithm>
#include <optional>

#include "lockservice/lockd/keepalive_stream.h"
#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/lockd/node_authorizer.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

// A keepalive stream refused before it started (auth).
class RefusedStream final
    : public grpc::ServerBidiReactor<lockpb::LeaseKeepAliveRequest,
                                     lockpb::LeaseKeepAliveResponse> {
 public:
  explicit RefusedStream(const absl::Status& st) { Finish(ToGrpc(st)); }
  void OnDone() override { delete this; }
};

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
  if (absl::Status a = core_->Authorize(*ctx, cmd); !a.ok()) return ToGrpc(a);
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  // An id can be granted again after its lease ended.
  core_->lease_keeper()->Forget(r->lease().id());
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
  grpc::Status st = core_->ProposeInto(ctx, std::move(cmd), resp);
  if (st.ok()) core_->lease_keeper()->Forget(req->id());
  return st;
}

grpc::ServerBidiReactor<lockpb::LeaseKeepAliveRequest,
                        lockpb::LeaseKeepAliveResponse>*
LeaseService::LeaseKeepAlive(grpc::CallbackServerContext* ctx) {
  if (absl::Status a = core_->AuthorizeCaller(*ctx); !a.ok()) {
    return new RefusedStream(a);
  }
  return new KeepAliveStream(core_, &keepalive_stats_, 16384,
                             AgentNodeOf(*ctx));
}

grpc::Status LeaseService::LeaseTimeToLive(
    grpc::ServerContext* ctx, const lockpb::LeaseTimeToLiveRequest* req,
    lockpb::LeaseTimeToLiveResponse* resp) {
  if (absl::Status a = core_->AuthorizeCaller(*ctx); !a.ok()) return ToGrpc(a);
  absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  absl::StatusOr<lockpb::LeaseTimeToLiveResponse> r =
      core_->store()->Read([&](lock::StateMachine& sm) {
        return sm.TimeToLive(req->id(), req->keys());
      });
  if (!r.ok()) return ToGrpc(r.status());
  // Listing a lease's keys reads them.
  for (const std::string& key : r->keys()) {
    if (absl::Status a =
            core_->AuthorizeKeys(*ctx, lock::kPermRead, "read", key, "");
        !a.ok()) {
      return ToGrpc(a);
    }
  }
  *resp = std::move(*r);
  // The log lags the leader's renewals by up to a checkpoint interval; the
  // leader answers with what it has promised.
  node::NodeStatus s = core_->node()->GetStatus();
  if (resp->ttl() >= 0 && s.role == raft::Role::kLeader) {
    std::optional<absl::Duration> local =
        core_->lease_keeper()->Remaining(s.term, req->id());
    if (local.has_value()) {
      resp->set_ttl(std::max(resp->ttl(),
                             CeilSeconds(absl::ToInt64Milliseconds(*local))));
    }
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status LeaseService::LeaseLeases(grpc::ServerContext* ctx,
                                       const lockpb::LeaseLeasesRequest* req,
                                       lockpb::LeaseLeasesResponse* resp) {
  if (absl::Status a = core_->AuthorizeCaller(*ctx); !a.ok()) return ToGrpc(a);
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
