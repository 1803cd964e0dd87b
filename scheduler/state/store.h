// Store: the scheduler's seam onto lockd's key space.
//
// Everything the scheduler knows lives in lockd under /berth/. The
// scheduler reads it with Load, follows it with Watch, and changes it only
// through Commit, which is fenced: a commit carries the leader's fencing
// token and lockd refuses it (FAILED_PRECONDITION) once another scheduler
// has been elected, so a deposed leader can never write.
//
// Two implementations: LockdStore (the real lock service) and MemStore (a
// deterministic in-memory model for unit tests, simulations and the
// in-process benchmarks).
//
// Thread safety: implementations are thread-safe. Ownership: a StoreWatch
// borrows its Store, which must outlive it.
#ifndef BERTH_SCHEDULER_STATE_STORE_H_
#define BERTH_SCHEDULER_STATE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::sched {

struct StoredKV {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
};

struct StoreSnapshot {
  int64_t revision = 0;  // the store revision the snapshot reflects
  std::vector<StoredKV> kvs;
};

struct StoreEvent {
  bool deleted = false;
  std::string key;
  std::string value;  // empty for deletes
  int64_t revision = 0;
};

// A condition of a transaction: the key is absent, or has exactly this
// mod revision (compare-and-swap on a record read earlier).
struct StoreCond {
  enum class Kind { kAbsent, kModRevision };
  Kind kind = Kind::kAbsent;
  std::string key;
  int64_t mod_revision = 0;

  static StoreCond Absent(std::string key) {
    return {Kind::kAbsent, std::move(key), 0};
  }
  static StoreCond ModRevision(std::string key, int64_t rev) {
    return {Kind::kModRevision, std::move(key), rev};
  }
};

struct StoreOp {
  bool del = false;
  std::string key;
  std::string value;
  // Delete every key starting with `key` (only with del).
  bool prefix = false;

  static StoreOp Put(std::string key, std::string value) {
    return {false, std::move(key), std::move(value), false};
  }
  static StoreOp Delete(std::string key) {
    return {true, std::move(key), "", false};
  }
  static StoreOp DeletePrefix(std::string prefix) {
    return {true, std::move(prefix), "", true};
  }
};

struct StoreTxn {
  std::vector<StoreCond> conds;
  std::vector<StoreOp> ops;
};

// The leadership a commit is fenced on: lockd's election (lock) name and
// the token of our leadership in it. An empty lock_name commits unfenced
// (agents' status writes); the scheduler never does that.
struct Fence {
  std::string lock_name;
  int64_t token = 0;
};

struct CommitResult {
  bool succeeded = false;  // false: a StoreCond did not hold; nothing ran
  int64_t revision = 0;
};

class StoreWatch {
 public:
  virtual ~StoreWatch() = default;
  // Events in revision order; an empty vector if none came within
  // `timeout`. OUT_OF_RANGE when the start revision was compacted (the
  // caller must Load again), other errors when the watch ended.
  virtual absl::StatusOr<std::vector<StoreEvent>> Next(
      absl::Duration timeout) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Every key under `prefix`, linearizably.
  virtual absl::StatusOr<StoreSnapshot> Load(const std::string& prefix) = 0;

  // Applies `txn` atomically if `fence` still holds and every condition
  // does. FAILED_PRECONDITION (naming the fence) when leadership is lost;
  // other errors when the outcome is unknown or the request was refused.
  virtual absl::StatusOr<CommitResult> Commit(const StoreTxn& txn,
                                              const Fence& fence) = 0;

  // Changes under `prefix` from `start_revision` on.
  virtual absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(
      const std::string& prefix, int64_t start_revision) = 0;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_STORE_H_
