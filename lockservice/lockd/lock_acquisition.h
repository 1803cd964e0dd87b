// LockAcquisition: one Lock/TryLock/Campaign call's way through the
// server-side FIFO queue, driven by callbacks instead of a parked thread.
//
//   propose the acquire ──granted, try-only, or error──► done
//        │ queued
//        ▼
//   wait for the grant/drop notice (ReplicatedStore::AddLockWaiter)
//        │ deadline (TimerQueue) or Cancel()
//        ▼
//   propose LockCancel (leave the queue); a grant that raced with it is
//   returned, or released again if the client went away
//
// Each step is one committed entry at most; nothing polls the holder. The
// callbacks arrive on the Raft driver thread, the timer thread and the
// thread that calls Cancel; a mutex orders them, and every action (a
// proposal, `done`) runs after it is released, since a proposal may
// complete inline.
//
// Ownership: shared. The node's completion, the store's waiter registration
// and the timer each hold a reference while registered, so the object lives
// exactly as long as something may still call it; `done` runs once.
#ifndef BERTH_LOCKSERVICE_LOCKD_LOCK_ACQUISITION_H_
#define BERTH_LOCKSERVICE_LOCKD_LOCK_ACQUISITION_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lockservice/lockd/core.h"
#include "proto/lock.pb.h"

namespace berth::lockd {

class LockAcquisition : public std::enable_shared_from_this<LockAcquisition> {
 public:
  using Done =
      absl::AnyInvocable<void(absl::StatusOr<lockpb::LockAcquireResult>) &&>;

  // Starts acquiring; `done` runs exactly once (possibly inline). Cancel()
  // is the only call allowed afterwards. Core must outlive the call.
  static std::shared_ptr<LockAcquisition> Start(Core* core,
                                                lockpb::LockAcquireCmd acq,
                                                absl::Time deadline, Done done);

  // The client went away: leave the queue, and hand back a lock granted
  // meanwhile. `done` then gets Cancelled.
  void Cancel();

  // Internal: use Start.
  LockAcquisition(Core* core, lockpb::LockAcquireCmd acq, absl::Time deadline,
                  Done done);

 private:
  enum class Phase { kAcquiring, kWaiting, kLeaving, kReleasing, kDone };

  void Begin();
  // Registers with the store for this lease's grant/drop notice.
  void Register();
  void OnAcquired(absl::StatusOr<lockpb::CommandResult> r);
  void OnNotice(LockWaitResult r);
  void OnTimeout();
  void OnLeft();
  // Proposes LockCancel; OnLeft follows. Phase must be kLeaving.
  void Leave();
  // Proposes the release of a lock granted to a client that went away.
  void Release(int64_t token);
  // Runs `done` and drops the registrations. Call without mu_.
  void Complete(absl::StatusOr<lockpb::LockAcquireResult> r);
  absl::StatusOr<lockpb::LockAcquireResult> FromNotice(
      const LockWaitResult& w) const;

  Core* const core_;
  const lockpb::LockAcquireCmd acq_;
  const absl::Time deadline_;
  uint64_t request_id_ = 0;  // set in Begin, before any callback

  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kAcquiring;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ahead_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<LockWaitResult> notice_ ABSL_GUARDED_BY(mu_);
  uint64_t waiter_ ABSL_GUARDED_BY(mu_) = 0;  // store registration
  uint64_t timer_ ABSL_GUARDED_BY(mu_) = 0;
  Done done_ ABSL_GUARDED_BY(mu_);
};

// The blocking form, for the services still on the sync API (Election's
// Campaign): waits for `done`, turning a cancelled context into Cancel().
absl::StatusOr<lockpb::LockAcquireResult> AcquireLockBlocking(
    Core* core, const grpc::ServerContextBase* ctx,
    const lockpb::LockAcquireCmd& acq, absl::Time deadline);

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LOCK_ACQUISITION_H_
