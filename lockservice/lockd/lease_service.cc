#include <algorithm>
#include <optional>

#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

// Not the leader any more (or not yet): the error that sends the client to
// whoever leads now.
absl::Status LeadershipLost(Core* core) {
  absl::Status st = core->RequireLeader();
  if (!st.ok()) return st;
  return absl::UnavailableError(
      "leadership changed while renewing the lease; reconnect and retry");
}

// The old path: the renewal as a log entry. Used only while the leader is
// proposing this lease's expiry, so that the log orders the two.
absl::StatusOr<int64_t> RenewInLog(Core* core, int64_t id) {
  lockpb::Command cmd;
  cmd.mutable_lease_keepalive()->set_id(id);
  absl::StatusOr<lockpb::CommandResult> r =
      core->Propose(std::move(cmd), core->clock()->Now() + absl::Seconds(5));
  if (absl::IsNotFound(r.status())) return 0;
  if (!r.ok()) return r.status();
  return r->lease().ttl_ms();
}

// Renews lease `id` in the leader's memory (see lease_keeper.h). Returns the
// TTL granted in ms, 0 if the lease does not exist, or the error that must
// end the stream (not the leader, no quorum).
absl::StatusOr<int64_t> RenewLease(Core* core, int64_t id) {
  node::NodeStatus s = core->node()->GetStatus();
  if (s.role != raft::Role::kLeader) return LeadershipLost(core);
  // A leader that was deposed without knowing it cannot pass the barrier:
  // it needs a heartbeat round acknowledged by a quorum in its term. The
  // barrier is batched, so concurrent keepalives share one round.
  absl::Status barrier =
      core->ReadBarrier(false, core->clock()->Now() + absl::Seconds(5));
  if (!barrier.ok()) return barrier;
  absl::StatusOr<std::optional<lock::LeaseRecord>> lease =
      core->store()->Read([&](lock::StateMachine& sm) { return sm.Lease(id); });
  if (!lease.ok()) return lease.status();
  if (!lease->has_value()) return 0;  // the session is lost
  int64_t ttl_ms = (*lease)->ttl_ms;
  switch (core->lease_keeper()->Renew(s.term, id, ttl_ms)) {
    case LeaseKeeper::RenewOutcome::kRenewed:
      return ttl_ms;
    case LeaseKeeper::RenewOutcome::kExpiring:
      return RenewInLog(core, id);
    case LeaseKeeper::RenewOutcome::kNotLeader:
      break;
  }
  return LeadershipLost(core);
}

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

grpc::Status LeaseService::LeaseKeepAlive(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<lockpb::LeaseKeepAliveResponse,
                             lockpb::LeaseKeepAliveRequest>* stream) {
  lockpb::LeaseKeepAliveRequest req;
  while (stream->Read(&req)) {
    // Renewed in the leader's memory, not in the log: the leader
    // checkpoints remaining TTLs periodically (lease_keeper.h).
    absl::StatusOr<int64_t> ttl_ms = RenewLease(core_, req.id());
    // Not the leader, or no quorum: end the stream so the client
    // reconnects to whoever leads now.
    if (!ttl_ms.ok()) return ToGrpc(ttl_ms.status());
    lockpb::LeaseKeepAliveResponse resp;
    resp.set_id(req.id());
    resp.set_ttl(CeilSeconds(*ttl_ms));  // 0: the session is lost
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
