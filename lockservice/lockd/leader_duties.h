// LeaderDuties: the time-driven work only the leader does. Replicas never
// read their clocks while applying, so the leader watches its own clock and
// proposes the consequences as ordinary commands:
//  * LeaseExpireCmd for each lease past its effective deadline, at most
//    `max_expiries_per_second` (a leader that stalled and wakes up late
//    must not wipe out every session at once). The deadline is the later
//    of the stored one (with the election grace, EffectiveDeadline) and the
//    local one the LeaseKeeper holds for leases renewed in memory;
//  * LeaseCheckpointCmd when the LeaseKeeper has renewals due to reach the
//    log (see lease_keeper.h for what survives a leader change);
//  * LockDelayTickCmd when a lock-delay or a waiter deadline ends;
//  * CompactCmd when the AutoCompactor says so, and CompactCmd{purge_only}
//    steps while compacted history is still stored (whoever compacted it);
//  * AlarmCmd when its own SQLite file crosses --quota-backend-bytes (up:
//    raise NOSPACE; back under it, e.g. after a defrag: clear it).
//
// It also tells the LeaseKeeper what leadership it sees at each tick, a
// backstop for the Raft node's leader-change callback.
//
// Thread safety: owns one thread; Start/Stop from the owner only. Borrows
// the Core and the LeaseKeeper, which must outlive it.
#ifndef BERTH_LOCKSERVICE_LOCKD_LEADER_DUTIES_H_
#define BERTH_LOCKSERVICE_LOCKD_LEADER_DUTIES_H_

#include <thread>

#include "absl/synchronization/mutex.h"
#include "lockservice/lockd/auto_compactor.h"
#include "lockservice/lockd/core.h"
#include "lockservice/lockd/lease_keeper.h"

namespace berth::lockd {

struct LeaderDutiesOptions {
  absl::Duration interval = absl::Milliseconds(100);
  int max_expiries_per_second = 1000;
  // After winning an election, every lease lives at least its TTL plus
  // this from the moment this replica saw itself lead (EffectiveDeadline in
  // lease_table.h): the old leader's last renewals may not be in the log,
  // and clients could reach no leader during the election.
  absl::Duration election_grace = absl::Seconds(1);
  AutoCompactionOptions auto_compaction;
  // 0 = no quota.
  int64_t quota_backend_bytes = int64_t{2} << 30;
  // Purge steps proposed per interval at most (each deletes up to
  // Limits::history_purge_step_rows events).
  int max_purge_steps_per_interval = 4;
};

class LeaderDuties {
 public:
  LeaderDuties(Core* core, LeaseKeeper* keeper, const LeaderDutiesOptions& opts)
      : core_(core),
        keeper_(keeper),
        opts_(opts),
        compactor_(opts.auto_compaction) {}
  ~LeaderDuties() { Stop(); }
  void Start();
  void Stop();

 private:
  void Run();
  void RunOnce(int64_t now_ms, int64_t leader_since_ms, double* budget);
  void ExpireLeases(int64_t now_ms, int64_t leader_since_ms, double* budget);
  void Checkpoint();
  void CompactHistory(absl::Time now);
  void WatchQuota();

  Core* const core_;
  LeaseKeeper* const keeper_;
  const LeaderDutiesOptions opts_;
  AutoCompactor compactor_;  // duties thread only
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LEADER_DUTIES_H_
