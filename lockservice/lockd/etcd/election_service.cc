#include "lockservice/lockd/etcd/kv_convert.h"
#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {
namespace {

lockpb::LeaderKey ToBerth(const v3electionpb::LeaderKey& in) {
  lockpb::LeaderKey out;
  out.set_name(in.name());
  out.set_key(in.key());
  out.set_rev(in.rev());
  out.set_lease(in.lease());
  return out;
}

// etcd's answer when nobody leads, which clients match on.
Status NoLeader() {
  return Status(grpc::StatusCode::NOT_FOUND, "election: no leader");
}

}  // namespace

// A v3election election is a berth election of the same name (berth runs
// elections on its lock queue), so berth and etcd clients can campaign
// against each other. LeaderKey.rev is berth's fencing token.
Status ElectionService::Campaign(ServerContext* ctx,
                                 const v3electionpb::CampaignRequest* req,
                                 v3electionpb::CampaignResponse* resp) {
  lockpb::CampaignRequest in;
  in.set_name(req->name());
  in.set_lease(req->lease());
  in.set_value(req->value());
  lockpb::CampaignResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Election::NewStub(ch)->Campaign(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  v3electionpb::LeaderKey* lk = resp->mutable_leader();
  lk->set_name(out.leader().name());
  lk->set_key(out.leader().key());
  lk->set_rev(out.leader().rev());
  lk->set_lease(out.leader().lease());
  return Status::OK;
}

Status ElectionService::Proclaim(ServerContext* ctx,
                                 const v3electionpb::ProclaimRequest* req,
                                 v3electionpb::ProclaimResponse* resp) {
  lockpb::ProclaimRequest in;
  *in.mutable_leader() = ToBerth(req->leader());
  in.set_value(req->value());
  lockpb::ProclaimResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Election::NewStub(ch)->Proclaim(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  return Status::OK;
}

Status ElectionService::Leader(ServerContext* ctx,
                               const v3electionpb::LeaderRequest* req,
                               v3electionpb::LeaderResponse* resp) {
  lockpb::LeaderRequest in;
  in.set_name(req->name());
  lockpb::LeaderResponse out;
  auto cctx = b_->ContextFor(ctx);
  Status st =
      lockpb::Election::NewStub(b_->Local())->Leader(cctx.get(), in, &out);
  if (!st.ok()) return st;
  if (!out.has_kv()) return NoLeader();
  ToEtcdHeader(out.header(), resp->mutable_header());
  ToEtcd(out.kv(), resp->mutable_kv());
  return Status::OK;
}

Status ElectionService::Observe(
    ServerContext* ctx, const v3electionpb::LeaderRequest* req,
    grpc::ServerWriter<v3electionpb::LeaderResponse>* writer) {
  lockpb::LeaderRequest in;
  in.set_name(req->name());
  auto cctx = b_->ContextFor(ctx);
  auto up = lockpb::Election::NewStub(b_->Local())->Observe(cctx.get(), in);
  lockpb::LeaderResponse out;
  while (up->Read(&out)) {
    // etcd's Observe reports leaders only, not vacancies.
    if (!out.has_kv()) continue;
    v3electionpb::LeaderResponse r;
    ToEtcdHeader(out.header(), r.mutable_header());
    ToEtcd(out.kv(), r.mutable_kv());
    if (!writer->Write(r)) break;
  }
  cctx->TryCancel();
  return up->Finish();
}

Status ElectionService::Resign(ServerContext* ctx,
                               const v3electionpb::ResignRequest* req,
                               v3electionpb::ResignResponse* resp) {
  lockpb::ResignRequest in;
  *in.mutable_leader() = ToBerth(req->leader());
  lockpb::ResignResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Election::NewStub(ch)->Resign(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  return Status::OK;
}

}  // namespace berth::lockd::etcd
