#include "lockservice/raft/raft_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "lockservice/raft/entry_size.h"

namespace berth::raft {

namespace {
// A broken Raft invariant means the log is corrupt; continuing could violate
// safety, so stop (etcd panics here too).
[[noreturn]] void Fatal(const char* what, uint64_t a, uint64_t b) {
  std::fprintf(stderr, "raft log invariant violated: %s (%llu, %llu)\n", what,
               static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}
}  // namespace

RaftLog::RaftLog(Storage* storage) : storage_(storage) {
  offset_ = storage_->LastIndex() + 1;
  in_progress_ = offset_ - 1;
  committed_ = storage_->FirstIndex() - 1;
  applying_ = applied_ = committed_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snap_) return unstable_snap_->metadata().index() + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::UnstableLastIndex() const {
  if (!unstable_.empty()) return offset_ + unstable_.size() - 1;
  if (unstable_snap_) return unstable_snap_->metadata().index();
  return 0;
}

uint64_t RaftLog::LastIndex() const {
  if (uint64_t i = UnstableLastIndex(); i != 0) return i;
  return storage_->LastIndex();
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  const uint64_t dummy = FirstIndex() - 1;
  if (i < dummy) return CompactedError();
  if (i > LastIndex()) return UnavailableIndexError();
  if (!unstable_.empty() && i >= offset_) return unstable_[i - offset_].term();
  if (unstable_snap_) {
    // Everything before the unstable entries is the snapshot itself.
    if (i == unstable_snap_->metadata().index()) {
      return unstable_snap_->metadata().term();
    }
    return CompactedError();
  }
  return storage_->Term(i);
}

uint64_t RaftLog::TermOr0(uint64_t i) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() ? *t : 0;
}

uint64_t RaftLog::LastTerm() const { return TermOr0(LastIndex()); }

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  const uint64_t our_term = LastTerm();
  return term > our_term || (term == our_term && last_index >= LastIndex());
}

