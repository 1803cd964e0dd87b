// Backend: how the etcd adapter reaches berth-lockd's own API.
//
// The adapter is a translator, not a second server: every etcd call is
// turned into the equivalent berth call (proto/lock.proto) and sent to this
// replica's own services over an in-process channel, or to the leader's
// client port when the call must run there. So etcd clients see exactly
// berth's state: the same keys, revisions, leases, locks and elections.
//
// etcd servers forward writes to their leader; berth answers a follower's
// write with FAILED_PRECONDITION "not the leader; leader=<id>@<addr>" and
// lets its client library follow. etcd clients do not follow, so OnLeader
// does: it sends to the replica this one believes leads, and retries on a
// redirect or while no leader is known, until the call's deadline.
//
// Thread safety: thread-safe. Borrows the Core, which must outlive it.
#ifndef BERTH_LOCKSERVICE_LOCKD_ETCD_BACKEND_H_
#define BERTH_LOCKSERVICE_LOCKD_ETCD_BACKEND_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/lock.pb.h"

namespace berth::lockd::etcd {

class Backend {
 public:
  // `local` reaches this replica's berth services in-process. `listen` is
  // this replica's etcd address (member lists derive the others from it).
  Backend(Core* core, std::shared_ptr<grpc::Channel> local,
          std::string etcd_listen);

  Core* core() const { return core_; }
  const std::shared_ptr<grpc::Channel>& Local() const { return local_; }

  // A client context that inherits the etcd call's deadline and
  // cancellation, so a client that goes away stops the berth call too.
  static std::unique_ptr<grpc::ClientContext> ContextFor(
      const grpc::ServerContext* server);

  using Call = std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&,
                                          grpc::ClientContext*)>;
  // Runs `call` against the leader, following redirects (see above).
  grpc::Status OnLeader(const grpc::ServerContext* server, const Call& call);
  // The channel to the replica that leads now (Local() if this one does or
  // no leader is known).
  std::shared_ptr<grpc::Channel> LeaderChannel();

  // The etcd client address of the member whose berth address is
  // `berth_addr`, assuming every replica keeps the same port offset between
  // --listen and --etcd-listen as this one (docs/etcd-compat.md).
  std::string EtcdAddressOf(const std::string& berth_addr) const;

 private:
  Core* const core_;
  const std::shared_ptr<grpc::Channel> local_;
  const std::string etcd_listen_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> remotes_
      ABSL_GUARDED_BY(mu_);
};

// etcd's header from berth's (berth's leader fields have no etcd place).
void ToEtcdHeader(const lockpb::ResponseHeader& in,
                  etcdserverpb::ResponseHeader* out);

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_BACKEND_H_
