#include "lockservice/lockd/lease_keeper.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace berth::lockd {

absl::StatusOr<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Create(
    Clock* clock, const LeaseKeeperOptions& opts) {
  if (clock == nullptr) {
    return absl::InvalidArgumentError("lease keeper: clock is null");
  }
  if (opts.checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease checkpoint interval must be positive, got ",
                     absl::FormatDuration(opts.checkpoint_interval)));
  }
  if (opts.self_id == 0) {
    return absl::InvalidArgumentError("lease keeper: self_id must be > 0");
  }
  if (opts.max_leases_per_checkpoint <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("leases per checkpoint must be positive, got ",
                     opts.max_leases_per_checkpoint));
  }
  std::unique_ptr<LeaseKeeper> k(new LeaseKeeper(clock, opts));
  absl::MutexLock l(&k->mu_);
  k->last_checkpoint_ = clock->Monotonic();
  return k;
}

void LeaseKeeper::ResetLocked(uint64_t term) {
  term_ = term;
  leases_.clear();
  pending_ = 0;
  min_pending_ttl_ms_ = 0;
  last_checkpoint_ = clock_->Monotonic();
}

void LeaseKeeper::ObserveLeader(uint64_t leader, uint64_t term) {
  absl::MutexLock l(&mu_);
  if (leader == opts_.self_id) {
    // A stale report of a term that has ended since must not revive it.
    if (term > term_ && term > ended_through_) ResetLocked(term);
    return;
  }
  // At most one leader per term: another leader ends `term` for us. With
  // no leader known we may be a candidate of `term`, so only the earlier
  // terms are certainly over.
  uint64_t ended = leader != 0 ? term : (term > 0 ? term - 1 : 0);
  ended_through_ = std::max(ended_through_, ended);
  if (term_ <= ended_through_ && !leases_.empty()) ResetLocked(term_);
}

LeaseKeeper::RenewOutcome LeaseKeeper::Renew(uint64_t term, int64_t id,
                                             int64_t ttl_ms) {
  absl::MutexLock l(&mu_);
  if (term <= ended_through_ || term < term_) return RenewOutcome::kNotLeader;
  // The leadership callback may not have run yet for a term the caller
  // has already confirmed with a barrier.
  if (term > term_) ResetLocked(term);
  if (expiring_.contains(id)) return RenewOutcome::kExpiring;
  Local& lease = leases_[id];
  lease.deadline = clock_->Monotonic() + absl::Milliseconds(ttl_ms);
  lease.ttl_ms = ttl_ms;
  if (!lease.pending) {
    lease.pending = true;
    ++pending_;
  }
  if (min_pending_ttl_ms_ == 0 || ttl_ms < min_pending_ttl_ms_) {
    min_pending_ttl_ms_ = ttl_ms;
  }
  return RenewOutcome::kRenewed;
}

void LeaseKeeper::Forget(int64_t id) {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  if (it->second.pending) --pending_;
  leases_.erase(it);
}

std::optional<absl::Duration> LeaseKeeper::Remaining(uint64_t term,
                                                     int64_t id) const {
  absl::MutexLock l(&mu_);
  if (term != term_ || term <= ended_through_) return std::nullopt;
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  absl::Duration left = it->second.deadline - clock_->Monotonic();
  if (left <= absl::ZeroDuration()) return std::nullopt;
  return left;
}

bool LeaseKeeper::BeginExpire(int64_t id) {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(id);
  if (it != leases_.end()) {
    if (it->second.deadline > clock_->Monotonic()) return false;
    if (it->second.pending) --pending_;
    leases_.erase(it);
  }
  expiring_.insert(id);
  return true;
}

void LeaseKeeper::EndExpire(int64_t id) {
  absl::MutexLock l(&mu_);
  expiring_.erase(id);
}

absl::Duration LeaseKeeper::IntervalLocked() const {
  absl::Duration d = opts_.checkpoint_interval;
  if (min_pending_ttl_ms_ > 0) {
    d = std::min(d, absl::Milliseconds(min_pending_ttl_ms_) / 4);
  }
  return d;
}

bool LeaseKeeper::CheckpointDue() const {
  absl::MutexLock l(&mu_);
  return pending_ > 0 &&
         clock_->Monotonic() - last_checkpoint_ >= IntervalLocked();
}

std::vector<lockpb::LeaseCheckpointCmd> LeaseKeeper::TakeCheckpoint() {
  absl::MutexLock l(&mu_);
  const absl::Time now = clock_->Monotonic();
  last_checkpoint_ = now;
  std::vector<std::pair<int64_t, int64_t>> due;  // id, remaining ms
  due.reserve(pending_);
  for (auto it = leases_.begin(); it != leases_.end();) {
    Local& lease = it->second;
    // Round down: a checkpoint must never give more life than was granted.
    int64_t remaining_ms = absl::ToInt64Milliseconds(lease.deadline - now);
    if (lease.pending) {
      lease.pending = false;
      if (remaining_ms > 0) due.emplace_back(it->first, remaining_ms);
    }
    if (remaining_ms <= 0) {
      // A passed local deadline no longer protects anything.
      leases_.erase(it++);
    } else {
      ++it;
    }
  }
  pending_ = 0;
  min_pending_ttl_ms_ = 0;
  std::sort(due.begin(), due.end());
  std::vector<lockpb::LeaseCheckpointCmd> out;
  for (size_t i = 0; i < due.size(); ++i) {
    if (i % static_cast<size_t>(opts_.max_leases_per_checkpoint) == 0) {
      out.emplace_back();
    }
    lockpb::LeaseCheckpointCmd::Entry* e = out.back().add_leases();
    e->set_id(due[i].first);
    e->set_remaining_ms(due[i].second);
  }
  return out;
}

void LeaseKeeper::CheckpointFailed(
    const std::vector<lockpb::LeaseCheckpointCmd>& cmds) {
  absl::MutexLock l(&mu_);
  for (const lockpb::LeaseCheckpointCmd& cmd : cmds) {
    for (const lockpb::LeaseCheckpointCmd::Entry& e : cmd.leases()) {
      auto it = leases_.find(e.id());
      if (it == leases_.end() || it->second.pending) continue;
      it->second.pending = true;
      ++pending_;
      if (min_pending_ttl_ms_ == 0 || it->second.ttl_ms < min_pending_ttl_ms_) {
        min_pending_ttl_ms_ = it->second.ttl_ms;
      }
    }
  }
}

size_t LeaseKeeper::size() const {
  absl::MutexLock l(&mu_);
  return leases_.size();
}

}  // namespace berth::lockd
