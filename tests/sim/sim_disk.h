// SimDisk: a raft::LogStore that models a disk with a volatile write cache.
//
// Save() lands in the cache (the Raft core reads it back at once, as it would
// through the OS page cache) and becomes durable only at Sync(). Crash()
// throws the cache away: the store reverts to exactly what was last synced.
// CreateSnapshot() is a local compaction the driver runs between Ready
// batches; it is durable when it returns, and is refused while a batch is
// unsynced so that the durable image never mixes states.
//
// Both images are raft::MemoryStorage, so the simulator exercises the same
// storage code as the core's unit tests.
//
// Thread safety: none; one thread drives it.
#ifndef BERTH_TESTS_SIM_SIM_DISK_H_
#define BERTH_TESTS_SIM_SIM_DISK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/storage.h"

namespace berth::sim {

class SimDisk : public raft::LogStore {
 public:
  // Starts with `initial` both cached and durable.
  explicit SimDisk(const raft::MemoryStorage& initial)
      : live_(initial), durable_(initial) {}

  // Storage (reads see the cache, like reads through the page cache).
  absl::StatusOr<raft::InitialState> GetInitialState() override {
    return live_.GetInitialState();
  }
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) override {
    return live_.Entries(lo, hi, max_bytes);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) override { return live_.Term(i); }
  uint64_t FirstIndex() override { return live_.FirstIndex(); }
  uint64_t LastIndex() override { return live_.LastIndex(); }
  absl::StatusOr<raftpb::Snapshot> GetSnapshot() override {
    return live_.GetSnapshot();
  }

  // LogStore. Save is only written, not durable, until Sync().
  absl::Status Save(const raftpb::HardState* hs,
                    const std::vector<raftpb::Entry>& entries,
                    const raftpb::Snapshot* snap) override;
  absl::Status CreateSnapshot(uint64_t index, const raftpb::ConfState& cs,
                              std::string data, uint64_t compact_to) override;

  // fsync: everything saved so far becomes durable.
  absl::Status Sync();
  // Power loss: unsynced writes vanish.
  void Crash();

  bool has_unsynced() const { return !pending_.empty(); }
  // The durable image, for checkers that inspect what survived.
  raft::MemoryStorage& durable() { return durable_; }
  raft::MemoryStorage& live() { return live_; }

 private:
  struct Batch {
    std::optional<raftpb::HardState> hs;
    std::vector<raftpb::Entry> entries;
    std::optional<raftpb::Snapshot> snap;
  };

  raft::MemoryStorage live_;
  raft::MemoryStorage durable_;
  std::vector<Batch> pending_;
};

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_SIM_DISK_H_
