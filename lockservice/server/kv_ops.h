// KvOps: validation and execution of Put, DeleteRange and Txn commands.
//
// Everything is checked before anything is written where possible (sizes,
// ranges, op counts); checks that depend on state (lease existence, fencing
// guard) fail the command, and the caller rolls back its partial writes.
// A whole transaction is one step, so it bumps the revision at most once.
//
// Thread safety: none. Borrows its collaborators, which must outlive it.
#ifndef BERTH_LOCKSERVICE_SERVER_KV_OPS_H_
#define BERTH_LOCKSERVICE_SERVER_KV_OPS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/server/apply_context.h"
#include "lockservice/server/kv_store.h"
#include "lockservice/server/lease_table.h"
#include "lockservice/server/limits.h"
#include "lockservice/server/lock_ops.h"
#include "proto/lock.pb.h"

namespace berth::lock {

class KvOps {
 public:
  KvOps(KvStore* kv, LeaseTable* leases, LockOps* locks, const Limits* limits)
      : kv_(kv), leases_(leases), locks_(locks), limits_(limits) {}

  absl::StatusOr<lockpb::PutResponse> Put(ApplyContext& ctx,
                                          const lockpb::PutRequest& req);
  absl::StatusOr<lockpb::DeleteRangeResponse> DeleteRange(
      ApplyContext& ctx, const lockpb::DeleteRangeRequest& req);
  absl::StatusOr<lockpb::TxnResponse> Txn(ApplyContext& ctx,
                                          const lockpb::TxnRequest& req);

  // Static checks of a request, usable by a server before proposing.
  absl::Status ValidatePut(const lockpb::PutRequest& req) const;
  absl::Status ValidateTxn(const lockpb::TxnRequest& req) const;

 private:
  absl::StatusOr<bool> Evaluate(const lockpb::Compare& c);
  absl::Status ValidateOp(const lockpb::RequestOp& op) const;

  KvStore* kv_;
  LeaseTable* leases_;
  LockOps* locks_;
  const Limits* limits_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_KV_OPS_H_
