// UnimplementedService: answers every etcd method that berth-lockd does not
// serve (Auth, Defragment, Alarm, Snapshot, MoveLeader, Hash, HashKV,
// MemberAdd, ...) with UNIMPLEMENTED naming the method, at once, so tools
// fail clearly instead of hanging. Registered as the etcd server's generic
// service: gRPC hands it every call no registered service claims.
//
// Thread safety: stateless.
#ifndef BERTH_LOCKSERVICE_LOCKD_ETCD_UNIMPLEMENTED_H_
#define BERTH_LOCKSERVICE_LOCKD_ETCD_UNIMPLEMENTED_H_

#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"

namespace berth::lockd::etcd {

class UnimplementedService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* ctx) override;
};

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_UNIMPLEMENTED_H_
