// RaftLog: the replica's view of the log, combining what is stable in Storage
// with what the core appended but the driver has not yet persisted
// ("unstable": entries and possibly a snapshot received from the leader).
//
// Indices: committed >= applied; entries in (applied, committed] are handed to
// the driver at most once (tracked by applying_), and become applied on
// Advance. Unstable entries are handed out once as Ready.entries (tracked by
// in_progress_) and leave the unstable buffer when the driver reports them
// stable (StableTo).
//
// Thread safety: none. Borrows the Storage, which must outlive the RaftLog.
#ifndef BERTH_LOCKSERVICE_RAFT_RAFT_LOG_H_
#define BERTH_LOCKSERVICE_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::raft {

class RaftLog {
 public:
  explicit RaftLog(Storage* storage);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; 0 if i is out of range (compacted or not yet written).
  uint64_t TermOr0(uint64_t i) const;
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // §5.4.1: a candidate's log is at least as up to date as ours.
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // §5.3 AppendEntries consistency check + append. Returns the index of the
  // last new entry if the entry at `index` has term `log_term`, else nullopt.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term,
                                      uint64_t committed,
                                      std::vector<raftpb::Entry>&& ents);
  // Appends after truncating a conflicting suffix; returns the new last index.
  uint64_t Append(std::vector<raftpb::Entry>&& ents);
  // Appends a single entry at the end (leader path).
  void AppendOne(raftpb::Entry&& e);

  // Entries in [lo, last] up to max_bytes (at least one if any).
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo,
                                                     uint64_t max_bytes) const;
  absl::StatusOr<std::vector<raftpb::Entry>> Slice(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const;

  // Fast back-off: the largest index <= `index` whose term is <= `term`,
  // and that entry's term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index,
                                                   uint64_t term) const;

  bool MaybeCommit(uint64_t index, uint64_t term);
  void CommitTo(uint64_t index);
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t applying() const { return applying_; }
  void SetApplied(uint64_t i);

  // Restores the log to `snap` (follower installing a leader's snapshot).
  void Restore(const raftpb::Snapshot& snap);

  // Ready plumbing.
  bool HasUnstableToSave() const;
  std::vector<raftpb::Entry> TakeUnstableEntries();
  const std::optional<raftpb::Snapshot>& unstable_snapshot() const {
    return unstable_snap_;
  }
  bool snapshot_in_progress() const { return snap_in_progress_; }
  void MarkSnapshotInProgress() { snap_in_progress_ = true; }
  // Committed entries not yet handed out, capped at PersistedIndex(): an
  // entry is applied only once it is durable here too, so a replica never
  // applies what a crash could take back out of its own log.
  bool HasNextCommitted() const;
  std::vector<raftpb::Entry> NextCommitted(uint64_t max_bytes);
  // Entries up to `index` are durable, if the entry there still has `term`
  // (a report about an entry overwritten since is ignored). True if any
  // entry became stable.
  bool StableTo(uint64_t index, uint64_t term);
  // Highest index such that every entry up to it is durable in storage (or
  // covered by a snapshot). Entries above it are still being written.
  uint64_t PersistedIndex() const;
  void StableSnapTo(uint64_t index);

 private:
  uint64_t UnstableLastIndex() const;  // 0 if no unstable entries/snapshot
  void TruncateAndAppend(std::vector<raftpb::Entry>&& ents);
  uint64_t FindConflict(const std::vector<raftpb::Entry>& ents) const;

  Storage* storage_;
  // Unstable entries: unstable_[k].index() == offset_ + k.
  std::optional<raftpb::Snapshot> unstable_snap_;
  bool snap_in_progress_ = false;
  std::vector<raftpb::Entry> unstable_;
  uint64_t offset_ = 0;
  // Last unstable index already handed out in a Ready.
  uint64_t in_progress_ = 0;
  uint64_t committed_ = 0;
  uint64_t applying_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_RAFT_LOG_H_
