// StateMachine: berth-lockd's replicated state (keys, leases, watch history,
// locks, elections), applied from committed Raft entries.
//
// Contract:
//  * Deterministic. The result of Apply depends only on the state and the
//    command; time comes from Command.leader_time_unix_ms. The state
//    machine's clock (now_ms) is the largest leader time applied so far, so
//    it never runs backwards when leadership moves to a replica whose clock
//    is behind. All replicas must use the same Limits.
//  * Atomic and idempotent. Each Apply is one SQLite transaction that also
//    records the applied index; re-applying an index <= applied_index() is a
//    no-op reported as `duplicate`, so replay after a crash is safe.
//  * Indexes are applied in order, with no gaps: entries without a command
//    (empty leader entries, conf changes) go through ApplyEmpty.
//  * A rejected command (bad input, unknown lease, stale token...) is still
//    applied: the index advances, nothing else changes, and
//    ApplyResult::status says why. A non-OK StatusOr from Apply is a local
//    storage failure: nothing was applied and the driver must stop (and
//    replay after restart).
//  * Exactly-once writes: a Put, DeleteRange or Txn carrying a WriteId is
//    deduplicated by (client_id, seq); see client_sessions.h.
//  * Time-based effects are proposed by the leader: LeaseExpireCmd when
//    LeasesToExpire() lists a lease (and the leader has not renewed it in
//    memory since), LockDelayTickCmd at NextLockDelayEnd().
//  * Lease renewals reach the log as LeaseCheckpointCmd (deadline = max(
//    deadline, leader time + min(remaining, ttl))) or, from old logs and
//    for a lease whose expiry is in flight, as LeaseKeepAliveCmd.
//    Any command with a later leader time also lets pending grants happen.
//
// Thread safety: none. Owned and driven by the replica's apply thread; reads
// must be called from that thread too (or serialized with Apply).
#ifndef BERTH_LOCKSERVICE_SERVER_STATE_MACHINE_H_
#define BERTH_LOCKSERVICE_SERVER_STATE_MACHINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/auth_state.h"
#include "lockservice/server/auth_table.h"
#include "lockservice/server/client_sessions.h"
#include "lockservice/server/kv_ops.h"
#include "lockservice/server/kv_store.h"
#include "lockservice/server/lease_table.h"
#include "lockservice/server/limits.h"
#include "lockservice/server/lock_ops.h"
#include "lockservice/server/lock_table.h"
#include "lockservice/server/sm_db.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lock {

struct ApplyResult {
  // The index had been applied before; nothing happened.
  bool duplicate = false;
  // The command repeated a write (same WriteId) that had been applied
  // before: status and result are that write's stored answer, and the
  // command itself changed nothing.
  bool replayed = false;
  // Why the command was rejected; OK if it took effect.
  absl::Status status;
  // The command's answer (valid when status is OK). result.revision() is
  // the store revision after this command.
  lockpb::CommandResult result;
  // Every change this command made, in order: for watchers.
  std::vector<lockpb::Event> events;
  // Waiters granted or dropped during this command (also those queued by
  // earlier commands): for the RPCs blocked on them.
  LockNotices locks;
};

class StateMachine {
 public:
  struct Options {
    // The replica's SQLite file (shared with the Raft log).
    std::string path;
    Limits limits;
  };

  static absl::StatusOr<std::unique_ptr<StateMachine>> Open(
      const Options& options);

  absl::StatusOr<ApplyResult> Apply(uint64_t index, const lockpb::Command& cmd);
  // Applies serialized Command bytes (a Raft entry's data). Undecodable
  // bytes are a rejection, not a failure, so every replica skips them alike.
  absl::StatusOr<ApplyResult> ApplyEntryData(uint64_t index,
                                             absl::string_view data);
  absl::Status ApplyEmpty(uint64_t index);

  uint64_t applied_index() const { return applied_index_; }
  // Brackets a run of Applies in one SQLite transaction (SmDb::BeginBatch).
  // On a CommitBatch failure the in-memory indexes are ahead of the file:
  // the caller must stop, and a restart re-applies from the file.
  absl::Status BeginBatch() { return db_->BeginBatch(); }
  absl::Status CommitBatch();
  int64_t revision() const { return revision_; }
  int64_t now_ms() const { return now_ms_; }
  absl::StatusOr<int64_t> compact_revision();
  const Limits& limits() const { return options_.limits; }

  // ---- Reads of the applied state (no ReadIndex here; that is the
  // driver's job).
  absl::StatusOr<lockpb::RangeResponse> Range(const lockpb::RangeRequest& req);
  // See KvStore::EventsSince; fails with IsHistoryCompacted() errors.
  absl::StatusOr<std::vector<lockpb::Event>> EventsSince(
      int64_t from_revision, absl::string_view key, absl::string_view range_end,
      int64_t limit);
  // TTL is measured against now_ms(), in whole seconds rounded up.
  absl::StatusOr<lockpb::LeaseTimeToLiveResponse> TimeToLive(int64_t id,
                                                             bool keys);
  absl::StatusOr<std::vector<LeaseRecord>> Leases();
  // One lease as stored (its deadline is the one in the log; the leader may
  // hold a later one in memory, see lockd/lease_keeper.h).
  absl::StatusOr<std::optional<LeaseRecord>> Lease(int64_t id);
  absl::StatusOr<lockpb::HolderResponse> Holder(absl::string_view name);
  absl::StatusOr<lockpb::CheckTokenResponse> CheckToken(absl::string_view name,
                                                        int64_t token);
  // Election view of a lock: the holder key and its value.
  absl::StatusOr<lockpb::LeaderResponse> Leader(absl::string_view name);
  // True when `lease` holds a lock or waits in a lock's queue.
  absl::StatusOr<bool> LeaseInLockQueue(int64_t lease);
  // The locks `lease` holds or waits for, by name (each once).
  absl::StatusOr<std::vector<std::string>> LockNamesOfLease(int64_t lease);

