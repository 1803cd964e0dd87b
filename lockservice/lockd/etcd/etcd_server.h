// EtcdServer: berth-lockd's etcd v3 API, served on its own port
// (--etcd-listen) next to berth's own. It owns the gRPC server, the
// Backend and one service object per etcd service; see backend.h for how
// calls reach berth's state and docs/etcd-compat.md for what is served.
//
// Thread safety: Start and Shutdown from the owning thread.
#ifndef BERTH_LOCKSERVICE_LOCKD_ETCD_ETCD_SERVER_H_
#define BERTH_LOCKSERVICE_LOCKD_ETCD_ETCD_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls/credentials.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"

namespace berth::lockd::etcd {

class EtcdServer {
 public:
  // Listens on `listen` (host:port) with `credentials`, which also dial the
  // leader's berth port. `local` reaches this replica's berth services;
  // `core` must outlive the server.
  static absl::StatusOr<std::unique_ptr<EtcdServer>> Start(
      const std::string& listen, Core* core,
      std::shared_ptr<grpc::Channel> local,
      const tls::Credentials& credentials);
  ~EtcdServer();
  // Stops accepting calls and cancels those still running after a short
  // grace period (a relayed Lock or Watch may wait forever).
  void Shutdown();

 private:
  EtcdServer() = default;
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_ETCD_SERVER_H_
