// Lockd: one berth-lockd replica — SQLite storage, the lock state machine,
// the Raft node and its transport, the gRPC services and the leader's timed
// duties, wired together and owned here.
//
// Thread safety: Create/Wait/Shutdown from the owning thread.
#ifndef BERTH_LOCKSERVICE_LOCKD_LOCKD_H_
#define BERTH_LOCKSERVICE_LOCKD_LOCKD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics/listen_flag.h"
#include "common/tls/credentials.h"
#include "lockservice/lockd/auto_compactor.h"

namespace berth::lockd {

struct LockdOptions {
  uint64_t id = 1;
  std::string listen = "127.0.0.1:7400";
  // Every initial member, this one included: id -> host:port.
  std::map<uint64_t, std::string> peers;
  std::string data_dir;
  // Join an existing cluster (added with `berth cluster add`) instead of
  // bootstrapping a new one.
  bool join = false;
  absl::Duration tick = absl::Milliseconds(50);
  // 0.5-1 s. It was 20 while every replica took a state-machine snapshot
  // on its Raft thread (0.6-3 s stalls); snapshots are now built off that
  // thread and any step over 50 ms is logged as a "raft thread stall".
  int election_ticks = 10;
  // A Raft-thread step slower than this is logged ("raft thread stall") and
  // counted; the count is in the Status RPC (`berth cluster status`).
  absl::Duration stall_threshold = absl::Milliseconds(50);
  // Compact the Raft log every this many applied entries. Compaction takes
  // no image any more, only a DELETE of the entries, so small steps keep
  // each one short on the Raft thread.
  uint64_t snapshot_every = 2000;
  // Log entries kept behind a snapshot for slow followers.
  uint64_t snapshot_keep_entries = 5000;
  int64_t default_lock_delay_ms = 5000;
  int max_expiries_per_second = 1000;
  // How often the leader logs the lease renewals it holds in memory; also
  // capped at a quarter of the shortest renewed TTL (lease_keeper.h).
  absl::Duration lease_checkpoint_interval = absl::Seconds(2);
  // Watch-history retention (auto_compactor.h); on by default.
  AutoCompactionOptions auto_compaction;
  // Above this SQLite file size the leader raises the NOSPACE alarm; 0 =
  // no quota. etcd's default is 2 GiB too.
  int64_t quota_backend_bytes = int64_t{2} << 30;
  // host:port serving the etcd v3 API (lockservice/lockd/etcd/); empty =
  // off. Replicas should keep the same port offset from `listen`, which
  // etcd member lists use to name the others' client URLs.
  std::string etcd_listen;
  // See NodeOptions::on_storage_failure (berth-lockd exits).
  std::function<void(const absl::Status&)> on_storage_failure;
  // The Prometheus endpoint (docs/metrics.md); off by default here, "auto"
  // (127.0.0.1:<listen port + 1000>) by default in berth-lockd's flags.
  ::berth::metrics::MetricsListen metrics;
  // Serves the client, peer and etcd ports and dials the peers
  // (common/tls); plaintext by default, as `berth dev` and tests run.
  ::berth::tls::Credentials credentials;
};

absl::StatusOr<std::map<uint64_t, std::string>> ParsePeers(
    const std::string& spec);

class Lockd {
 public:
  static absl::StatusOr<std::unique_ptr<Lockd>> Start(const LockdOptions& opts);
  virtual ~Lockd() = default;
  // Blocks until Shutdown() is called from another thread.
  virtual void Wait() = 0;
  virtual void Shutdown() = 0;
  virtual std::string address() const = 0;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LOCKD_H_
