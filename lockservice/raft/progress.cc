#include "lockservice/raft/progress.h"

#include <algorithm>
#include <functional>

namespace berth::raft {

Inflights::Inflights(int max_msgs, uint64_t max_bytes)
    : max_msgs_(std::max(1, max_msgs)), max_bytes_(max_bytes) {}

void Inflights::Add(uint64_t index, uint64_t bytes) {
  if (ring_.empty()) ring_.resize(max_msgs_);
  // Full() is checked by the caller; a forced add (the byte limit allows one
  // message even if it alone exceeds max_bytes) still fits by count.
  if (count_ == max_msgs_) return;
  ring_[(start_ + count_) % max_msgs_] = Item{index, bytes};
  ++count_;
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (count_ > 0 && ring_[start_].index <= index) {
    bytes_ -= ring_[start_].bytes;
    start_ = (start_ + 1) % max_msgs_;
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::FreeFirstOne() {
  if (count_ > 0) FreeLE(ring_[start_].index);
}

bool Inflights::Full() const {
  return count_ == max_msgs_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

void Inflights::Reset() {
  start_ = count_ = 0;
  bytes_ = 0;
}

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

void Progress::BecomeProbe() {
  // Coming back from a snapshot, resume after it: the follower either
  // installed it or already had the entries.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, snap_index + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  snap_index = snap_acked = 0;
  snap_idle_beats = 0;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t index) {
  state = ProgressState::kSnapshot;
  probe_sent = false;
  snap_index = index;
  snap_acked = 0;
  snap_idle_beats = 0;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Rejections of entries we know match are stale (reordered messages).
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probe (or snapshot): only the rejection of our latest probe matters.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max<uint64_t>(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

void ProgressTracker::SetConf(const raftpb::ConfState& cs, uint64_t next) {
  std::map<uint64_t, Progress> old;
  old.swap(prs_);
  auto place = [&](uint64_t id, bool learner) {
    auto it = old.find(id);
    if (it != old.end()) {
      it->second.learner = learner;
      prs_.emplace(id, std::move(it->second));
    } else {
      Progress pr(next, max_inflight_msgs_, max_inflight_bytes_);
      pr.learner = learner;
      prs_.emplace(id, std::move(pr));
    }
  };
  for (uint64_t id : cs.voters()) place(id, false);
  for (uint64_t id : cs.learners()) place(id, true);
}

raftpb::ConfState ProgressTracker::Conf() const {
  raftpb::ConfState cs;
  for (const auto& [id, pr] : prs_) {
    if (pr.learner) {
      cs.add_learners(id);
    } else {
      cs.add_voters(id);
    }
  }
  return cs;
}

void ProgressTracker::AddVoter(uint64_t id, uint64_t next) {
  auto it = prs_.find(id);
  if (it != prs_.end()) {
    it->second.learner = false;
    return;
  }
  Progress pr(next, max_inflight_msgs_, max_inflight_bytes_);
  pr.recent_active = true;  // give a new member an election timeout
  prs_.emplace(id, std::move(pr));
}

void ProgressTracker::AddLearner(uint64_t id, uint64_t next) {
  auto it = prs_.find(id);
  if (it != prs_.end()) {
    it->second.learner = true;
    return;
  }
  Progress pr(next, max_inflight_msgs_, max_inflight_bytes_);
  pr.learner = true;
  pr.recent_active = true;
  prs_.emplace(id, std::move(pr));
}

void ProgressTracker::Remove(uint64_t id) { prs_.erase(id); }

bool ProgressTracker::IsVoter(uint64_t id) const {
  auto it = prs_.find(id);
  return it != prs_.end() && !it->second.learner;
}

int ProgressTracker::VoterCount() const {
  int n = 0;
  for (const auto& [id, pr] : prs_) n += pr.learner ? 0 : 1;
  return n;
}

Progress* ProgressTracker::Get(uint64_t id) {
  auto it = prs_.find(id);
  return it == prs_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::Get(uint64_t id) const {
  auto it = prs_.find(id);
  return it == prs_.end() ? nullptr : &it->second;
}

uint64_t ProgressTracker::QuorumMatch() const {
  std::vector<uint64_t> matches;
  matches.reserve(prs_.size());
  for (const auto& [id, pr] : prs_) {
    if (!pr.learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return 0;
  // The quorum-th largest match is replicated on a majority.
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[matches.size() / 2];
}

bool ProgressTracker::QuorumActive(uint64_t self) const {
  int active = 0, voters = 0;
  for (const auto& [id, pr] : prs_) {
    if (pr.learner) continue;
    ++voters;
    if (id == self || pr.recent_active) ++active;
  }
  return voters > 0 && active > voters / 2;
}

void ProgressTracker::ResetAll(uint64_t last_index, uint64_t self,
                               uint64_t self_match) {
  for (auto& [id, pr] : prs_) {
    const bool learner = pr.learner;
    pr = Progress(last_index + 1, max_inflight_msgs_, max_inflight_bytes_);
    pr.learner = learner;
    if (id == self) pr.match = self_match;
  }
}

void ProgressTracker::RecordVote(uint64_t id, bool granted) {
  votes_.emplace(id, granted);  // the first answer of a voter counts
}

VoteResult ProgressTracker::TallyVotes() const {
  int granted = 0, rejected = 0, voters = 0;
  for (const auto& [id, pr] : prs_) {
    if (pr.learner) continue;
    ++voters;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const int quorum = voters / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (rejected > voters - quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace berth::raft
