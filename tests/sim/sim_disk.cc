#include "tests/sim/sim_disk.h"

#include <utility>

namespace berth::sim {

absl::Status SimDisk::Save(const raftpb::HardState* hs,
                           const std::vector<raftpb::Entry>& entries,
                           const raftpb::Snapshot* snap) {
  if (absl::Status s = live_.Save(hs, entries, snap); !s.ok()) return s;
  Batch b;
  if (hs != nullptr) b.hs = *hs;
  b.entries = entries;
  if (snap != nullptr) b.snap = *snap;
  pending_.push_back(std::move(b));
  return absl::OkStatus();
}

absl::Status SimDisk::Sync() {
  for (const Batch& b : pending_) {
    absl::Status s = durable_.Save(b.hs ? &*b.hs : nullptr, b.entries,
                                   b.snap ? &*b.snap : nullptr);
    if (!s.ok()) return s;
  }
  pending_.clear();
  return absl::OkStatus();
}

absl::Status SimDisk::CreateSnapshot(uint64_t index,
                                     const raftpb::ConfState& cs,
                                     std::string data, uint64_t compact_to) {
  if (!pending_.empty()) {
    return absl::FailedPreconditionError(
        "sim disk: create snapshot with an unsynced batch outstanding");
  }
  if (absl::Status s = live_.CreateSnapshot(index, cs, data, compact_to);
      !s.ok()) {
    return s;
  }
  return durable_.CreateSnapshot(index, cs, std::move(data), compact_to);
}

void SimDisk::Crash() {
  pending_.clear();
  live_ = durable_;
}

}  // namespace berth::sim
