#include "lockservice/lockd/leader_duties.h"

#include <cstdio>

namespace berth::lockd {

void LeaderDuties::Start() {
  thread_ = std::thread([this] { Run(); });
}

void LeaderDuties::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void LeaderDuties::Run() {
  int64_t leader_since_ms = 0;
  uint64_t led_term = 0;
  double budget = 0;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      cv_.WaitWithTimeout(&mu_, opts_.interval);
      if (stopping_) return;
    }
    node::NodeStatus s = core_->node()->GetStatus();
    keeper_->ObserveLeader(s.leader, s.term);
    if (s.role != raft::Role::kLeader) {
      leader_since_ms = 0;
      continue;
    }
    int64_t now_ms = absl::ToUnixMillis(core_->clock()->Now());
    if (leader_since_ms == 0 || led_term != s.term) {
      leader_since_ms = now_ms;
      led_term = s.term;
    }
    // Token bucket: refills per interval, holds at most one second's worth.
    budget =
        std::min<double>(opts_.max_expiries_per_second,
                         budget + opts_.max_expiries_per_second *
                                      absl::ToDoubleSeconds(opts_.interval));
    RunOnce(now_ms, leader_since_ms, &budget);
  }
}

void LeaderDuties::RunOnce(int64_t now_ms, int64_t leader_since_ms,
                           double* budget) {
  // Checkpoint first: a long run of expiries must not delay the renewals
  // that a new leader would otherwise not know about.
  Checkpoint();
  ExpireLeases(now_ms, leader_since_ms, budget);
  auto next = core_->store()->Read(
      [&](lock::StateMachine& sm) { return sm.NextLockDelayEnd(); });
  if (next.ok() && *next > 0 && *next <= now_ms) {
    lockpb::Command cmd;
    cmd.mutable_lock_delay_tick();
    core_->Propose(cmd, absl::Now() + absl::Seconds(2)).IgnoreError();
  }
}

void LeaderDuties::ExpireLeases(int64_t now_ms, int64_t leader_since_ms,
                                double* budget) {
  int64_t grace_ms = absl::ToInt64Milliseconds(opts_.election_grace);
  auto expiring = core_->store()->Read([&](lock::StateMachine& sm) {
    return sm.LeasesToExpire(now_ms, leader_since_ms, grace_ms);
  });
  if (!expiring.ok()) return;
  for (int64_t id : *expiring) {
    if (*budget < 1) break;
    // Renewed in memory since the last checkpoint: alive.
    if (!keeper_->BeginExpire(id)) continue;
    *budget -= 1;
    lockpb::Command cmd;
    cmd.mutable_lease_expire()->set_id(id);
    absl::StatusOr<lockpb::CommandResult> r =
        core_->Propose(cmd, absl::Now() + absl::Seconds(2));
    keeper_->EndExpire(id);
    if (!r.ok() && !absl::IsNotFound(r.status())) break;
  }
}

void LeaderDuties::Checkpoint() {
  if (!keeper_->CheckpointDue()) return;
  std::vector<lockpb::LeaseCheckpointCmd> cmds = keeper_->TakeCheckpoint();
  for (size_t i = 0; i < cmds.size(); ++i) {
    lockpb::Command cmd;
    *cmd.mutable_lease_checkpoint() = cmds[i];
    absl::StatusOr<lockpb::CommandResult> r =
        core_->Propose(std::move(cmd), absl::Now() + absl::Seconds(2));
    if (!r.ok()) {
      // Not the leader any more (the keeper drops its map), or no quorum:
      // what did not commit is retried at the next checkpoint.
      keeper_->CheckpointFailed(std::vector<lockpb::LeaseCheckpointCmd>(
          cmds.begin() + i, cmds.end()));
      return;
    }
  }
}

}  // namespace berth::lockd
