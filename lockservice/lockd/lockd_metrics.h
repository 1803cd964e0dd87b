// LockdMetrics: berth-lockd's Prometheus metrics (docs/metrics.md).
//
// Most are read at scrape time from state that already exists (the Raft
// node's status, the state machine's tables, the watch hub); the few that
// need an event hook (leader changes, proposals, apply batches) are live
// metrics whose pointers Core, ReplicatedStore and the leader-change
// callback update.
//
// Thread safety: thread-safe. Ownership: borrows node, store and hub, which
// must outlive the scrape endpoint serving `registry`.
#ifndef BERTH_LOCKSERVICE_LOCKD_LOCKD_METRICS_H_
#define BERTH_LOCKSERVICE_LOCKD_LOCKD_METRICS_H_

#include <cstdint>

#include "common/metrics/registry.h"
#include "lockservice/lockd/replicated_store.h"
#include "lockservice/lockd/watch_hub.h"
#include "lockservice/node/raft_node.h"

namespace berth::lockd {

struct ProposalMetrics {
  metrics::Gauge* pending = nullptr;
  metrics::Histogram* duration = nullptr;
};

class LockdMetrics {
 public:
  LockdMetrics(metrics::Registry* registry, uint64_t id, node::RaftNode* node,
               ReplicatedStore* store, WatchHub* hub);

  // Call from the node's leader-change callback (driver thread).
  void ObserveLeader(uint64_t leader, uint64_t term);
  ProposalMetrics proposals() const { return proposals_; }
  metrics::Histogram* apply_batch() const { return apply_batch_; }

 private:
  metrics::Counter* leader_changes_;
  // Term of the last leader counted; driver thread only.
  uint64_t counted_term_ = 0;
  ProposalMetrics proposals_;
  metrics::Histogram* apply_batch_;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LOCKD_METRICS_H_
