// LockOps: the lock and election policy on top of the tables.
//
//  * Each lock name has a FIFO queue of waiters. A grant happens only inside
//    Apply: immediately when the lock is free, otherwise when the holder
//    releases (or its lease dies) and the lock-delay, if any, is over.
//  * At grant time the head waiter's lease is re-checked: a waiter whose
//    lease is gone or past its deadline, or whose wait deadline passed, is
//    dropped and the next one considered.
//  * The fencing token is the revision of the grant, so tokens of one lock
//    strictly increase. Granting writes the holder key (bound to the lease),
//    which is what watchers and elections observe.
//  * Only a dying lease (LeaseExpireCmd) starts lock-delay; an explicit
//    unlock or lease revoke frees the lock at once.
//
// Thread safety: none. Borrows the stores and limits, which must outlive it.
#ifndef BERTH_LOCKSERVICE_SERVER_LOCK_OPS_H_
#define BERTH_LOCKSERVICE_SERVER_LOCK_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/apply_context.h"
#include "lockservice/server/kv_store.h"
#include "lockservice/server/lease_table.h"
#include "lockservice/server/limits.h"
#include "lockservice/server/lock_table.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lock {

// A waiter that became the holder during some later Apply.
struct LockGrant {
  std::string name;
  int64_t lease = 0;
  int64_t token = 0;
  std::string key;
  // request_id of the LockAcquireCmd that queued it.
  uint64_t request_id = 0;
};

// A waiter removed without a grant; `reason` says why.
struct WaiterDropped {
  std::string name;
  int64_t lease = 0;
  uint64_t request_id = 0;
  absl::Status reason;
};

struct LockNotices {
  std::vector<LockGrant> grants;
  std::vector<WaiterDropped> dropped;
};

class LockOps {
 public:
  LockOps(KvStore* kv, LeaseTable* leases, LockTable* locks,
          const Limits* limits)
      : kv_(kv), leases_(leases), locks_(locks), limits_(limits) {}

  // Grants, queues, or (try_only) reports the lock busy. Re-acquiring a lock
  // the lease already holds, or already waits for, returns the existing
  // state, so a retried proposal has no extra effect.
  absl::StatusOr<lockpb::LockAcquireResult> Acquire(
      ApplyContext& ctx, const lockpb::LockAcquireCmd& cmd,
      uint64_t request_id);
  absl::Status Release(ApplyContext& ctx, absl::string_view name,
                       int64_t token);
  absl::Status Cancel(ApplyContext& ctx, absl::string_view name, int64_t lease,
                      LockNotices* notices);
  // Election: rewrites the holder key's value (new revision).
  absl::Status Proclaim(ApplyContext& ctx, const lockpb::ProclaimCmd& cmd);

  // OK iff `token` is the current holder's token of `name`; otherwise
  // FailedPrecondition naming the lock and both tokens.
  absl::Status CheckToken(absl::string_view name, int64_t token);

  // FailedPrecondition if the range covers a current holder key: those keys
  // change only through lock commands, so that the lock table and the key
  // space (what watchers and elections see) never disagree.
  absl::Status CheckNoHolderKeys(absl::string_view key,
                                 absl::string_view range_end);

  // For a dying lease: frees the locks it holds (starting lock-delay if
  // `expired`) and drops its queued waiters. Runs in the caller's step.
  absl::Status ForgetLease(ApplyContext& ctx, int64_t lease, bool expired,
                           LockNotices* notices);

  // Grants every lock that can be granted at ctx.now_ms, each in its own
  // step (revision).
  absl::Status GrantReady(ApplyContext& ctx, LockNotices* notices);

 private:
  absl::StatusOr<LockGrant> Grant(ApplyContext& ctx, absl::string_view name,
                                  int64_t lease, absl::string_view value,
                                  int64_t lock_delay_ms);
  // Sets *why to a non-OK reason if the waiter may not be granted at
  // ctx.now_ms. The return value reports storage failures only.
  absl::Status WaiterIneligible(const ApplyContext& ctx, const WaiterRecord& w,
                                absl::Status* why);
  absl::Status LeaseAlive(const ApplyContext& ctx, int64_t lease);

  KvStore* kv_;
  LeaseTable* leases_;
  LockTable* locks_;
  const Limits* limits_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_LOCK_OPS_H_
