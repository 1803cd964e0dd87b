// The gRPC services of berth-lockd, one class per service in lock.proto.
// Each is a thin adapter: validate, propose or read through Core, answer.
//
// KV and Lock, the hot paths, use gRPC's callback API: a handler starts a
// proposal or read barrier and returns; the Raft driver's completion
// callback fills in the response and finishes the call (unary_call.h), so
// no thread is parked per in-flight request. So does LeaseKeepAlive
// (keepalive_stream.h). The other services still use the sync API (one
// thread per call) and Core's blocking forms.
//
// Thread safety: gRPC calls these from its threads; all state lives in
// Core (thread-safe). Each service borrows the Core, which must outlive it.
#ifndef BERTH_LOCKSERVICE_LOCKD_SERVICES_H_
#define BERTH_LOCKSERVICE_LOCKD_SERVICES_H_

#include "lockservice/lockd/core.h"
#include "lockservice/lockd/keepalive_stream.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd {

class KvService final : public lockpb::KV::CallbackService {
 public:
  explicit KvService(Core* core) : core_(core) {}
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx,
                                  const lockpb::RangeRequest* req,
                                  lockpb::RangeResponse* resp) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const lockpb::PutRequest* req,
                                lockpb::PutResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRange(
      grpc::CallbackServerContext* ctx, const lockpb::DeleteRangeRequest* req,
      lockpb::DeleteRangeResponse* resp) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* ctx,
                                const lockpb::TxnRequest* req,
                                lockpb::TxnResponse* resp) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* ctx,
                                    const lockpb::CompactionRequest* req,
                                    lockpb::CompactionResponse* resp) override;

 private:
  Core* const core_;
};

// LeaseKeepAlive alone uses the callback API: its stream reads ahead and
// renews a batch of leases behind one barrier (keepalive_stream.h).
class LeaseService final
    : public lockpb::Lease::WithCallbackMethod_LeaseKeepAlive<
          lockpb::Lease::Service> {
 public:
  explicit LeaseService(Core* core) : core_(core) {}
  grpc::Status LeaseGrant(grpc::ServerContext* ctx,
                          const lockpb::LeaseGrantRequest* req,
                          lockpb::LeaseGrantResponse* resp) override;
  grpc::Status LeaseRevoke(grpc::ServerContext* ctx,
                           const lockpb::LeaseRevokeRequest* req,
                           lockpb::LeaseRevokeResponse* resp) override;
  grpc::ServerBidiReactor<lockpb::LeaseKeepAliveRequest,
                          lockpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* ctx) override;
  grpc::Status LeaseTimeToLive(grpc::ServerContext* ctx,
                               const lockpb::LeaseTimeToLiveRequest* req,
                               lockpb::LeaseTimeToLiveResponse* resp) override;
  grpc::Status LeaseLeases(grpc::ServerContext* ctx,
                           const lockpb::LeaseLeasesRequest* req,
                           lockpb::LeaseLeasesResponse* resp) override;

  const KeepAliveStats& keepalive_stats() const { return keepalive_stats_; }

 private:
  Core* const core_;
  KeepAliveStats keepalive_stats_;
};

class WatchService final : public lockpb::Watch::Service {
 public:
  explicit WatchService(Core* core, WatchHub* hub) : core_(core), hub_(hub) {}
  grpc::Status Watch(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<lockpb::WatchResponse, lockpb::WatchRequest>*
          stream) override;

 private:
  Core* const core_;
  WatchHub* const hub_;
};

class LockService final : public lockpb::Lock::CallbackService {
 public:
  explicit LockService(Core* core) : core_(core) {}
  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext* ctx,
                                 const lockpb::LockRequest* req,
                                 lockpb::LockResponse* resp) override;
  grpc::ServerUnaryReactor* TryLock(grpc::CallbackServerContext* ctx,
                                    const lockpb::LockRequest* req,
                                    lockpb::TryLockResponse* resp) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext* ctx,
                                   const lockpb::UnlockRequest* req,
                                   lockpb::UnlockResponse* resp) override;
  grpc::ServerUnaryReactor* Holder(grpc::CallbackServerContext* ctx,
                                   const lockpb::HolderRequest* req,
                                   lockpb::HolderResponse* resp) override;
  grpc::ServerUnaryReactor* CheckToken(
      grpc::CallbackServerContext* ctx, const lockpb::CheckTokenRequest* req,
      lockpb::CheckTokenResponse* resp) override;

 private:
  Core* const core_;
};

class ElectionService final : public lockpb::Election::Service {
 public:
  ElectionService(Core* core, WatchHub* hub) : core_(core), hub_(hub) {}
  grpc::Status Campaign(grpc::ServerContext* ctx,
                        const lockpb::CampaignRequest* req,
                        lockpb::CampaignResponse* resp) override;
  grpc::Status Proclaim(grpc::ServerContext* ctx,
                        const lockpb::ProclaimRequest* req,
                        lockpb::ProclaimResponse* resp) override;
  grpc::Status Leader(grpc::ServerContext* ctx,
                      const lockpb::LeaderRequest* req,
                      lockpb::LeaderResponse* resp) override;
  grpc::Status Observe(
      grpc::ServerContext* ctx, const lockpb::LeaderRequest* req,
      grpc::ServerWriter<lockpb::LeaderResponse>* writer) override;
  grpc::Status Resign(grpc::ServerContext* ctx,
                      const lockpb::ResignRequest* req,
                      lockpb::ResignResponse* resp) override;

