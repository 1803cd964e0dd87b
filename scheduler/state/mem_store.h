// MemStore: an in-memory Store with lockd's semantics (revisions, prefix
// watches, compaction, fenced transactions, the 128-operation limit), for
// unit tests, deterministic simulations and in-process benchmarks.
//
// Leadership is modelled by SetFence: the test decides which token of a
// lock name is current, as lockd's election would. Faults can be injected:
// a commit that is applied but reported as failed (the outcome-unknown
// case a scheduler must survive).
//
// Thread safety: thread-safe. Watches never block: Next returns what is
// available, so a single-threaded simulation can drive them.
#ifndef BERTH_SCHEDULER_STATE_MEM_STORE_H_
#define BERTH_SCHEDULER_STATE_MEM_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "scheduler/state/store.h"

namespace berth::sched {

class MemStore : public Store {
 public:
  static constexpr int kMaxTxnOps = 128;

  MemStore() = default;

  absl::StatusOr<StoreSnapshot> Load(const std::string& prefix) override;
  absl::StatusOr<CommitResult> Commit(const StoreTxn& txn,
                                      const Fence& fence) override;
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(
      const std::string& prefix, int64_t start_revision) override;

  // Makes `token` the current fencing token of `lock_name`.
  void SetFence(const std::string& lock_name, int64_t token);
  // The next `n` commits are applied, then reported UNAVAILABLE.
  void FailAfterApply(int n);
  // The next `n` commits fail UNAVAILABLE without being applied.
  void FailBeforeApply(int n);
  // Drops watch history at and below `revision`.
  void Compact(int64_t revision);

  int64_t revision() const;
  int64_t commits() const;
  size_t size() const;

 private:
  friend class MemStoreWatch;
  struct Entry {
    std::string value;
    int64_t mod_revision = 0;
  };
  // Events with revision >= from under prefix; OUT_OF_RANGE if compacted.
  absl::StatusOr<std::vector<StoreEvent>> EventsSince(const std::string& prefix,
                                                      int64_t from) const;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> kv_ ABSL_GUARDED_BY(mu_);
  std::vector<StoreEvent> log_ ABSL_GUARDED_BY(mu_);
  int64_t compacted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> fences_ ABSL_GUARDED_BY(mu_);
  int fail_after_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_before_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_MEM_STORE_H_
