// MemoryStorage: an in-memory LogStore, used by unit tests, benchmarks and the
// deterministic simulator (which wraps it to lose unsynced writes on a crash).
//
// Layout: ents_[0] is a dummy entry holding the snapshot's index and term, so
// ents_[i] has index snapshot_index + i. Everything is durable the moment a
// call returns (there is no disk).
//
// Membership: GetInitialState().conf_state is the ConfState of the latest
// snapshot (for a brand-new cluster, the bootstrap ConfState at index 0). The
// Raft core re-derives later membership from conf-change entries in the log;
// see raft_impl.h.
//
// Thread safety: none; one thread at a time, like every Storage.
#ifndef BERTH_LOCKSERVICE_RAFT_MEMORY_STORAGE_H_
#define BERTH_LOCKSERVICE_RAFT_MEMORY_STORAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lockservice/raft/storage.h"

namespace berth::raft {

class MemoryStorage : public LogStore {
 public:
  // Empty storage with no members: a node that will join an existing cluster
  // and learn membership from the leader's log or snapshot.
  MemoryStorage();

  // Storage for a member of a brand-new cluster whose initial membership is
  // `voters` (+ `learners`). Every member of the new cluster must be
  // bootstrapped with the same lists. Fails on an empty voter list, a zero id
  // or an id listed twice.
  static absl::StatusOr<std::unique_ptr<MemoryStorage>> Bootstrap(
      const std::vector<uint64_t>& voters,
      const std::vector<uint64_t>& learners = {});

  // Storage interface.
  absl::StatusOr<InitialState> GetInitialState() override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override;
  absl::StatusOr<uint64_t> Term(uint64_t i) override;
  uint64_t FirstIndex() override;
  uint64_t LastIndex() override;
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override;

  // LogStore interface.
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override;
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override;

  // Finer-grained pieces of Save, for tests and the simulator.
  void SetHardState(const raftpb::HardState& hs) { hard_state_ = hs; }
  // Installs `snap` and resets the log to start after it. Fails if `snap` is
  // older than the current snapshot.
  absl::Status ApplySnapshot(const raftpb::Snapshot& snap);
  // Appends entries, truncating a conflicting suffix first. Entries at or
  // below the snapshot are ignored; a gap after LastIndex() is an error.
  absl::Status Append(const std::vector<raftpb::Entry>& entries);
  // Discards entries up to and including `compact_to` (<= LastIndex()).
  absl::Status Compact(uint64_t compact_to);

  const raftpb::HardState& hard_state() const { return hard_state_; }

 private:
  uint64_t SnapshotIndex() const { return ents_.front().index(); }

  raftpb::HardState hard_state_;
  raftpb::Snapshot snapshot_;
  std::vector<raftpb::Entry> ents_;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_MEMORY_STORAGE_H_
