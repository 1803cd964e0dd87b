// Leader time across wall-clock steps (leader_clock.h), alone and driving a
// real state machine and LeaseKeeper the way LeaderDuties does. The second
// half is the regression test for the nemesis clock-skew finding: with the
// leader stamping its raw wall clock, a +60 s step stretched every lease
// renewed meanwhile by 60 s, on that leader and on the next one.
#include "lockservice/lockd/leader_clock.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/server/testing/temp_state_machine.h"

namespace berth::lockd {
namespace {

// One replica's clocks: simulated time shared by every replica, plus this
// replica's wall-clock error (what NTP or an operator would step).
class SkewClock : public Clock {
 public:
  explicit SkewClock(SimClock* base) : base_(base) {}
  absl::Time Now() const override { return base_->Now() + skew_; }
  absl::Time Monotonic() const override { return base_->Monotonic(); }
  void SleepUntil(absl::Time deadline) override { base_->SleepUntil(deadline); }
  void set_skew(absl::Duration d) { skew_ = d; }

 private:
  SimClock* const base_;
  absl::Duration skew_;
};

TEST(LeaderClockTest, AnchorsOncePerTermAndIgnoresWallSteps) {
  SimClock base;
  SkewClock clock(&base);
  LeaderClock lc(&clock);
  int floor_reads = 0;
  auto floor = [&] {
    ++floor_reads;
    return int64_t{0};
  };
  const int64_t start = absl::ToUnixMillis(base.Now());
  EXPECT_EQ(lc.NowMs(1, floor), start);
  base.Advance(absl::Seconds(1));
  clock.set_skew(absl::Seconds(60));
  EXPECT_EQ(lc.NowMs(1, floor), start + 1'000);
  base.Advance(absl::Seconds(1));
  clock.set_skew(-absl::Seconds(30));
  EXPECT_EQ(lc.NowMs(1, floor), start + 2'000);
  EXPECT_EQ(floor_reads, 1);
  // An older term's caller gets the current term's time, no new anchor.
  EXPECT_EQ(lc.NowMs(0, floor), start + 2'000);
  EXPECT_EQ(floor_reads, 1);
  // The next term anchors on the wall clock as it is now.
  EXPECT_EQ(lc.NowMs(2, floor), start + 2'000 - 30'000);
  EXPECT_EQ(floor_reads, 2);
}

TEST(LeaderClockTest, ANewTermNeverStartsBehindTheStateMachine) {
  SimClock base;
  SkewClock clock(&base);
  LeaderClock lc(&clock);
  const int64_t wall = absl::ToUnixMillis(base.Now());
  const int64_t ahead = wall + 60'000;
  EXPECT_EQ(lc.NowMs(3, [&] { return ahead; }), ahead);
  base.Advance(absl::Milliseconds(250));
  EXPECT_EQ(lc.NowMs(3, [&] { return ahead; }), ahead + 250);
  // Behind the wall clock, the state machine's time does not hold it back.
  EXPECT_EQ(lc.NowMs(4, [&] { return wall - 5'000; }), wall + 250);
}

constexpr int64_t kLease = 7;
constexpr int64_t kTtlMs = 2'000;
constexpr absl::Duration kTick = absl::Milliseconds(100);
constexpr absl::Duration kGrace = absl::Seconds(1);

// A leader in the making: its clocks, its LeaderClock and its LeaseKeeper,
// and the LeaderDuties steps that decide on leases.
struct Replica {
  Replica(SimClock* base, uint64_t self)
      : id(self), clock(base), leader_clock(&clock) {
    LeaseKeeperOptions o;
    o.self_id = id;
    o.checkpoint_interval = absl::Milliseconds(500);
    keeper = *LeaseKeeper::Create(&clock, o);
  }
  uint64_t id;
  SkewClock clock;
  LeaderClock leader_clock;
  std::unique_ptr<LeaseKeeper> keeper;
  uint64_t term = 0;
  int64_t since_ms = 0;
};

class LeaseTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<lock::StateMachine>> sm = dir_.Open();
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
  }
  void TearDown() override { sm_.reset(); }

  int64_t Now(Replica& r) {
    return r.leader_clock.NowMs(r.term, [&] { return sm_->now_ms(); });
  }
  void Lead(Replica& r, uint64_t term) {
    r.term = term;
    r.keeper->ObserveLeader(r.id, term);
    r.since_ms = Now(r);
  }
  // Stamps and applies `cmd` as Core::Propose would on `r`.
  void Apply(Replica& r, lockpb::Command cmd) {
    cmd.set_leader_time_unix_ms(Now(r));
    absl::StatusOr<lock::ApplyResult> res = sm_->Apply(++index_, cmd);
    ASSERT_TRUE(res.ok()) << res.status();
  }
  void Grant(Replica& r) {
    lockpb::Command cmd;
    cmd.mutable_lease_grant()->set_id(kLease);
    cmd.mutable_lease_grant()->set_ttl_ms(kTtlMs);
    Apply(r, cmd);
  }
  // One LeaderDuties tick on `r`: checkpoint, then expire what is due.
  void Tick(Replica& r) {
    if (r.keeper->CheckpointDue()) {
      for (lockpb::LeaseCheckpointCmd& cp : r.keeper->TakeCheckpoint()) {
        lockpb::Command cmd;
        *cmd.mutable_lease_checkpoint() = std::move(cp);
        Apply(r, cmd);
      }
    }
    absl::StatusOr<std::vector<int64_t>> due = sm_->LeasesToExpire(
        Now(r), r.since_ms, absl::ToInt64Milliseconds(kGrace));
    ASSERT_TRUE(due.ok()) << due.status();
    for (int64_t id : *due) {
      if (!r.keeper->BeginExpire(id)) continue;
      lockpb::Command cmd;
      cmd.mutable_lease_expire()->set_id(id);
      Apply(r, cmd);
      r.keeper->EndExpire(id);
    }
  }
  bool Alive() {
    absl::StatusOr<std::optional<lock::LeaseRecord>> l = sm_->Lease(kLease);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() && l->has_value();
  }
  // Ticks `r` until the lease is gone; how long that took, or nullopt
  // after `limit`.
  std::optional<absl::Duration> TicksUntilExpired(Replica& r,
                                                  absl::Duration limit) {
    const absl::Time start = base_.Monotonic();
    while (base_.Monotonic() - start <= limit) {
      Tick(r);
      if (!Alive()) return base_.Monotonic() - start;
      base_.Advance(kTick);
    }
    return std::nullopt;
  }

  SimClock base_;
  lock::TempStateMachineDir dir_{"leader_clock"};
  std::unique_ptr<lock::StateMachine> sm_;
  uint64_t index_ = 0;
};

// The leader's wall clock steps 60 s ahead while the holder keeps renewing,
// then back; the holder stops. Before leader time, the checkpoints taken
// during the step stored deadlines 60 s late and the lease lived ~62 s.
TEST_F(LeaseTimeTest, AStepDuringATermNeitherStretchesNorCutsALease) {
  Replica r(&base_, 1);
  Lead(r, 1);
  Grant(r);
  absl::Duration last_renewal;
  for (absl::Duration t; t < absl::Seconds(5); t += kTick) {
    if (t == absl::Seconds(1)) r.clock.set_skew(absl::Seconds(60));
    if (t == absl::Seconds(3)) r.clock.set_skew(absl::ZeroDuration());
    if (t % absl::Milliseconds(500) == absl::ZeroDuration()) {
      ASSERT_EQ(r.keeper->Renew(1, kLease, kTtlMs),
                LeaseKeeper::RenewOutcome::kRenewed);
      last_renewal = t;
    }
    Tick(r);
    ASSERT_TRUE(Alive()) << "expired while renewed, at " << t;
    base_.Advance(kTick);
  }
  const absl::Duration since_renewal = absl::Seconds(5) - last_renewal;
  std::optional<absl::Duration> left = TicksUntilExpired(r, absl::Seconds(120));
  ASSERT_TRUE(left.has_value()) << "the lease never expired";
  // No sooner than its TTL after the last renewal, and within a tick of it.
  EXPECT_GE(since_renewal + *left, absl::Milliseconds(kTtlMs));
  EXPECT_LE(since_renewal + *left, absl::Milliseconds(kTtlMs) + kTick);
}

// A replica whose clock is 60 s ahead leads while the holder renews; then
// it dies with the holder, and a replica with a correct clock takes over.
// The lease must end at the new leader's floor (TTL + grace after its
// election), not 60 s later.
TEST_F(LeaseTimeTest, ASkewedLeaderDoesNotStretchLeasesPastTheNextLeader) {
  Replica fast(&base_, 1);
  fast.clock.set_skew(absl::Seconds(60));
  Lead(fast, 1);
  Grant(fast);
  for (absl::Duration t; t < absl::Seconds(3); t += kTick) {
    if (t % absl::Milliseconds(500) == absl::ZeroDuration()) {
      ASSERT_EQ(fast.keeper->Renew(1, kLease, kTtlMs),
                LeaseKeeper::RenewOutcome::kRenewed);
    }
    Tick(fast);
    base_.Advance(kTick);
  }
  ASSERT_TRUE(Alive());
  base_.Advance(absl::Seconds(1));  // the election
  Replica good(&base_, 2);
  Lead(good, 2);
  // The new term starts at the state machine's time, not behind it.
  EXPECT_GE(good.since_ms, sm_->now_ms());
  std::optional<absl::Duration> left =
      TicksUntilExpired(good, absl::Seconds(120));
  ASSERT_TRUE(left.has_value()) << "the lease never expired";
  EXPECT_GE(*left, absl::Milliseconds(kTtlMs) + kGrace);
  EXPECT_LE(*left, absl::Milliseconds(kTtlMs) + kGrace + kTick);
}

// A lease granted in this term and never renewed is protected only by its
// stored deadline: a forward step must not expire it early.
TEST_F(LeaseTimeTest, AForwardStepDoesNotExpireAFreshGrant) {
  Replica r(&base_, 1);
  Lead(r, 1);
  base_.Advance(absl::Seconds(10));  // past the election floor
  Tick(r);
  Grant(r);
  r.clock.set_skew(absl::Seconds(60));
  std::optional<absl::Duration> left = TicksUntilExpired(r, absl::Seconds(120));
  ASSERT_TRUE(left.has_value()) << "the lease never expired";
  EXPECT_GE(*left, absl::Milliseconds(kTtlMs));
  EXPECT_LE(*left, absl::Milliseconds(kTtlMs) + kTick);
}

}  // namespace
}  // namespace berth::lockd
