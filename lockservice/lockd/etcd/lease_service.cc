#include <atomic>
#include <thread>

#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {
namespace {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

// etcd's error for a lease that does not exist, which clients match on.
Status LeaseNotFound() {
  return Status(grpc::StatusCode::NOT_FOUND,
                "etcdserver: requested lease not found");
}

}  // namespace

Status LeaseService::LeaseGrant(ServerContext* ctx,
                                const etcdserverpb::LeaseGrantRequest* req,
                                etcdserverpb::LeaseGrantResponse* resp) {
  lockpb::LeaseGrantRequest in;
  in.set_ttl(req->ttl());
  in.set_id(req->id());
  lockpb::LeaseGrantResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Lease::NewStub(ch)->LeaseGrant(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  resp->set_id(out.id());
  resp->set_ttl(out.ttl());
  return Status::OK;
}

Status LeaseService::LeaseRevoke(ServerContext* ctx,
                                 const etcdserverpb::LeaseRevokeRequest* req,
                                 etcdserverpb::LeaseRevokeResponse* resp) {
  lockpb::LeaseRevokeRequest in;
  in.set_id(req->id());
  lockpb::LeaseRevokeResponse out;
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Lease::NewStub(ch)->LeaseRevoke(c, in, &out);
  });
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return LeaseNotFound();
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  return Status::OK;
}

// Renewals live in the leader's memory, so the stream is relayed to the
// leader's own keep-alive stream. If leadership moves, the upstream ends
// and so does this stream; etcd clients open a new one, which goes to the
// new leader.
Status LeaseService::LeaseKeepAlive(
    ServerContext* ctx,
    grpc::ServerReaderWriter<LeaseKeepAliveResponse, LeaseKeepAliveRequest>*
        stream) {
  if (Status a = Backend::RefuseAgents(*ctx); !a.ok()) return a;
  auto cctx = b_->ContextFor(ctx);
  auto up =
      lockpb::Lease::NewStub(b_->LeaderChannel())->LeaseKeepAlive(cctx.get());
  // One thread per direction: this one relays answers, `reader` requests.
  std::atomic<bool> client_done{false};
  std::thread reader([&] {
    LeaseKeepAliveRequest req;
    while (stream->Read(&req)) {
      lockpb::LeaseKeepAliveRequest in;
      in.set_id(req.id());
      if (!up->Write(in)) break;
    }
    up->WritesDone();
    client_done = true;
  });
  lockpb::LeaseKeepAliveResponse out;
  while (up->Read(&out)) {
    LeaseKeepAliveResponse r;
    ToEtcdHeader(out.header(), r.mutable_header());
    r.set_id(out.id());
    r.set_ttl(out.ttl());
    if (!stream->Write(r)) break;
  }
  // The upstream is gone (or the client stopped reading): unless the
  // client already closed its side, cancel the call, which unblocks the
  // reader's Read.
  cctx->TryCancel();
  grpc::Status st = up->Finish();
  if (!client_done) ctx->TryCancel();
  reader.join();
  return st.ok() ? Status::OK : st;
}

Status LeaseService::LeaseTimeToLive(
    ServerContext* ctx, const etcdserverpb::LeaseTimeToLiveRequest* req,
    etcdserverpb::LeaseTimeToLiveResponse* resp) {
  lockpb::LeaseTimeToLiveRequest in;
  in.set_id(req->id());
  in.set_keys(req->keys());
  lockpb::LeaseTimeToLiveResponse out;
  // The leader knows renewals not yet checkpointed into the log.
  Status st = b_->OnLeader(ctx, [&](auto ch, grpc::ClientContext* c) {
    return lockpb::Lease::NewStub(ch)->LeaseTimeToLive(c, in, &out);
  });
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  resp->set_id(out.id());
  resp->set_ttl(out.ttl());
  resp->set_granted_ttl(out.granted_ttl());
  for (const std::string& k : out.keys()) resp->add_keys(k);
  return Status::OK;
}

Status LeaseService::LeaseLeases(ServerContext* ctx,
                                 const etcdserverpb::LeaseLeasesRequest* req,
                                 etcdserverpb::LeaseLeasesResponse* resp) {
  lockpb::LeaseLeasesResponse out;
  auto cctx = b_->ContextFor(ctx);
  Status st = lockpb::Lease::NewStub(b_->Local())
                  ->LeaseLeases(cctx.get(), lockpb::LeaseLeasesRequest(), &out);
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  for (const lockpb::LeaseStatus& l : out.leases())
    resp->add_leases()->set_id(l.id());
  return Status::OK;
}

}  // namespace berth::lockd::etcd
