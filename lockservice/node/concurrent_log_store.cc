#include "lockservice/node/concurrent_log_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::node {

ConcurrentLogStore::ConcurrentLogStore(raft::LogStore* inner) : inner_(inner) {
  absl::MutexLock io(&io_mu_);
  absl::MutexLock c(&cache_mu_);
  RefreshLocked();
}

void ConcurrentLogStore::RefreshLocked() {
  first_ = inner_->FirstIndex();
  last_ = inner_->LastIndex();
  while (!tail_.empty() && tail_.front().index() < first_) {
    tail_bytes_ -= tail_.front().ByteSizeLong();
    tail_.pop_front();
  }
  if (!tail_.empty() && tail_.back().index() != last_) {
    tail_.clear();
    tail_bytes_ = 0;
  }
}

absl::StatusOr<raft::InitialState> ConcurrentLogStore::GetInitialState() {
  absl::MutexLock io(&io_mu_);
  return inner_->GetInitialState();
}

absl::StatusOr<std::vector<raftpb::Entry>> ConcurrentLogStore::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) {
  {
    absl::MutexLock c(&cache_mu_);
    if (lo < first_) return raft::CompactedError();
    if (hi > last_ + 1) return raft::UnavailableIndexError();
    if (lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries: lo ", lo, " > hi ", hi));
    }
    if (lo == hi) return std::vector<raftpb::Entry>();
    if (!tail_.empty() && lo >= tail_.front().index()) {
      const uint64_t base = tail_.front().index();
      std::vector<raftpb::Entry> out;
      uint64_t bytes = 0;
      for (uint64_t i = lo; i < hi; ++i) {
        const raftpb::Entry& e = tail_[i - base];
        bytes += e.ByteSizeLong();
        if (!out.empty() && bytes > max_bytes) break;
        out.push_back(e);
      }
      return out;
    }
  }
  absl::MutexLock io(&io_mu_);
  return inner_->Entries(lo, hi, max_bytes);
}

absl::StatusOr<uint64_t> ConcurrentLogStore::Term(uint64_t i) {
  {
    absl::MutexLock c(&cache_mu_);
    if (i + 1 < first_) return raft::CompactedError();
    if (i > last_) return raft::UnavailableIndexError();
    if (!tail_.empty() && i >= tail_.front().index()) {
      return tail_[i - tail_.front().index()].term();
    }
  }
  absl::MutexLock io(&io_mu_);
  return inner_->Term(i);
}

uint64_t ConcurrentLogStore::FirstIndex() {
  absl::MutexLock c(&cache_mu_);
  return first_;
}

uint64_t ConcurrentLogStore::LastIndex() {
  absl::MutexLock c(&cache_mu_);
  return last_;
}

absl::StatusOr<raftpb::Snapshot> ConcurrentLogStore::GetSnapshot() {
  absl::MutexLock io(&io_mu_);
  return inner_->GetSnapshot();
}

absl::Status ConcurrentLogStore::Save(const raftpb::HardState* hs,
                                      const std::vector<raftpb::Entry>& entries,
                                      const raftpb::Snapshot* snap) {
  absl::MutexLock f(&file_mu_);
  absl::MutexLock io(&io_mu_);
  const absl::Status st = inner_->Save(hs, entries, snap);
  absl::MutexLock c(&cache_mu_);
  if (!st.ok() || snap != nullptr) {
    // After a failure the file's state is the inner store's business; the
    // tail is rebuilt from later writes.
    tail_.clear();
    tail_bytes_ = 0;
  }
  if (st.ok() && !entries.empty()) {
    // A follower's write may replace a conflicting suffix.
    const uint64_t from = entries.front().index();
    while (!tail_.empty() && tail_.back().index() >= from) {
      tail_bytes_ -= tail_.back().ByteSizeLong();
      tail_.pop_back();
    }
    if (!tail_.empty() && tail_.back().index() + 1 != from) {
      tail_.clear();
      tail_bytes_ = 0;
    }
    for (const raftpb::Entry& e : entries) {
      tail_bytes_ += e.ByteSizeLong();
      tail_.push_back(e);
    }
    while (tail_.size() > kTailEntries ||
           (tail_.size() > 1 && tail_bytes_ > kTailBytes)) {
      tail_bytes_ -= tail_.front().ByteSizeLong();
      tail_.pop_front();
    }
  }
  RefreshLocked();
  return st;
}

absl::Status ConcurrentLogStore::CreateSnapshot(uint64_t index,
                                                const raftpb::ConfState& cs,
                                                std::string data,
                                                uint64_t compact_to) {
  absl::MutexLock f(&file_mu_);
  absl::MutexLock io(&io_mu_);
  const absl::Status st =
      inner_->CreateSnapshot(index, cs, std::move(data), compact_to);
  absl::MutexLock c(&cache_mu_);
  RefreshLocked();
  return st;
}

}  // namespace berth::node
