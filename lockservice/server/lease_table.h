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
// Rule for a leader elected at leader time `leader_since_ms` (its own clock):
// the countdown resumes from the stored deadline — a leader change never
// silently resets a lease to its full TTL. But clients could not reach any
// leader during the election, so a lease whose deadline fell in (or just
// after) the leaderless window gets a grace: it is treated as if refreshed at
// the election time, with a TTL of at most `grace_ms`. Thus the effective
// deadline is max(deadline, leader_since + min(ttl, grace_ms)), never more
// than "refreshed at the election time". grace_ms = 0 disables the grace.
// The stored deadline is the last checkpointed one: renewals the old leader
// acknowledged after its last checkpoint are not known here.
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