 private:
  Core* const core_;
  WatchHub* const hub_;
};

class ClusterService final : public lockpb::Cluster::Service {
 public:
  ClusterService(Core* core, int64_t quota_backend_bytes)
      : core_(core), quota_backend_bytes_(quota_backend_bytes) {}
  grpc::Status Status(grpc::ServerContext* ctx,
                      const lockpb::StatusRequest* req,
                      lockpb::StatusResponse* resp) override;
  grpc::Status MemberList(grpc::ServerContext* ctx,
                          const lockpb::MemberListRequest* req,
                          lockpb::MemberListResponse* resp) override;
  grpc::Status MemberAdd(grpc::ServerContext* ctx,
                         const lockpb::MemberAddRequest* req,
                         lockpb::MemberAddResponse* resp) override;
  grpc::Status MemberRemove(grpc::ServerContext* ctx,
                            const lockpb::MemberRemoveRequest* req,
                            lockpb::MemberRemoveResponse* resp) override;
  grpc::Status TransferLeader(grpc::ServerContext* ctx,
                              const lockpb::TransferLeaderRequest* req,
                              lockpb::TransferLeaderResponse* resp) override;
  // Local to this replica: gives its free SQLite pages back in short steps
  // (cluster_defrag.cc).
  grpc::Status Defragment(grpc::ServerContext* ctx,
                          const lockpb::DefragmentRequest* req,
                          lockpb::DefragmentResponse* resp) override;

 private:
  void FillMembers(google::protobuf::RepeatedPtrField<lockpb::Member>* out);
  Core* const core_;
  const int64_t quota_backend_bytes_;
};

// Users, roles and the auth switch (rbac.h, docs/security.md). Changes
// are proposed as AuthCmds; reads answer from the applied state after a
// read barrier.
class AuthService final : public lockpb::Auth::Service {
 public:
  explicit AuthService(Core* core) : core_(core) {}
  grpc::Status AuthEnable(grpc::ServerContext* ctx,
                          const lockpb::AuthEnableRequest* req,
                          lockpb::AuthEnableResponse* resp) override;
  grpc::Status AuthDisable(grpc::ServerContext* ctx,
                           const lockpb::AuthDisableRequest* req,
                           lockpb::AuthDisableResponse* resp) override;
  grpc::Status AuthStatus(grpc::ServerContext* ctx,
                          const lockpb::AuthStatusRequest* req,
                          lockpb::AuthStatusResponse* resp) override;
  grpc::Status UserAdd(grpc::ServerContext* ctx,
                       const lockpb::AuthUserAddRequest* req,
                       lockpb::AuthUserAddResponse* resp) override;
  grpc::Status UserDelete(grpc::ServerContext* ctx,
                          const lockpb::AuthUserDeleteRequest* req,
                          lockpb::AuthUserDeleteResponse* resp) override;
  grpc::Status UserGrantRole(grpc::ServerContext* ctx,
                             const lockpb::AuthUserGrantRoleRequest* req,
                             lockpb::AuthUserGrantRoleResponse* resp) override;
  grpc::Status UserRevokeRole(
      grpc::ServerContext* ctx, const lockpb::AuthUserRevokeRoleRequest* req,
      lockpb::AuthUserRevokeRoleResponse* resp) override;
  grpc::Status UserGet(grpc::ServerContext* ctx,
                       const lockpb::AuthUserGetRequest* req,
                       lockpb::AuthUserGetResponse* resp) override;
  grpc::Status UserList(grpc::ServerContext* ctx,
                        const lockpb::AuthUserListRequest* req,
                        lockpb::AuthUserListResponse* resp) override;
  grpc::Status RoleAdd(grpc::ServerContext* ctx,
                       const lockpb::AuthRoleAddRequest* req,
                       lockpb::AuthRoleAddResponse* resp) override;
  grpc::Status RoleDelete(grpc::ServerContext* ctx,
                          const lockpb::AuthRoleDeleteRequest* req,
                          lockpb::AuthRoleDeleteResponse* resp) override;
  grpc::Status RoleGrantPermission(
      grpc::ServerContext* ctx,
      const lockpb::AuthRoleGrantPermissionRequest* req,
      lockpb::AuthRoleGrantPermissionResponse* resp) override;
  grpc::Status RoleRevokePermission(
      grpc::ServerContext* ctx,
      const lockpb::AuthRoleRevokePermissionRequest* req,
      lockpb::AuthRoleRevokePermissionResponse* resp) override;
  grpc::Status RoleGet(grpc::ServerContext* ctx,
                       const lockpb::AuthRoleGetRequest* req,
                       lockpb::AuthRoleGetResponse* resp) override;
  grpc::Status RoleList(grpc::ServerContext* ctx,
                        const lockpb::AuthRoleListRequest* req,
                        lockpb::AuthRoleListResponse* resp) override;
  grpc::Status AuditList(grpc::ServerContext* ctx,
                         const lockpb::AuthAuditListRequest* req,
                         lockpb::AuthAuditListResponse* resp) override;

 private:
  // Checks the caller, proposes `cmd` as it and fills `header`.
  grpc::Status Change(grpc::ServerContext* ctx, lockpb::AuthCmd cmd,
                      lockpb::ResponseHeader* header);
  // Checks the caller and waits for a read barrier; the applied state.
  absl::StatusOr<std::shared_ptr<const lock::AuthState>> ReadState(
      grpc::ServerContext* ctx, absl::string_view what);
  Core* const core_;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_SERVICES_H_
