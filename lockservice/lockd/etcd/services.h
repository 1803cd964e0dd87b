// The etcd v3 services of berth-lockd's etcd adapter, one class per etcd
// service, each in its own .cc. Each translates the etcd request into
// berth's (kv_convert.h), runs it through the Backend and translates the
// answer back. Methods berth does not serve are absent from the protos and
// answered by UnimplementedService (unimplemented.h).
//
// They use gRPC's sync API: one thread per call, blocked on the berth call
// it forwards (KV: on the Core's proposal or read barrier). Simple, and
// enough for etcd tooling; berth's own API, on gRPC's callback API, stays
// the fastest path (docs/etcd-compat.md, docs/benchmarks.md).
//
// Thread safety: gRPC calls these from its threads; all state is in the
// Backend (thread-safe), which must outlive them.
#ifndef BERTH_LOCKSERVICE_LOCKD_ETCD_SERVICES_H_
#define BERTH_LOCKSERVICE_LOCKD_ETCD_SERVICES_H_

#include "lockservice/lockd/etcd/backend.h"
#include "lockservice/lockd/etcd/kv_convert.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "proto/etcd/v3election.grpc.pb.h"
#include "proto/etcd/v3lock.grpc.pb.h"

namespace berth::lockd::etcd {

using grpc::ServerContext;
using grpc::Status;

class KvService final : public etcdserverpb::KV::Service {
 public:
  explicit KvService(Backend* b) : b_(b) {}
  Status Range(ServerContext* ctx, const etcdserverpb::RangeRequest* req,
               etcdserverpb::RangeResponse* resp) override;
  Status Put(ServerContext* ctx, const etcdserverpb::PutRequest* req,
             etcdserverpb::PutResponse* resp) override;
  Status DeleteRange(ServerContext* ctx,
                     const etcdserverpb::DeleteRangeRequest* req,
                     etcdserverpb::DeleteRangeResponse* resp) override;
  Status Txn(ServerContext* ctx, const etcdserverpb::TxnRequest* req,
             etcdserverpb::TxnResponse* resp) override;
  Status Compact(ServerContext* ctx, const etcdserverpb::CompactionRequest* req,
                 etcdserverpb::CompactionResponse* resp) override;

 private:
  Backend* const b_;
};

class LeaseService final : public etcdserverpb::Lease::Service {
 public:
  explicit LeaseService(Backend* b) : b_(b) {}
  Status LeaseGrant(ServerContext* ctx,
                    const etcdserverpb::LeaseGrantRequest* req,
                    etcdserverpb::LeaseGrantResponse* resp) override;
  Status LeaseRevoke(ServerContext* ctx,
                     const etcdserverpb::LeaseRevokeRequest* req,
                     etcdserverpb::LeaseRevokeResponse* resp) override;
  Status LeaseKeepAlive(
      ServerContext* ctx,
      grpc::ServerReaderWriter<etcdserverpb::LeaseKeepAliveResponse,
                               etcdserverpb::LeaseKeepAliveRequest>* stream)
      override;
  Status LeaseTimeToLive(ServerContext* ctx,
                         const etcdserverpb::LeaseTimeToLiveRequest* req,
                         etcdserverpb::LeaseTimeToLiveResponse* resp) override;
  Status LeaseLeases(ServerContext* ctx,
                     const etcdserverpb::LeaseLeasesRequest* req,
                     etcdserverpb::LeaseLeasesResponse* resp) override;

 private:
  Backend* const b_;
};

class WatchService final : public etcdserverpb::Watch::Service {
 public:
  explicit WatchService(Backend* b) : b_(b) {}
  Status Watch(
      ServerContext* ctx,
      grpc::ServerReaderWriter<etcdserverpb::WatchResponse,
                               etcdserverpb::WatchRequest>* stream) override;

 private:
  Backend* const b_;
};

class ClusterService final : public etcdserverpb::Cluster::Service {
 public:
  explicit ClusterService(Backend* b) : b_(b) {}
  Status MemberList(ServerContext* ctx,
                    const etcdserverpb::MemberListRequest* req,
                    etcdserverpb::MemberListResponse* resp) override;

 private:
  Backend* const b_;
};

class MaintenanceService final : public etcdserverpb::Maintenance::Service {
 public:
  explicit MaintenanceService(Backend* b) : b_(b) {}
  // grpc::Status spelled out: inside this class `Status` names the method.
  grpc::Status Status(ServerContext* ctx,
                      const etcdserverpb::StatusRequest* req,
                      etcdserverpb::StatusResponse* resp) override;

 private:
  Backend* const b_;
};

class LockService final : public v3lockpb::Lock::Service {
 public:
  explicit LockService(Backend* b) : b_(b) {}
  Status Lock(ServerContext* ctx, const v3lockpb::LockRequest* req,
              v3lockpb::LockResponse* resp) override;
  Status Unlock(ServerContext* ctx, const v3lockpb::UnlockRequest* req,
                v3lockpb::UnlockResponse* resp) override;

 private:
  Backend* const b_;
};

class ElectionService final : public v3electionpb::Election::Service {
 public:
  explicit ElectionService(Backend* b) : b_(b) {}
  Status Campaign(ServerContext* ctx, const v3electionpb::CampaignRequest* req,
                  v3electionpb::CampaignResponse* resp) override;
  Status Proclaim(ServerContext* ctx, const v3electionpb::ProclaimRequest* req,
                  v3electionpb::ProclaimResponse* resp) override;
  Status Leader(ServerContext* ctx, const v3electionpb::LeaderRequest* req,
                v3electionpb::LeaderResponse* resp) override;
  Status Observe(
      ServerContext* ctx, const v3electionpb::LeaderRequest* req,
      grpc::ServerWriter<v3electionpb::LeaderResponse>* writer) override;
  Status Resign(ServerContext* ctx, const v3electionpb::ResignRequest* req,
                v3electionpb::ResignResponse* resp) override;

 private:
  Backend* const b_;
};

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_SERVICES_H_
