#include "lockservice/lockd/leader_duties.h"

#include <cstdio>

#include "common/monotonic_wait.h"

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
      WaitMonotonic(&cv_, &mu_, opts_.interval);
      if (stopping_) return;
    }
    node::NodeStatus s = core_->node()->GetStatus();
    keeper_->ObserveLeader(s.leader, s.term);
    if (s.role != raft::Role::kLeader) {
      leader_since_ms = 0;
      compactor_.Reset();
      continue;
    }
    // Leader time, not the wall clock: a step of it must neither stretch
    // nor cut short the leases this term decides on (leader_clock.h).
    int64_t now_ms = core_->LeaderTimeMs(s.term);
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
  CompactHistory(absl::FromUnixMillis(now_ms));
  WatchQuota();
}

void LeaderDuties::CompactHistory(absl::Time now) {
  struct View {
    int64_t revision = 0;
    int64_t compacted = 0;
    bool purge_pending = false;
  };
  auto view = [&]() -> absl::StatusOr<View> {
    return core_->store()->Read(
        [](lock::StateMachine& sm) -> absl::StatusOr<View> {
          absl::StatusOr<int64_t> c = sm.compact_revision();
          if (!c.ok()) return c.status();
          return View{sm.revision(), *c, sm.history_purge_pending()};
        });
  };
  absl::StatusOr<View> v = view();
  if (!v.ok()) return;
  if (int64_t target = compactor_.Next(now, v->revision, v->compacted);
      target > 0) {
    lockpb::Command cmd;
    cmd.mutable_compact()->set_revision(target);
    absl::StatusOr<lockpb::CommandResult> r =
        core_->Propose(std::move(cmd), absl::Now() + absl::Seconds(2));
    if (!r.ok()) return;  // not the leader any more, or no quorum: next tick
    v = view();
    if (!v.ok()) return;
  }
  // Finishing a compaction is not a policy decision: it runs with
  // auto-compaction off too, after a Compact RPC.
  for (int i = 0; i < opts_.max_purge_steps_per_interval && v->purge_pending;
       ++i) {
    lockpb::Command cmd;
    cmd.mutable_compact()->set_purge_only(true);
    if (!core_->Propose(std::move(cmd), absl::Now() + absl::Seconds(2)).ok()) {
      return;
    }
    v = view();
    if (!v.ok()) return;
  }
}

void LeaderDuties::WatchQuota() {
  if (opts_.quota_backend_bytes <= 0) return;
  struct View {
    int64_t size = 0;
    bool alarmed = false;
  };
  absl::StatusOr<View> v =
      core_->store()->Read([](lock::StateMachine& sm) -> absl::StatusOr<View> {
        absl::StatusOr<lock::StateMachine::DbSize> size = sm.DatabaseSize();
        if (!size.ok()) return size.status();
        return View{size->total_bytes, sm.nospace_alarm().active()};
      });
  if (!v.ok()) return;
  const bool over = v->size > opts_.quota_backend_bytes;
  if (over == v->alarmed) return;
  lockpb::Command cmd;
  lockpb::AlarmCmd* a = cmd.mutable_alarm();
  a->set_active(over);
  a->set_db_size_bytes(v->size);
  a->set_quota_bytes(opts_.quota_backend_bytes);
  a->set_member_id(core_->id());
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(cmd), absl::Now() + absl::Seconds(2));
  if (r.ok()) {
    fprintf(stderr,
            "lockd %lu: NOSPACE alarm %s (database %ld bytes, quota %ld "
            "bytes)\n",
            core_->id(), over ? "raised" : "cleared", v->size,
            opts_.quota_backend_bytes);
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
