// LeaseTable: sessions with a time to live (sm_leases).
//
// A lease's deadline is in leader time (the clock carried by commands):
// granted or kept alive at leader time t, it is due at t + ttl; a leader
// checkpoint at t recording r ms left makes it due at t + r. Keepalives are
// renewed in the leader's memory and reach this table only through those
// checkpoints, so the stored deadline can lag the leader's by up to one
// checkpoint interval (lockd/lease_keeper.h). The state machine never
// expires a lease on its own; the leader proposes LeaseExpireCmd when its
// clock passes both the effective deadline (see EffectiveDeadline) and its
// own in-memory deadline for the lease.
//
// Thread safety: none. Borrows the SmDb, which must outlive it.
#ifndef BERTH_LOCKSERVICE_SERVER_LEASE_TABLE_H_
#define BERTH_LOCKSERVICE_SERVER_LEASE_TABLE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/server/sm_db.h"

namespace berth::lock {

struct LeaseRecord {
  int64_t id = 0;
  int64_t ttl_ms = 0;
  int64_t granted_ms = 0;
  int64_t deadline_ms = 0;
};

// When a leader should propose expiry of `lease`.
//
// Rule for a leader that took office at leader time `leader_since_ms` (its
// own clock), as etcd's lessor does on promotion: every lease is treated as
// refreshed then, plus `grace_ms` (an election timeout or so):
// max(deadline, leader_since + ttl + grace_ms). The stored deadline is only
// the last checkpointed one: the old leader may have acknowledged renewals
// after it, which are not known here, and clients could reach no leader
// during the election. Every acknowledged renewal predates the new leader's
// term, so no lease ends sooner than TTL after its client's last
// acknowledged keepalive, across any number of leader changes. The price:
// a lease whose holder is gone lives up to ttl + grace after each change.
int64_t EffectiveDeadline(const LeaseRecord& lease, int64_t leader_since_ms,
                          int64_t grace_ms);

class LeaseTable {
 public:
  explicit LeaseTable(SmDb* db) : db_(db) {}

  absl::StatusOr<std::optional<LeaseRecord>> Get(int64_t id);
  absl::Status Upsert(const LeaseRecord& lease);
  absl::Status Delete(int64_t id);
  // Applies one checkpoint entry: deadline = max(deadline, now_ms +
  // min(remaining_ms, ttl)). One statement, because a checkpoint carries
  // up to a thousand leases and is applied while readers wait. A missing
  // lease is not an error.
  absl::Status Checkpoint(int64_t id, int64_t now_ms, int64_t remaining_ms);
  // All leases in id order.
  absl::StatusOr<std::vector<LeaseRecord>> List();
  // Leases with deadline_ms <= before_ms, in (deadline, id) order.
  absl::StatusOr<std::vector<LeaseRecord>> DeadlineBefore(int64_t before_ms);

 private:
  SmDb* db_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_LEASE_TABLE_H_
