// ConcurrentLogStore: one raft::LogStore shared by the Raft driver thread
// (the core's reads; writes that carry a new term, a vote or a snapshot)
// and the LogWriter thread (every other write, and log compaction,
// log_writer.h).
//
// The inner store is not thread-safe, so every call into it is serialized.
// That alone would make the driver wait for the writer's fsync whenever the
// core reads the log, and it reads it on the hot path: committed entries
// are read back to be applied, and FirstIndex/LastIndex are asked on every
// append. So the bounds and the most recently written entries (a tail of at
// most kTailEntries / kTailBytes) are kept in memory and served without
// touching the inner store; only older reads wait.
//
// The replica's state machine may share the inner store's file (lockd keeps
// both in one SQLite database, one writer at a time). Its apply transactions
// hold file_write_mu() so they queue behind a log write on a mutex instead
// of polling SQLite's busy handler, and the other way round.
//
// Thread safety: all methods are thread-safe. Lock order: file_write_mu()
// before the store's own mutexes.
#ifndef BERTH_LOCKSERVICE_NODE_CONCURRENT_LOG_STORE_H_
#define BERTH_LOCKSERVICE_NODE_CONCURRENT_LOG_STORE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lockservice/raft/storage.h"

namespace berth::node {

class ConcurrentLogStore : public raft::LogStore {
 public:
  static constexpr size_t kTailEntries = 8192;
  static constexpr uint64_t kTailBytes = 16 << 20;

  // `inner` is borrowed and must outlive this object.
  explicit ConcurrentLogStore(raft::LogStore* inner);

  // raft::Storage.
  absl::StatusOr<raft::InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override;
  absl::StatusOr<uint64_t> Term(uint64_t i) override;
  uint64_t FirstIndex() override;
  uint64_t LastIndex() override;
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override;

  // raft::LogStore.
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override;
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override;

  absl::Mutex& file_write_mu() { return file_mu_; }

 private:
  // Re-reads the bounds after a write and adjusts the tail to them.
  void RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_, cache_mu_);

  raft::LogStore* const inner_;
  absl::Mutex file_mu_;
  absl::Mutex io_mu_ ABSL_ACQUIRED_AFTER(file_mu_);  // calls into inner_
  absl::Mutex cache_mu_ ABSL_ACQUIRED_AFTER(io_mu_);
  uint64_t first_ ABSL_GUARDED_BY(cache_mu_) = 1;
  uint64_t last_ ABSL_GUARDED_BY(cache_mu_) = 0;
  // Entries (tail_first_ ... last_], contiguous; empty if none cached.
  std::deque<raftpb::Entry> tail_ ABSL_GUARDED_BY(cache_mu_);
  uint64_t tail_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_CONCURRENT_LOG_STORE_H_
