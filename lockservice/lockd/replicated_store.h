// ReplicatedStore: glue between the Raft driver (node::RaftNode) and the
// lock service's state machine (lock::StateMachine).
//
// It applies committed commands, hands each command's result back to the RPC
// that proposed it (through RaftNode's proposal framing), publishes the
// resulting events to watchers, and tells RPCs waiting for a lock grant.
// Membership changes are recorded as ordinary keys under kMembersPrefix, so
// they travel in snapshots and every replica can name every member's address.
//
// Thread safety: Apply* run on the driver thread; reads take the same mutex,
// so gRPC handler threads may call any public method. The lock::StateMachine
// is owned here and touched only under mu_. Lock-waiter callbacks run on the
// driver thread, after mu_ is released.
#ifndef BERTH_LOCKSERVICE_LOCKD_REPLICATED_STORE_H_
#define BERTH_LOCKSERVICE_LOCKD_REPLICATED_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/histogram.h"
#include "lockservice/lockd/watch_hub.h"
#include "lockservice/node/raft_node.h"
#include "lockservice/server/sm_snapshot_source.h"
#include "lockservice/server/state_machine.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lockd {

inline constexpr char kMembersPrefix[] = "/berth/_lockd/members/";

// The outcome of an applied command as the proposer sees it.
struct CommandOutcome {
  absl::Status status;  // the state machine's rejection, or OK
  lockpb::CommandResult result;
};
std::string EncodeOutcome(const CommandOutcome& o);
absl::StatusOr<CommandOutcome> DecodeOutcome(std::string_view bytes);

// What happened to a queued lock waiter.
struct LockWaitResult {
  bool granted = false;
  int64_t token = 0;
  std::string key;
  absl::Status dropped_reason;
  // The LockAcquireCmd that queued the waiter.
  uint64_t request_id = 0;
};

class ReplicatedStore : public node::StateMachine {
 public:
  ReplicatedStore(std::unique_ptr<lock::StateMachine> sm, WatchHub* hub);

  // node::StateMachine (driver thread).
  std::string Apply(uint64_t index, std::string_view payload) override;
  void ApplyConfChange(uint64_t index, const raftpb::ConfChange& cc) override;
  uint64_t AppliedIndex() const override;
  void BeginApplyBatch() override;
  void EndApplyBatch() override;
  // Pins a read view on a second connection (lock::SnapshotSource); the
  // image is built from it off the driver thread.
  absl::StatusOr<std::unique_ptr<node::SnapshotBuilder>> PinSnapshot() override;
  absl::Status Restore(const raftpb::Snapshot& snap) override;

  // Runs fn with exclusive access to the state machine (reads).
  template <typename Fn>
  auto Read(Fn&& fn) {
    absl::MutexLock l(&mu_);
    return fn(*sm_);
  }

  // Calls `fn` once, on the driver thread, when lease `lease`'s waiter for
  // lock `name` is granted or dropped by an applied entry. Keyed by (name,
  // lease) rather than by request: a retried acquire for a lease that is
  // already queued keeps the original waiter, so its grant must reach the
  // retry too. Returns a handle for RemoveLockWaiter.
  using LockWaiterFn = absl::AnyInvocable<void(LockWaitResult) &&>;
  uint64_t AddLockWaiter(const std::string& name, int64_t lease,
                         LockWaiterFn fn);
  // Drops the registration (and `fn`) unless it already fired.
  void RemoveLockWaiter(uint64_t handle);

  // Registers a watcher and replays history from `start_revision` under the
  // same lock that Apply publishes with, so no event is lost or doubled.
  // On a compacted start revision, fails with lock::IsHistoryCompacted and
  // sets *compact_revision to the oldest revision still available.
  absl::Status StartWatch(WatchSink* sink, int64_t watch_id,
                          const WatchHub::Spec& spec,
                          int64_t* compact_revision);

  int64_t revision();
  // The applied users, roles and auth switch (lock/auth_state.h), as of
  // the last applied entry. Cheap: no state machine access.
  std::shared_ptr<const lock::AuthState> auth();
  // Members as recorded by applied membership changes: id -> address.
  std::map<uint64_t, std::string> Members();
  // Called on the driver thread after a membership change or a restore, so
  // the owner can update its transport's address book.
  void OnMembersChanged(std::function<void()> fn) { on_members_ = fn; }
  // The replica's SQLite file, from which PinSnapshot reads through a
  // second connection. Set before the node starts.
  void SetSnapshotPath(std::string path) { snapshot_path_ = std::move(path); }
  // Times each apply batch (docs/metrics.md). Set before the node starts;
  // borrowed.
  void SetApplyBatchHistogram(metrics::Histogram* h) { apply_batch_ = h; }

 private:
  // After a snapshot install: sends each watch the events from `from` on
  // that the install skipped, or ends it if they were compacted.
  void CatchUpWatchesLocked(int64_t from) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Republishes the auth state if the state machine's changed.
  void PublishAuthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  std::unique_ptr<lock::StateMachine> sm_ ABSL_GUARDED_BY(mu_);
  WatchHub* const hub_;
  std::function<void()> on_members_;
  std::string snapshot_path_;
  metrics::Histogram* apply_batch_ = nullptr;
  absl::Time batch_start_;  // driver thread only
  // Opened on first use. Used by the driver (Pin) and then by the node's
  // builder thread (Build), never both at once (one builder at a time).
  std::unique_ptr<lock::SnapshotSource> snapshot_source_;

  uint64_t auth_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Every RPC checks it; a separate small lock keeps those checks off mu_.
  absl::Mutex auth_mu_;
  std::shared_ptr<const lock::AuthState> auth_ ABSL_GUARDED_BY(auth_mu_);

  // Members() reads SQLite; every response header needs the leader's
  // address, so keep the answer until a membership change or restore.
  absl::Mutex members_mu_;
  std::optional<std::map<uint64_t, std::string>> members_cache_
      ABSL_GUARDED_BY(members_mu_);

  // Lock waiters by (name, lease): a grant calls only the RPCs it is for.
  struct WaiterReg {
    std::string name;
    int64_t lease = 0;
    LockWaiterFn fn;
  };
  absl::Mutex waiter_mu_;
  uint64_t next_waiter_ ABSL_GUARDED_BY(waiter_mu_) = 0;
  std::map<uint64_t, WaiterReg> waiters_ ABSL_GUARDED_BY(waiter_mu_);
  std::multimap<std::pair<std::string, int64_t>, uint64_t> waiter_index_
      ABSL_GUARDED_BY(waiter_mu_);
  void DeliverLockNotice(const std::string& name, int64_t lease,
                         const LockWaitResult& r);
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_REPLICATED_STORE_H_
