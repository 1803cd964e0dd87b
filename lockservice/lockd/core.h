// Core: what every lockd gRPC service shares — the replica's identity, its
// Raft node, the replicated store, and the rules for proposing and reading.
//
// Writes are proposed only on the leader, which stamps each command with its
// own clock (the state machine's only notion of time). A follower answers a
// write with FAILED_PRECONDITION "not the leader; leader=<id>@<addr>", which
// the client library follows. Linearizable reads are served on any replica
// after a ReadIndex barrier.
//
// Proposals and barriers come in two forms: asynchronous (the callback
// services complete their reactor from the callback; no thread waits) and
// blocking (the services still on the sync API).
//
// Thread safety: thread-safe; borrowed pointers must outlive the Core.
#ifndef BERTH_LOCKSERVICE_LOCKD_CORE_H_
#define BERTH_LOCKSERVICE_LOCKD_CORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/metrics/gauge.h"
#include "common/metrics/histogram.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/leader_clock.h"
#include "lockservice/lockd/rbac.h"
#include "lockservice/lockd/replicated_store.h"
#include "lockservice/lockd/timer_queue.h"
#include "lockservice/node/raft_node.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lockd {

grpc::Status ToGrpc(const absl::Status& s);

class LeaseKeeper;

struct CoreOptions {
  uint64_t id = 0;
  std::string self_address;
  uint64_t cluster_id = 0;
  // Upper bound on any single RPC's wait when the client sets no deadline.
  absl::Duration default_timeout = absl::Seconds(10);
};

using CommandDone =
    absl::AnyInvocable<void(absl::StatusOr<lockpb::CommandResult>) &&>;

class Core {
 public:
  Core(const CoreOptions& opts, Clock* clock, node::RaftNode* node,
       ReplicatedStore* store);

  uint64_t id() const { return opts_.id; }
  Clock* clock() const { return clock_; }
  node::RaftNode* node() const { return node_; }
  TimerQueue* timers() { return &timers_; }
  ReplicatedStore* store() const { return store_; }
  // The leader's in-memory lease renewals (lease_keeper.h). Set once,
  // before the services start; borrowed, must outlive the Core.
  void set_lease_keeper(LeaseKeeper* keeper) { lease_keeper_ = keeper; }
  LeaseKeeper* lease_keeper() const { return lease_keeper_; }
  // Where proposals are counted and timed (docs/metrics.md). Set once,
  // before the services start; borrowed, must outlive the Core.
  void set_proposal_metrics(metrics::Gauge* pending,
                            metrics::Histogram* duration) {
    pending_metric_ = pending;
    duration_metric_ = duration;
  }

  void FillHeader(lockpb::ResponseHeader* h);
  // FailedPrecondition naming the leader, unless this replica leads.
  absl::Status RequireLeader();
  std::string AddressOf(uint64_t id);
  // Peer addresses known from flags, used until membership records exist.
  void SetBootstrapAddresses(std::map<uint64_t, std::string> addrs);

  uint64_t NextRequestId();

