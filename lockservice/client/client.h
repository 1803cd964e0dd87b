// Client: the entry point of the berth-lockd client library.
//
// A Client holds one gRPC channel per lockd replica and tracks which one is
// the Raft leader (from response headers, from the "leader=<id>@<addr>"
// hint in redirect errors, and from Cluster.Status). Callers never pick a
// replica. Idempotent calls (reads, Holder, CheckToken, TimeToLive, Status)
// are retried across failover with backoff until
// ClientOptions::request_timeout. KV writes (put, delete, txn) carry a
// WriteId and are retried the same way: the servers deduplicate them, so a
// retry after a lost reply or a leader change is applied at most once (see
// kv.h). Other writes (lease grant/revoke, lock, unlock, campaign) are
// retried only when the request certainly did not execute (no connection,
// or a not-leader redirect); otherwise, and when a KV write gives up after
// an attempt that may have been applied, they fail with an error for which
// IsOutcomeUnknown() is true.
//
// Thread safety: a Client and its KV are safe to use from many threads.
// Ownership: Connect() returns the only owner. Session, Mutex, Election and
// Watch borrow the Client, which must outlive them. All of a Client's
// watches share one Watch stream (see watch.h), and all of its sessions one
// LeaseKeepAlive stream (see session.h).
#ifndef BERTH_LOCKSERVICE_CLIENT_CLIENT_H_
#define BERTH_LOCKSERVICE_CLIENT_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth {
class Clock;
}  // namespace berth

namespace grpc {
class ChannelCredentials;
}  // namespace grpc

namespace berth::lock {

namespace internal {
class KeepAliveMux;
class Router;
class WatchMux;
}  // namespace internal

class KV;

struct ClientOptions {
  // How long one write attempt waits for a connection before the client
  // concludes that the request was never sent and tries another replica.
  absl::Duration dial_timeout = absl::Seconds(2);
  // Deadline of one RPC attempt.
  absl::Duration attempt_timeout = absl::Seconds(5);
  // Deadline of a whole call, across retries and failover.
  absl::Duration request_timeout = absl::Seconds(15);
  // Between attempts while no leader answers. The cap bounds how long a
  // client may keep waiting after a new leader is elected (an election
  // takes 0.5-1 s with lockd's defaults).
  absl::Duration backoff_initial = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Milliseconds(250);
  // Ask the endpoints for the leader during Connect (best effort).
  bool discover_leader = true;
  // Send a WriteId with KV writes and retry them (see kv.h). Turn off only
  // against servers that predate WriteId: they ignore it, so a retried
  // write could apply twice.
  bool exactly_once_writes = true;
  // Where sessions read time (keepalive schedule, expiry, reconnect
  // backoff); borrowed, must outlive the Client. nullptr: the real clock.
  // Tests pass a SimClock.
  Clock* clock = nullptr;
  // How to dial the replicas (berth::tls::Credentials::channel()); null =
  // plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// Parses "host:port[,host:port...]" (e.g. a --lock-endpoints flag), with
// errors that name the bad entry.
absl::StatusOr<std::vector<std::string>> ParseEndpoints(absl::string_view spec);

// True for a write that failed in a way that leaves unknown whether it was
// applied (the connection broke or the deadline passed after sending).
bool IsOutcomeUnknown(const absl::Status& status);

struct Member {
  uint64_t id = 0;
  std::string name;
  std::string address;
  bool is_learner = false;
};

struct ClusterStatus {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;  // the replica that answered
  uint64_t leader_id = 0;  // 0 when no leader is known
  std::string leader_addr;
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;
  uint64_t applied_index = 0;
  int64_t revision = 0;
  std::vector<Member> members;
  // Of the replica that answered: its SQLite file, in use, and its quota.
  int64_t db_size_bytes = 0;
  int64_t db_size_in_use_bytes = 0;
  int64_t quota_backend_bytes = 0;
  // Cluster-wide alarms ("database space exceeded ..."); empty when none.
  std::vector<std::string> alarms;
  int64_t compact_revision = 0;
  // The answering replica's Raft-thread steps over its stall threshold.
  uint64_t raft_thread_stalls = 0;
};

struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};

struct LeaseInfo {
  int64_t id = 0;
  int64_t ttl_seconds = -1;  // remaining; -1 when the lease does not exist
  int64_t granted_ttl_seconds = 0;
  std::vector<std::string> keys;
};

class Client {
 public:
  // `endpoints` are "host:port" strings; at least one. Fails only on bad
  // input: an unreachable cluster shows up as errors from later calls.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      std::vector<std::string> endpoints, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  KV& kv() { return *kv_; }

  // Leases. A TTL is rounded up to whole seconds (the wire unit).
  absl::StatusOr<LeaseGrant> GrantLease(absl::Duration ttl, int64_t id = 0);
  absl::Status RevokeLease(int64_t id);
  absl::StatusOr<LeaseInfo> LeaseTimeToLive(int64_t id, bool keys = false);

  // Cluster administration.
  absl::StatusOr<ClusterStatus> Status();
  absl::StatusOr<std::vector<Member>> MemberList();
  absl::StatusOr<Member> MemberAdd(const std::string& address,
                                   bool is_learner = false,
                                   const std::string& name = "");
  absl::StatusOr<std::vector<Member>> MemberRemove(uint64_t id);
  absl::Status TransferLeader(uint64_t target_id);

  // The replica currently believed to lead ("" if unknown).
  std::string leader() const;

  // For the library's own classes (Session, Mutex, ...); not for callers.
  internal::Router& router() { return *router_; }
  // The one stream all of this Client's watches share.
  internal::WatchMux& watch_mux() { return *watch_mux_; }
  // The one keepalive stream all of this Client's sessions share.
  internal::KeepAliveMux& keepalive_mux() { return *keepalive_mux_; }
  // The clock sessions read (ClientOptions::clock, or the real one).
  Clock* clock() const;

 private:
  explicit Client(std::unique_ptr<internal::Router> router);

  std::unique_ptr<internal::Router> router_;
  std::unique_ptr<KV> kv_;
  // Declared after router_, which it borrows, so it is destroyed first.
  std::unique_ptr<internal::WatchMux> watch_mux_;
  std::unique_ptr<internal::KeepAliveMux> keepalive_mux_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_CLIENT_H_