uint64_t RaftLog::FindConflict(const std::vector<raftpb::Entry>& ents) const {
  for (const raftpb::Entry& e : ents) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

std::optional<uint64_t> RaftLog::MaybeAppend(
    uint64_t index, uint64_t log_term, uint64_t committed,
    std::vector<raftpb::Entry>&& ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + ents.size();
  const uint64_t ci = FindConflict(ents);
  if (ci != 0) {
    if (ci <= committed_)
      Fatal("conflict with committed entry", ci, committed_);
    ents.erase(ents.begin(), ents.begin() + (ci - (index + 1)));
    TruncateAndAppend(std::move(ents));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<raftpb::Entry>&& ents) {
  if (ents.empty()) return LastIndex();
  if (ents.front().index() <= committed_) {
    Fatal("append below commit", ents.front().index(), committed_);
  }
  TruncateAndAppend(std::move(ents));
  return LastIndex();
}

void RaftLog::AppendOne(raftpb::Entry&& e) {
  if (unstable_.empty()) offset_ = e.index();
  unstable_.push_back(std::move(e));
}

void RaftLog::TruncateAndAppend(std::vector<raftpb::Entry>&& ents) {
  const uint64_t after = ents.front().index();
  if (after == offset_ + unstable_.size()) {
    // Plain append.
  } else if (after <= offset_) {
    // Replaces everything unstable; storage truncates on the next Save.
    unstable_.clear();
    offset_ = after;
  } else {
    unstable_.resize(after - offset_);
  }
  if (unstable_.empty()) offset_ = after;
  in_progress_ = std::min(in_progress_, after - 1);
  if (unstable_.empty()) {
    unstable_ = std::move(ents);
  } else {
    unstable_.insert(unstable_.end(), std::make_move_iterator(ents.begin()),
                     std::make_move_iterator(ents.end()));
  }
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::Slice(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  if (lo < FirstIndex()) return CompactedError();
  if (hi > LastIndex() + 1) return UnavailableIndexError();
  std::vector<raftpb::Entry> out;
  if (lo >= hi) return out;
  uint64_t bytes = 0;
  const uint64_t stable_hi = std::min(hi, offset_);
  if (lo < stable_hi) {
    absl::StatusOr<std::vector<raftpb::Entry>> st =
        storage_->Entries(lo, stable_hi, max_bytes);
    if (!st.ok()) return st.status();
    out = *std::move(st);
    if (out.size() < stable_hi - lo) return out;  // hit the byte limit
    for (const raftpb::Entry& e : out) bytes += EntrySize(e);
  }
  for (uint64_t i = std::max(lo, offset_); i < hi; ++i) {
    const raftpb::Entry& e = unstable_[i - offset_];
    bytes += EntrySize(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::Entries(
    uint64_t lo, uint64_t max_bytes) const {
  return Slice(lo, LastIndex() + 1, max_bytes);
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index,
                                                          uint64_t term) const {
  for (; index > 0; --index) {
    absl::StatusOr<uint64_t> t = Term(index);
    if (!t.ok()) return {index, 0};
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

bool RaftLog::MaybeCommit(uint64_t index, uint64_t term) {
  // §5.4.2: only an entry of the current term is committed by counting.
  if (index > committed_ && TermOr0(index) == term) {
    CommitTo(index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index <= committed_) return;
  if (index > LastIndex())
    Fatal("commit beyond last index", index, LastIndex());
  committed_ = index;
}

void RaftLog::SetApplied(uint64_t i) {
  applied_ = std::max(applied_, i);
  applying_ = std::max(applying_, applied_);
}

void RaftLog::Restore(const raftpb::Snapshot& snap) {
  const uint64_t index = snap.metadata().index();
  unstable_snap_ = snap;
  snap_in_progress_ = false;
  unstable_.clear();
  offset_ = index + 1;
  in_progress_ = index;
  committed_ = index;
  applying_ = std::max(applying_, index);
}

bool RaftLog::HasUnstableToSave() const {
  if (unstable_snap_ && !snap_in_progress_) return true;
  return !unstable_.empty() && offset_ + unstable_.size() - 1 > in_progress_;
}

std::vector<raftpb::Entry> RaftLog::TakeUnstableEntries() {
  std::vector<raftpb::Entry> out;
  if (unstable_.empty()) return out;
  const uint64_t last = offset_ + unstable_.size() - 1;
  const uint64_t from = std::max(in_progress_ + 1, offset_);
  if (from > last) return out;
  out.assign(unstable_.begin() + (from - offset_), unstable_.end());
  in_progress_ = last;
  return out;
}

uint64_t RaftLog::PersistedIndex() const {
  // Storage is about to be replaced by the snapshot; nothing counts yet.
  if (unstable_snap_) return 0;
  if (!unstable_.empty()) return offset_ - 1;
  return storage_->LastIndex();
}

bool RaftLog::HasNextCommitted() const {
  return std::max(applying_ + 1, FirstIndex()) <=
         std::min(committed_, PersistedIndex());
}

std::vector<raftpb::Entry> RaftLog::NextCommitted(uint64_t max_bytes) {
  const uint64_t lo = std::max(applying_ + 1, FirstIndex());
  const uint64_t hi = std::min(committed_, PersistedIndex());
  if (lo > hi) return {};
  absl::StatusOr<std::vector<raftpb::Entry>> ents =
      Slice(lo, hi + 1, max_bytes);
  if (!ents.ok() || ents->empty()) return {};
  applying_ = ents->back().index();
  return *std::move(ents);
}

bool RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (unstable_.empty() || index < offset_) return false;
  if (index >= offset_ + unstable_.size()) return false;
  // Overwritten since it was handed out (a deposed leader's tail replaced
  // by the new leader's entries): that write persisted a different entry.
  if (unstable_[index - offset_].term() != term) return false;
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - offset_ + 1));
  offset_ = index + 1;
  return true;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snap_ && unstable_snap_->metadata().index() == index) {
    unstable_snap_.reset();
    snap_in_progress_ = false;
  }
}

}  // namespace berth::raft