  // ---- Who may do what (rbac.h, node_authorizer.h). Decided against this
  // replica's applied auth state before proposing or reading, so a
  // permission change that commits in between is not seen by a request
  // already checked (the same small race node_authorizer.h describes).
  // Refusals are logged to stderr.
  //
  // The caller of `ctx`: its certificate, or, for a call relayed by this
  // process's etcd adapter (or by another replica's, which dials with a
  // server certificate), the original caller the relay names.
  Caller CallerOf(const grpc::ServerContextBase& ctx) const;
  // Metadata a relay adds so that CallerOf names `caller` (etcd adapter).
  void AddRelayMetadata(const Caller& caller, grpc::ClientContext* cctx) const;
  std::shared_ptr<const lock::AuthState> auth() const { return store_->auth(); }
  // The node authorizer (agents, always) and RBAC (everyone, when auth is
  // enabled). Every service checks before it proposes a client's command.
  absl::Status Authorize(const grpc::ServerContextBase& ctx,
                         const lockpb::Command& cmd);
  // Reads: `need` (lock::kPermRead or kPermLock) on [key, range_end).
  absl::Status AuthorizeKeys(const grpc::ServerContextBase& ctx, uint32_t need,
                             absl::string_view what, absl::string_view key,
                             absl::string_view range_end);
  // Any authenticated caller (lease calls, cluster status).
  absl::Status AuthorizeCaller(const grpc::ServerContextBase& ctx);
  // Membership, leadership transfer, defragmentation.
  absl::Status AuthorizeClusterAdmin(const grpc::ServerContextBase& ctx,
                                     absl::string_view what);
  // Users and roles (the Auth service).
  absl::Status AuthorizeAuthAdmin(const grpc::ServerContextBase& ctx,
                                  absl::string_view what);
  // This leader's time in `term` (leader_clock.h): what it stamps on
  // commands and expires leases by. Immune to wall-clock steps in a term.
  int64_t LeaderTimeMs(uint64_t term);
  // `wall` (a deadline on this replica's wall clock) as leader time, for
  // deadlines the state machine enforces.
  int64_t ToLeaderTimeMs(absl::Time wall);
  // Stamps, proposes and waits for `cmd` to apply. A state-machine
  // rejection comes back as the returned status.
  absl::StatusOr<lockpb::CommandResult> Propose(lockpb::Command cmd,
                                                absl::Time deadline);
  // Linearizable barrier unless `serializable`.
  absl::Status ReadBarrier(bool serializable, absl::Time deadline);

  // Asynchronous forms: `done` runs exactly once, on the Raft driver thread
  // or inline (node::RaftNode::ProposeAsync says when), and must be quick.
  // They return a ticket for Cancel (0 when `done` already ran inline).
  uint64_t ProposeAsync(lockpb::Command cmd, absl::Time deadline,
                        CommandDone done);
  uint64_t ReadBarrierAsync(bool serializable, absl::Time deadline,
                            node::ReadDone done);
  // The client went away: complete `ticket` now with Cancelled. A write
  // may still commit.
  void Cancel(uint64_t ticket);

  absl::Time Deadline(const grpc::ServerContextBase* ctx) const;

  // The common shape of a linearizable read RPC: barrier, read the state
  // machine with `fn` (returning StatusOr<Resp>), answer with a header.
  template <typename Resp, typename Fn>
  grpc::Status ReadInto(const grpc::ServerContextBase* ctx, Resp* resp,
                        Fn&& fn) {
    absl::Status st = ReadBarrier(false, Deadline(ctx));
    if (!st.ok()) return ToGrpc(st);
    auto r = store_->Read(std::forward<Fn>(fn));
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    FillHeader(resp->mutable_header());
    return grpc::Status::OK;
  }

  // The common shape of a write RPC whose answer is only a header.
  template <typename Resp>
  grpc::Status ProposeInto(const grpc::ServerContextBase* ctx,
                           lockpb::Command cmd, Resp* resp) {
    if (absl::Status a = Authorize(*ctx, cmd); !a.ok()) return ToGrpc(a);
    absl::StatusOr<lockpb::CommandResult> r =
        Propose(std::move(cmd), Deadline(ctx));
    if (!r.ok()) return ToGrpc(r.status());
    FillHeader(resp->mutable_header());
    return grpc::Status::OK;
  }

 private:
  // Checks leadership and stamps `cmd`; returns the bytes to propose.
  absl::StatusOr<std::string> PrepareCommand(lockpb::Command& cmd);
  // Counts a proposal as pending until Finished(start, applied).
  absl::Time Started();
  void Finished(absl::Time start, bool applied);
  // Logs a refusal; returns it.
  absl::Status Refused(const Caller& caller, absl::Status st) const;

  const CoreOptions opts_;
  Clock* const clock_;
  node::RaftNode* const node_;
  ReplicatedStore* const store_;
  LeaseKeeper* lease_keeper_ = nullptr;
  LeaderClock leader_clock_;
  metrics::Gauge* pending_metric_ = nullptr;
  metrics::Histogram* duration_metric_ = nullptr;
  std::atomic<uint64_t> next_request_{0};
  // Proves a relayed call came from this process (CallerOf).
  std::string relay_token_;
  absl::Mutex mu_;
  std::map<uint64_t, std::string> bootstrap_ ABSL_GUARDED_BY(mu_);
  TimerQueue timers_;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_CORE_H_
