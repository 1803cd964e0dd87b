#include "lockservice/lockd/lockd_metrics.h"

#include "lockservice/server/state_machine.h"

namespace berth::lockd {

using metrics::LatencyBuckets;

LockdMetrics::LockdMetrics(metrics::Registry* r, uint64_t id,
                           node::RaftNode* node, ReplicatedStore* store,
                           WatchHub* hub) {
  r->AddGaugeFn("berth_lockd_is_leader",
                "1 if this replica is the Raft leader, else 0.",
                [node, id] { return node->GetStatus().leader == id ? 1 : 0; });
  r->AddGaugeFn("berth_lockd_raft_term", "Current Raft term of this replica.",
                [node] { return double(node->GetStatus().term); });
  r->AddGaugeFn("berth_lockd_raft_commit_index",
                "Highest Raft log index this replica knows to be committed.",
                [node] { return double(node->GetStatus().commit); });
  r->AddGaugeFn("berth_lockd_raft_applied_index",
                "Highest Raft log index applied to this replica's state "
                "machine.",
                [node] { return double(node->GetStatus().applied); });
  leader_changes_ =
      r->AddCounter("berth_lockd_leader_changes_total",
                    "Raft terms in which this replica learned of a leader "
                    "(its own elections included).")
          ->Get();
  r->AddCounterFn("berth_lockd_raft_thread_stalls_total",
                  "Raft driver-thread operations slower than the stall "
                  "threshold (50 ms), each also logged as \"raft thread "
                  "stall\".",
                  [node] { return double(node->GetStatus().stalls); });
  proposals_.pending =
      r->AddGauge("berth_lockd_proposals_pending",
                  "Client writes this replica has proposed and not yet "
                  "seen applied (or failed).")
          ->Get();
  proposals_.duration =
      r->AddHistogram(
           "berth_lockd_proposal_duration_seconds",
           "From proposing a client write to its result on this replica: "
           "replication, commit and apply. Writes that failed (no leader, "
           "deadline) are not observed.",
           LatencyBuckets())
          ->Get();
  apply_batch_ =
      r->AddHistogram("berth_lockd_apply_batch_duration_seconds",
                      "Applying one batch of committed entries to the "
                      "state machine, including its SQLite commit.",
                      LatencyBuckets())
          ->Get();
  r->AddGaugeFn("berth_lockd_db_size_bytes",
                "Size of this replica's SQLite file (page_count x "
                "page_size), as --quota-backend-bytes measures it.",
                [store] {
                  auto s = store->Read(
                      [](lock::StateMachine& sm) { return sm.DatabaseSize(); });
                  return s.ok() ? double(s->total_bytes) : -1.0;
                });
  r->AddGaugeFn("berth_lockd_db_size_in_use_bytes",
                "berth_lockd_db_size_bytes minus the free pages.", [store] {
                  auto s = store->Read(
                      [](lock::StateMachine& sm) { return sm.DatabaseSize(); });
                  return s.ok() ? double(s->in_use_bytes) : -1.0;
                });
  r->AddGaugeFn("berth_lockd_watchers",
                "Watches registered on this replica (one client stream may "
                "hold many).",
                [hub] { return double(hub->size()); });
  // One query for the three row counts would be cheaper, but each family
  // is collected separately; the tables are indexed and small per scrape.
  auto count = [store](int64_t lock::StateMachine::RowCounts::*field) {
    return [store, field] {
      auto c =
          store->Read([](lock::StateMachine& sm) { return sm.CountRows(); });
      return c.ok() ? double((*c).*field) : -1.0;
    };
  };
  r->AddGaugeFn("berth_lockd_leases",
                "Leases in the replicated state (granted, not yet expired "
                "or revoked).",
                count(&lock::StateMachine::RowCounts::leases));
  r->AddGaugeFn("berth_lockd_locks_held", "Locks that have a holder.",
                count(&lock::StateMachine::RowCounts::locks_held));
  r->AddGaugeFn("berth_lockd_lock_waiters",
                "Lock acquisitions queued behind a holder.",
                count(&lock::StateMachine::RowCounts::lock_waiters));
}

void LockdMetrics::ObserveLeader(uint64_t leader, uint64_t term) {
  // At most one leader per term: a new term with a known leader is a
  // change, even when the same replica won again.
  if (leader == 0 || term <= counted_term_) return;
  counted_term_ = term;
  leader_changes_->Inc();
}

}  // namespace berth::lockd
