// LockTable: lock holders (sm_locks) and FIFO wait queues (sm_waiters).
//
// Plain storage: the grant policy lives in LockOps. A lock row exists while
// the lock is held, or while it is free but still inside its lock-delay.
// Waiters are ordered by a sequence number that only grows, so each queue is
// FIFO by arrival (log) order.
//
// Thread safety: none. Borrows the SmDb, which must outlive it.
#ifndef BERTH_LOCKSERVICE_SERVER_LOCK_TABLE_H_
#define BERTH_LOCKSERVICE_SERVER_LOCK_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/sm_db.h"

namespace berth::lock {

struct LockRecord {
  std::string name;
  // 0 when free (only possible while delay_until_ms is in the future).
  int64_t holder_lease = 0;
  // Revision of the grant; the fencing token.
  int64_t token = 0;
  // The holder key in the key space.
  std::string key;
  std::string value;
  int64_t lock_delay_ms = 0;
  // No grant before this leader time.
  int64_t delay_until_ms = 0;
};

struct WaiterRecord {
  int64_t seq = 0;
  std::string name;
  int64_t lease = 0;
  std::string value;
  // Leader time after which the waiter is dropped; 0 = never.
  int64_t wait_deadline_ms = 0;
  int64_t lock_delay_ms = 0;
  uint64_t request_id = 0;
};

// "<name>/<lease as 16 lowercase hex digits>".
std::string HolderKey(absl::string_view name, int64_t lease);

class LockTable {
 public:
  explicit LockTable(SmDb* db) : db_(db) {}

  absl::StatusOr<std::optional<LockRecord>> Get(absl::string_view name);
  absl::Status Upsert(const LockRecord& lock);
  absl::Status Delete(absl::string_view name);
  // The first held lock whose holder key lies in the (validated) range.
  absl::StatusOr<std::optional<LockRecord>> HolderKeyIn(
      absl::string_view key, absl::string_view range_end);
  // Locks whose holder is `lease`, by name.
  absl::StatusOr<std::vector<LockRecord>> HeldBy(int64_t lease);

  // Appends to the queue of w.name; returns the assigned sequence number.
  absl::StatusOr<int64_t> AddWaiter(const WaiterRecord& w);
  absl::StatusOr<std::vector<WaiterRecord>> Waiters(absl::string_view name);
  absl::StatusOr<std::vector<WaiterRecord>> WaitersOfLease(int64_t lease);
  absl::Status DeleteWaiter(int64_t seq);

  // Names that have waiters and no holder and whose lock-delay is over at
  // `now_ms`, by name. Costs no statement while no lock has waiters.
  absl::StatusOr<std::vector<std::string>> GrantableNames(int64_t now_ms);
  // False only when sm_waiters is known to be empty. Every apply asks for
  // grantable locks twice, and most applies happen with no lock waited
  // for, so the answer is cached: set by AddWaiter, cleared by a probe that
  // finds the table empty.
  absl::StatusOr<bool> HasWaiters();
  // Forgets the cached answer (after a rollback or a restore changed the
  // table behind this object's back).
  void ForgetCachedState() { maybe_waiters_ = true; }
  // The earliest lock-delay end among free locks with waiters, or 0.
  absl::StatusOr<int64_t> NextDelayEnd();

 private:
  absl::StatusOr<std::vector<WaiterRecord>> ReadWaiters(SmStmt* st);
  SmDb* db_;
  bool maybe_waiters_ = true;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_LOCK_TABLE_H_
