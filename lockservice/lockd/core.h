// Core: what every lockd gRPC service shares — the replica's identity, its
// Raft node, the replicated store, and the rules for proposing and reading.
//
// Writes are proposed only on the leader, which stamps each command with its
// own clock (the state machine's only notion of time). A follower answers a
// write with FAILED_PRECONDITION "not the leader; leader=<id>@<addr>", which
// the client library follows. Linearizable reads are served on any replica
// after a ReadIndex barrier.
//
// Thread safety: thread-safe; borrowed pointers must outlive the Core.
#ifndef BERTH_LOCKSERVICE_LOCKD_CORE_H_
#define BERTH_LOCKSERVICE_LOCKD_CORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/replicated_store.h"
#include "lockservice/node/raft_node.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lockd {

struct CoreOptions {
  uint64_t id = 0;
  std::string self_address;
  uint64_t cluster_id = 0;
  // Upper bound on any single RPC's wait when the client sets no deadline.
  absl::Duration default_timeout = absl::Seconds(10);
};

class Core {
 public:
  Core(const CoreOptions& opts, Clock* clock, node::RaftNode* node,
       ReplicatedStore* store);

  uint64_t id() const { return opts_.id; }
  Clock* clock() const { return clock_; }
  node::RaftNode* node() const { return node_; }
  ReplicatedStore* store() const { return store_; }

  void FillHeader(lockpb::ResponseHeader* h);
  // FailedPrecondition naming the leader, unless this replica leads.
  absl::Status RequireLeader();
  std::string AddressOf(uint64_t id);
  // Peer addresses known from flags, used until membership records exist.
  void SetBootstrapAddresses(std::map<uint64_t, std::string> addrs);

  uint64_t NextRequestId();
  // Stamps, proposes and waits for `cmd` to apply. A state-machine
  // rejection comes back as the returned status.
  absl::StatusOr<lockpb::CommandResult> Propose(lockpb::Command cmd,
                                                absl::Time deadline);
  // Linearizable barrier unless `serializable`.
  absl::Status ReadBarrier(bool serializable, absl::Time deadline);

  absl::Time Deadline(const grpc::ServerContext* ctx) const;

 private:
  const CoreOptions opts_;
  Clock* const clock_;
  node::RaftNode* const node_;
  ReplicatedStore* const store_;
  std::atomic<uint64_t> next_request_{0};
  absl::Mutex mu_;
  std::map<uint64_t, std::string> bootstrap_ ABSL_GUARDED_BY(mu_);
};

grpc::Status ToGrpc(const absl::Status& s);

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_CORE_H_