  // ---- Users and roles (auth_table.h). The applied state, rebuilt after
  // each applied auth command and on open and restore; auth_version()
  // changes whenever it may have.
  const AuthState& auth() const { return auth_; }
  uint64_t auth_version() const { return auth_version_; }
  // Permission-change records, newest first.
  absl::StatusOr<std::vector<lockpb::AuthAuditRecord>> AuthAudit(
      int64_t limit) {
    return auth_table_.AuditList(limit);
  }

  // ---- Leader helpers (deciding what to propose; they change nothing).
  // Leases whose EffectiveDeadline (see lease_table.h) is <= leader_now_ms.
  absl::StatusOr<std::vector<int64_t>> LeasesToExpire(int64_t leader_now_ms,
                                                      int64_t leader_since_ms,
                                                      int64_t grace_ms);
  // Earliest leader time at which a lock-delay ends and a waiter could be
  // granted; 0 if none.
  absl::StatusOr<int64_t> NextLockDelayEnd();

  // ---- History compaction (sm_history.cc).
  // True while history below the compaction point is still stored: the
  // leader then proposes CompactCmd{purge_only} steps until it is gone.
  bool history_purge_pending() const { return purge_pending_; }
  // Number of stored history events (status and tests).
  absl::StatusOr<int64_t> HistoryEventCount();

  // ---- Database size and the NOSPACE alarm (sm_quota.cc).
  struct DbSize {
    int64_t total_bytes = 0;   // page_count x page_size
    int64_t in_use_bytes = 0;  // minus the free pages
  };
  absl::StatusOr<DbSize> DatabaseSize();
  // Row counts for the metrics endpoint (sm_counts.cc): stored leases,
  // locks with a holder, and queued lock waiters. Each is one COUNT(*).
  struct RowCounts {
    int64_t leases = 0;
    int64_t locks_held = 0;
    int64_t lock_waiters = 0;
  };
  absl::StatusOr<RowCounts> CountRows();
  // The active NOSPACE alarm as applied from the log; active() is false
  // when there is none.
  const lockpb::AlarmCmd& nospace_alarm() const { return alarm_; }
  // The refusal a command gets while the alarm is active (OK otherwise).
  absl::Status CheckQuota(const lockpb::Command& cmd) const;
  // Gives up to `max_pages` free pages back to the file system in one
  // short transaction (incremental auto-vacuum), or, in a file created
  // without auto-vacuum, runs one full VACUUM (which also switches the file
  // to incremental mode). Returns true when no free page is left.
  // Unavailable while an apply batch is open: retry after it commits.
  absl::StatusOr<bool> DefragmentStep(int64_t max_pages);

  // ---- Snapshots: a self-contained SQLite image of the sm_ tables only.
  absl::StatusOr<std::string> Snapshot();
  // Replaces the whole state with a Snapshot() image.
  absl::Status Restore(absl::string_view image);
  // A canonical text rendering of all sm_ tables, for comparing replicas.
  absl::StatusOr<std::string> Dump();

 private:
  StateMachine(Options options, std::unique_ptr<SmDb> db);
  absl::Status LoadMeta();
  absl::Status Dispatch(ApplyContext& ctx, const lockpb::Command& cmd,
                        lockpb::CommandResult* out, LockNotices* notices);
  absl::Status ApplyLease(ApplyContext& ctx, const lockpb::Command& cmd,
                          lockpb::CommandResult* out, LockNotices* notices);
  absl::Status ApplyLeaseCheckpoint(const ApplyContext& ctx,
                                    const lockpb::LeaseCheckpointCmd& cp);
  absl::Status Compact(const lockpb::CompactCmd& cmd);
  absl::Status ApplyAlarm(const lockpb::AlarmCmd& cmd);
  // Reads the purge flag and the alarm back from the file (open, restore).
  absl::Status LoadHistoryAndAlarm();
  absl::Status LoadAuth();
  // Records the applied index, revision and clock in sm_meta.
  absl::Status WriteMeta(uint64_t applied, int64_t revision, int64_t now_ms);
  absl::StatusOr<ApplyResult> ApplyInTxn(uint64_t index,
                                         const lockpb::Command& cmd,
                                         const absl::Status* decode_error);

  Options options_;
  std::unique_ptr<SmDb> db_;
  KvStore kv_;
  LeaseTable leases_;
  LockTable locks_;
  LockOps lock_ops_;
  KvOps kv_ops_;
  ClientSessions sessions_;
  AuthTable auth_table_;
  AuthState auth_;
  uint64_t auth_version_ = 0;
  uint64_t applied_index_ = 0;
  int64_t revision_ = 0;
  int64_t now_ms_ = 0;
  bool purge_pending_ = false;
  lockpb::AlarmCmd alarm_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_STATE_MACHINE_H_
