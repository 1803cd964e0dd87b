#include "lockservice/raft/memory_storage.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::raft {

MemoryStorage::MemoryStorage() { ents_.emplace_back(); }

absl::StatusOr<std::unique_ptr<MemoryStorage>> MemoryStorage::Bootstrap(
    const std::vector<uint64_t>& voters,
    const std::vector<uint64_t>& learners) {
  if (voters.empty()) {
    return absl::InvalidArgumentError("bootstrap: voter list is empty");
  }
  std::set<uint64_t> seen;
  for (const auto& list : {voters, learners}) {
    for (uint64_t id : list) {
      if (id == 0) {
        return absl::InvalidArgumentError("bootstrap: node id 0 is reserved");
      }
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("bootstrap: node id ", id, " is listed twice"));
      }
    }
  }
  auto s = std::make_unique<MemoryStorage>();
  auto* cs = s->snapshot_.mutable_metadata()->mutable_conf_state();
  for (uint64_t id : voters) cs->add_voters(id);
  for (uint64_t id : learners) cs->add_learners(id);
  return s;
}

absl::StatusOr<InitialState> MemoryStorage::GetInitialState() {
  InitialState st;
  st.hard_state = hard_state_;
  st.conf_state = snapshot_.metadata().conf_state();
  return st;
}

absl::StatusOr<std::vector<raftpb::Entry>> MemoryStorage::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) {
  const uint64_t offset = SnapshotIndex();
  if (lo <= offset) return CompactedError();
  if (hi > LastIndex() + 1) return UnavailableIndexError();
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("entries: lo ", lo, " > hi ", hi));
  }
  std::vector<raftpb::Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const raftpb::Entry& e = ents_[i - offset];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) {
  const uint64_t offset = SnapshotIndex();
  if (i < offset) return CompactedError();
  if (i > LastIndex()) return UnavailableIndexError();
  return ents_[i - offset].term();
}

uint64_t MemoryStorage::FirstIndex() { return SnapshotIndex() + 1; }

uint64_t MemoryStorage::LastIndex() {
  return SnapshotIndex() + ents_.size() - 1;
}

absl::StatusOr<raftpb::Snapshot> MemoryStorage::GetSnapshot() {
  return snapshot_;
}

absl::Status MemoryStorage::ApplySnapshot(const raftpb::Snapshot& snap) {
  if (snap.metadata().index() < snapshot_.metadata().index()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "apply snapshot: index ", snap.metadata().index(),
        " is older than current snapshot ", snapshot_.metadata().index()));
  }
  snapshot_ = snap;
  ents_.clear();
  ents_.emplace_back();
  ents_.front().set_index(snap.metadata().index());
  ents_.front().set_term(snap.metadata().term());
  return absl::OkStatus();
}

absl::Status MemoryStorage::Append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = FirstIndex();
  const uint64_t last_new = entries.back().index();
  if (last_new < first) return absl::OkStatus();  // all already compacted
  size_t skip = 0;
  if (entries.front().index() < first) skip = first - entries.front().index();
  const uint64_t start = entries[skip].index();
  if (start > LastIndex() + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("append: entry ", start, " leaves a gap after last index ",
                     LastIndex()));
  }
  ents_.resize(start - SnapshotIndex());  // truncate any conflicting suffix
  ents_.insert(ents_.end(), entries.begin() + skip, entries.end());
  return absl::OkStatus();
}

absl::Status MemoryStorage::Compact(uint64_t compact_to) {
  const uint64_t offset = SnapshotIndex();
  if (compact_to <= offset) return absl::OkStatus();
  if (compact_to > LastIndex()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "compact: index ", compact_to, " is above last index ", LastIndex()));
  }
  // Keep entry compact_to as the new dummy (it carries index and term).
  const size_t i = compact_to - offset;
  ents_.front().set_index(ents_[i].index());
  ents_.front().set_term(ents_[i].term());
  ents_.erase(ents_.begin() + 1, ents_.begin() + i + 1);
  return absl::OkStatus();
}

absl::Status MemoryStorage::Save(const raftpb::HardState* hs,
                                 const std::vector<raftpb::Entry>& entries,
                                 const raftpb::Snapshot* snap) {
  if (snap != nullptr) {
    if (absl::Status s = ApplySnapshot(*snap); !s.ok()) return s;
  }
  if (absl::Status s = Append(entries); !s.ok()) return s;
  if (hs != nullptr) hard_state_ = *hs;
  return absl::OkStatus();
}

absl::Status MemoryStorage::CreateSnapshot(uint64_t index,
                                           const raftpb::ConfState& cs,
                                           std::string data,
                                           uint64_t compact_to) {
  if (index <= snapshot_.metadata().index()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "create snapshot: index ", index,
        " is not newer than current snapshot ", snapshot_.metadata().index()));
  }
  if (index > LastIndex()) {
    return absl::InvalidArgumentError(
        absl::StrCat("create snapshot: index ", index, " is above last index ",
                     LastIndex()));
  }
  if (compact_to > index) {
    return absl::InvalidArgumentError(
        absl::StrCat("create snapshot: compact_to ", compact_to,
                     " is above snapshot index ", index));
  }
  absl::StatusOr<uint64_t> term = Term(index);
  if (!term.ok()) return term.status();
  snapshot_.mutable_metadata()->set_index(index);
  snapshot_.mutable_metadata()->set_term(*term);
  *snapshot_.mutable_metadata()->mutable_conf_state() = cs;
  snapshot_.set_data(std::move(data));
  return Compact(compact_to);
}

}  // namespace berth::raft
