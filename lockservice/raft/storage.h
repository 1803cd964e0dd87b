// raft::Storage: the read side of a replica's durable Raft state.
//
// The Raft core reads the stable log through this interface and never writes
// it; the driver (lockd's Ready loop, or the simulator) persists each Ready
// batch through LogStore::Save and only then hands the batch back with
// Raft::Advance. Implementations: MemoryStorage (simulation, unit tests) and
// SqliteStorage (lockservice/storage/).
//
// Thread safety: none required. The Raft core and the driver call a Storage
// from one thread at a time.
#ifndef BERTH_LOCKSERVICE_RAFT_STORAGE_H_
#define BERTH_LOCKSERVICE_RAFT_STORAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/raft.pb.h"

namespace berth::raft {

// Error conventions, shared by all implementations:
//  * a request for an index at or below the compaction point returns
//    absl::OutOfRangeError with message starting "compacted";
//  * a request above LastIndex() returns absl::OutOfRangeError with message
//    starting "unavailable";
//  * a snapshot that is being produced asynchronously returns
//    absl::UnavailableError (the core retries later).
// Use IsCompacted()/IsUnavailable() rather than comparing messages.
absl::Status CompactedError();
absl::Status UnavailableIndexError();
bool IsCompacted(const absl::Status& s);
bool IsUnavailableIndex(const absl::Status& s);

struct InitialState {
  raftpb::HardState hard_state;
  raftpb::ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Hard state and membership as of the last Save/ApplySnapshot.
  virtual absl::StatusOr<InitialState> GetInitialState() = 0;

  // Entries in [lo, hi), at most max_bytes of serialized entries (but always
  // at least one entry if any is in range).
  virtual absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) = 0;

  // Term of entry i. Valid for FirstIndex()-1 <= i <= LastIndex(); the term
  // of FirstIndex()-1 is the snapshot's term.
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) = 0;

  // Index of the first entry still in the log (snapshot index + 1).
  virtual uint64_t FirstIndex() = 0;
  virtual uint64_t LastIndex() = 0;

  // The most recent snapshot (metadata and state-machine image).
  virtual absl::StatusOr<raftpb::Snapshot> GetSnapshot() = 0;
};

// The write side, used by drivers. Each call is atomic and durable when it
// returns OK (group commit: one transaction, one fsync per call).
class LogStore : public Storage {
 public:
  // Persists a Ready batch: the hard state (if hs != nullptr), then appends
  // `entries`, truncating any conflicting suffix first (entries[0].index may
  // be <= LastIndex()). If snap != nullptr it is installed first: the log is
  // reset to start after snap->metadata().index.
  virtual absl::Status Save(const raftpb::HardState* hs,
                            const std::vector<raftpb::Entry>& entries,
                            const raftpb::Snapshot* snap) = 0;

  // Records a snapshot of the applied state at `index` (which must be
  // <= the applied index) and discards log entries up to and including
  // `compact_to` (<= index). Storage keeps the latest snapshot only.
  virtual absl::Status CreateSnapshot(uint64_t index,
                                      const raftpb::ConfState& cs,
                                      std::string data,
                                      uint64_t compact_to) = 0;
};

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_STORAGE_H_
