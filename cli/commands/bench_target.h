// BenchTarget: the system a `berth bench` run drives, behind the few
// operations the workloads need. berth-lockd, etcd (v3 gRPC API) and
// ZooKeeper (C client) implement it, so one driver measures all three the
// same way.
//
// Thread safety: a BenchTarget is thread-safe (NewClient may be called from
// any thread). A BenchClient belongs to one worker thread at a time.
// Ownership: the target owns shared connections and must outlive every
// BenchClient and BenchWatch it made; a BenchClient must outlive its
// watches.
#ifndef BERTH_CLI_COMMANDS_BENCH_TARGET_H_
#define BERTH_CLI_COMMANDS_BENCH_TARGET_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace grpc {
class ChannelCredentials;
}  // namespace grpc

namespace berth {
class Clock;
}  // namespace berth

namespace berth::cli {

inline constexpr absl::string_view kWatchLeaf = "k";

// Keeps a watch open; destroying it cancels the watch.
class BenchWatch {
 public:
  virtual ~BenchWatch() = default;
};

// Called on a target-owned thread for every put event a watch sees (with
// the new value), and once with an error if the watch ends by itself.
using WatchEventFn = std::function<void(absl::StatusOr<absl::string_view>)>;

class BenchClient {
 public:
  virtual ~BenchClient() = default;
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  // Linearizable unless `serializable`. A missing key is not an error.
  virtual absl::Status Get(absl::string_view key, bool serializable) = 0;
  // Acquires lock `name` (waiting in line as long as it takes), then
  // releases it. Returns the moment of the grant, on `clock`'s monotonic
  // scale, so the caller can measure handoff latency.
  virtual absl::StatusOr<absl::Time> LockHandoff(absl::string_view name,
                                                 Clock* clock) = 0;
  // Watches every key under `prefix` from now on. The watch workload only
  // ever writes the key `prefix` + kWatchLeaf, so a target without prefix
  // watches (ZooKeeper's C client has no recursive watches) may watch just
  // that node.
  virtual absl::StatusOr<std::unique_ptr<BenchWatch>> Watch(
      absl::string_view prefix, WatchEventFn on_event) = 0;
  // One compare-and-swap attempt on `key`: read it, then write `value` only
  // if nobody wrote the key in between. Returns false when another writer
  // won (not an error). A missing key counts as version 0.
  virtual absl::StatusOr<bool> CompareAndSwap(absl::string_view key,
                                              absl::string_view value) = 0;
  // Sessions (leases): open one with `ttl`, renew it, close it. The id is
  // the target's own handle. A KeepAlive that finds the session gone fails.
  virtual absl::StatusOr<int64_t> OpenSession(absl::Duration ttl) = 0;
  virtual absl::Status KeepAlive(int64_t session) = 0;
  virtual absl::Status CloseSession(int64_t session) = 0;
};

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  virtual std::string name() const = 0;
  virtual absl::StatusOr<std::unique_ptr<BenchClient>> NewClient() = 0;
};

struct BerthTargetOptions {
  std::vector<std::string> endpoints;
  absl::Duration request_timeout = absl::Seconds(10);
  // One lock::Client for every BenchClient instead of one each.
  bool shared_client = false;
  // The global --tls-* flags' credentials; null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// The berth-lockd target (bench_target_berth.cc).
absl::StatusOr<std::unique_ptr<BenchTarget>> NewBerthTarget(
    BerthTargetOptions options);

struct PeerTargetOptions {
  // "host:port" of every member; clients are spread over them round-robin.
  std::vector<std::string> endpoints;
  absl::Duration request_timeout = absl::Seconds(10);
  // Mutual TLS to the peer (etcd --client-cert-auth); null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// etcd v3 over gRPC (bench_target_etcd.cc): KV Range/Put/Txn, Lease,
// Watch and the v3lock service.
absl::StatusOr<std::unique_ptr<BenchTarget>> NewEtcdTarget(
    PeerTargetOptions options);

// ZooKeeper through libzookeeper_mt (bench_target_zk.cc). UNAVAILABLE when
// berth was built without it.
absl::StatusOr<std::unique_ptr<BenchTarget>> NewZooKeeperTarget(
    PeerTargetOptions options);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_TARGET_H_
