// LeaseKeeper: lease renewals held in the leader's memory, and the periodic
// checkpoints that make them survive a leader change.
//
// A keepalive is not a log entry. The leader, after a ReadIndex barrier has
// confirmed that it still leads, records here "lease L lives until now +
// TTL" and answers at once. Every checkpoint interval the leader proposes
// one LeaseCheckpointCmd (chunked) with the remaining TTL of each lease
// renewed since the previous checkpoint; applying it moves the stored
// deadline to leader time + remaining. Expiry (LeaderDuties) requires both
// the stored effective deadline and the local deadline to have passed.
//
// Clock: local deadlines are on the Clock's monotonic time. They are only
// ever compared with this process's own monotonic "now" (expiry) or turned
// into a duration (checkpoint), so a wall-clock step (NTP, an operator)
// cannot shorten or stretch a lease that was renewed here. Wall time enters
// only through the leader time that Core stamps on the checkpoint command.
//
// Guarantee after a leader change: the new leader starts with an empty map.
// Renewals acknowledged in the last checkpoint interval before the old
// leader stopped are not in the log, so the new leader treats every lease
// as refreshed when it took office, plus the election grace
// (EffectiveDeadline in lease_table.h): no lease ends sooner than its TTL
// after its last acknowledged keepalive. Checkpoints keep the stored
// deadlines (LeaseTimeToLive on any replica) close to the leader's. The
// interval is capped at a quarter of the shortest TTL renewed since the
// last checkpoint (see Options). docs/lockservice-api.md (Lease expiry).
//
// Terms: the map belongs to one leadership term. Renewals stamped with a
// term known to have ended (or an older one than the map's) are refused,
// so a renewal racing with a step-down never reaches a later term's map.
//
// Thread safety: thread-safe (one mutex). Borrows the Clock, which must
// outlive the keeper.
#ifndef BERTH_LOCKSERVICE_LOCKD_LEASE_KEEPER_H_
#define BERTH_LOCKSERVICE_LOCKD_LEASE_KEEPER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lockd {

struct LeaseKeeperOptions {
  // This replica's Raft id (> 0), to tell its own leadership from others'.
  uint64_t self_id = 0;
  // How often renewals are checkpointed into the log. The interval actually
  // used is min(this, shortest TTL renewed since the last checkpoint / 4).
  absl::Duration checkpoint_interval = absl::Seconds(2);
  // Leases per LeaseCheckpointCmd; a checkpoint of more leases is split.
  int max_leases_per_checkpoint = 1000;
};

class LeaseKeeper {
 public:
  static absl::StatusOr<std::unique_ptr<LeaseKeeper>> Create(
      Clock* clock, const LeaseKeeperOptions& opts);

  // The Raft node's view: `leader` (0 if unknown) leads `term`. It may be
  // stale (observations race with elections); only what it proves is used:
  // another leader ends `term` for this replica, no known leader ends the
  // terms before `term` (a candidate may still win `term` itself). A map
  // whose term has ended is dropped; a newer term of this replica's own
  // starts an empty one.
  void ObserveLeader(uint64_t leader, uint64_t term);

  enum class RenewOutcome {
    kRenewed,
    // `term` is over, or was never this replica's: the caller must not
    // answer the keepalive with a TTL.
    kNotLeader,
    // Expiry of this lease is being proposed: a local renewal could be
    // overtaken by it, so the caller must order the renewal in the log
    // (LeaseKeepAliveCmd) instead.
    kExpiring,
  };
  // Records that lease `id` (TTL `ttl_ms`) lives until now + ttl. The
  // caller has confirmed with a ReadIndex barrier that it led in `term`
  // and that the lease exists.
  RenewOutcome Renew(uint64_t term, int64_t id, int64_t ttl_ms);

  // Forgets a lease that was granted (an id can be reused), revoked or
  // expired.
  void Forget(int64_t id);

  // Remaining local life of `id` as renewed while leading `term`; nullopt
  // if it was not, or its local deadline has passed.
  std::optional<absl::Duration> Remaining(uint64_t term, int64_t id) const;

  // Expiry protocol for LeaderDuties: BeginExpire returns false (and the
  // caller must not expire) while the local deadline is in the future;
  // otherwise renewals of `id` answer kExpiring until EndExpire. The mark
  // outlives a change of term: the expiry entry may still commit later.
  bool BeginExpire(int64_t id);
  void EndExpire(int64_t id);

  // True when a checkpoint is due: something was renewed and the interval
  // (see LeaseKeeperOptions) has passed since the previous checkpoint.
  bool CheckpointDue() const;
  // The pending checkpoint as commands of at most max_leases_per_checkpoint
  // entries; marks those leases checkpointed. Empty if nothing is pending.
  std::vector<lockpb::LeaseCheckpointCmd> TakeCheckpoint();
  // The commands could not be committed: their leases become pending again
  // (unless renewed or forgotten meanwhile), for the next checkpoint.
  void CheckpointFailed(const std::vector<lockpb::LeaseCheckpointCmd>& cmds);

  // Leases held in the map (for tests and metrics).
  size_t size() const;

 private:
  struct Local {
    absl::Time deadline;  // monotonic
    int64_t ttl_ms = 0;
    bool pending = false;  // renewed since the last checkpoint
  };

  LeaseKeeper(Clock* clock, const LeaseKeeperOptions& opts)
      : clock_(clock), opts_(opts) {}
  void ResetLocked(uint64_t term) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration IntervalLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const LeaseKeeperOptions opts_;
  mutable absl::Mutex mu_;
  // The term the map belongs to, and the highest term known to be over
  // for this replica (a replica never leads a term twice).
  uint64_t term_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ended_through_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<int64_t, Local> leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> expiring_ ABSL_GUARDED_BY(mu_);
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  // Shortest TTL among pending leases; bounds the checkpoint interval.
  int64_t min_pending_ttl_ms_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_checkpoint_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LEASE_KEEPER_H_
