// Backend: how the etcd adapter reaches berth-lockd's own API.
//
// The adapter is a translator, not a second server: every etcd call is
// turned into the equivalent berth call (proto/lock.proto) and sent to this
// replica's own services over an in-process channel, or to the leader's
// client port when the call must run there. KV calls, the hot path, skip
// the channel: they read and propose through the Core as berth's own KV
// service does (Write below). So etcd clients see exactly berth's state:
// the same keys, revisions, leases, locks and elections.
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

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"
#include "proto/lock.pb.h"

namespace berth::lockd::etcd {

class Backend {
 public:
  // `local` reaches this replica's berth services in-process. `listen` is
  // this replica's etcd address (member lists derive the others from it).
  // `credentials` dial the leader's berth port.
  Backend(Core* core, std::shared_ptr<grpc::Channel> local,
          std::string etcd_listen,
          std::shared_ptr<grpc::ChannelCredentials> credentials);

  Core* core() const { return core_; }
  const std::shared_ptr<grpc::Channel>& Local() const { return local_; }

  // A client context that inherits the etcd call's deadline and
  // cancellation, so a client that goes away stops the berth call too, and
  // names the etcd caller (Core::AddRelayMetadata), so that berth's
  // services apply the same auth checks to it as to their own callers.
  std::unique_ptr<grpc::ClientContext> ContextFor(
      const grpc::ServerContext* server) const;

  using Call = std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&,
                                          grpc::ClientContext*)>;
  // Runs `call` against the leader, following redirects (see above).
  grpc::Status OnLeader(const grpc::ServerContext* server, const Call& call);
  // A KV write: proposed through the Core directly when this replica leads
  // (no relay: the hot path), else `relay` runs on the leader. `take`
  // moves the applied command's result into `out`; the header is filled
  // here, with the revision the write produced.
  template <typename Resp, typename Take>
  grpc::Status Write(const grpc::ServerContext* server, lockpb::Command cmd,
                     Resp* out, Take take, const Call& relay) {
    if (grpc::Status a = RefuseAgents(*server); !a.ok()) return a;
    if (absl::Status a = core_->Authorize(*server, cmd); !a.ok()) {
      return ToGrpc(a);
    }
    if (core_->RequireLeader().ok()) {
      absl::StatusOr<lockpb::CommandResult> r =
          core_->Propose(std::move(cmd), core_->Deadline(server));
      if (r.ok()) {
        take(*r, out);
        core_->FillHeader(out->mutable_header());
        out->mutable_header()->set_revision(r->revision());
        return grpc::Status::OK;
      }
      // Only "not the leader" (deposed between the check and the proposal)
      // proves nothing was proposed; any other failure may have committed.
      if (!absl::IsFailedPrecondition(r.status()) ||
          !absl::StartsWith(r.status().message(), "not the leader")) {
        return ToGrpc(r.status());
      }
    }
    return OnLeader(server, relay);
  }
  // The relays below dial with this replica's own identity, so the node
  // authorizer (node_authorizer.h) cannot judge an agent's call after
  // them: an agent certificate may change nothing through the etcd API
  // (agents use the berth API). PERMISSION_DENIED for an agent, OK for
  // everyone else.
  static grpc::Status RefuseAgents(const grpc::ServerContext& server);
  // A redirect to the leader, or no leader yet: worth asking again.
  static bool IsRedirect(const grpc::Status& st);

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
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const std::string etcd_listen_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> remotes_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_BACKEND_H_
