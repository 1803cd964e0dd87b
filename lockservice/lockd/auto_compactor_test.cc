// AutoCompactor: the policy alone, and driven by hand against a real state
// machine under a write loop with a simulated clock (what LeaderDuties does
// on every leader tick).
#include "lockservice/lockd/auto_compactor.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/state_machine.h"

namespace berth::lockd {
namespace {

using ::testing::HasSubstr;
using Mode = AutoCompactionOptions::Mode;

TEST(ParseAutoCompactionTest, ModesRetentionsAndErrors) {
  absl::StatusOr<AutoCompactionOptions> d = ParseAutoCompaction("revision", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->mode, Mode::kRevision);
  EXPECT_EQ(d->retention_revisions, 10000);
  EXPECT_EQ(ParseAutoCompaction("revision", "500")->retention_revisions, 500);
  EXPECT_EQ(ParseAutoCompaction("periodic", "")->retention_period,
            absl::Minutes(5));
  EXPECT_EQ(ParseAutoCompaction("periodic", "90s")->retention_period,
            absl::Seconds(90));
  EXPECT_EQ(ParseAutoCompaction("periodic", "2")->retention_period,
            absl::Hours(2));  // etcd: a bare number is hours
  EXPECT_EQ(ParseAutoCompaction("off", "")->mode, Mode::kOff);
  EXPECT_THAT(ParseAutoCompaction("revision", "5m").status().message(),
              HasSubstr("number of revisions"));
  EXPECT_THAT(ParseAutoCompaction("revision", "0").status().message(),
              HasSubstr(">= 1"));
  EXPECT_THAT(ParseAutoCompaction("periodic", "soon").status().message(),
              HasSubstr("duration"));
  EXPECT_THAT(ParseAutoCompaction("hourly", "").status().message(),
              HasSubstr("revision, periodic or off"));
  EXPECT_EQ(DescribeAutoCompaction(*d), "revision 10000");
}

TEST(AutoCompactorTest, RevisionModeCompactsInTenthsOfTheRetention) {
  AutoCompactionOptions o;
  o.retention_revisions = 100;
  AutoCompactor c(o);
  const absl::Time t = absl::FromUnixSeconds(1);
  EXPECT_EQ(c.Next(t, 100, 0), 0);   // nothing older than the retention
  EXPECT_EQ(c.Next(t, 109, 0), 0);   // 9 revisions: less than a tenth
  EXPECT_EQ(c.Next(t, 110, 0), 10);  // keeps revisions 10..110
  EXPECT_EQ(c.Next(t, 115, 10), 0);
  EXPECT_EQ(c.Next(t, 125, 10), 25);
}

TEST(AutoCompactorTest, PeriodicModeCompactsToTheRevisionSeenAPeriodAgo) {
  AutoCompactionOptions o;
  o.mode = Mode::kPeriodic;
  o.retention_period = absl::Minutes(10);
  AutoCompactor c(o);
  SimClock clock;
  int64_t rev = 0, compacted = 0;
  // 1 write a second; tick every second.
  for (int s = 0; s < 600; ++s) {
    EXPECT_EQ(c.Next(clock.Now(), ++rev, compacted), 0) << "at " << s;
    clock.Advance(absl::Seconds(1));
  }
  int64_t target = c.Next(clock.Now(), ++rev, compacted);
  // The revision sampled (about) ten minutes ago.
  EXPECT_GE(target, 1);
  EXPECT_LE(target, 7);
  compacted = target;
  // No second compaction within a tenth of the period...
  clock.Advance(absl::Seconds(30));
  rev += 30;
  EXPECT_EQ(c.Next(clock.Now(), rev, compacted), 0);
  // ... then the point follows the clock.
  clock.Advance(absl::Seconds(31));
  rev += 31;
  target = c.Next(clock.Now(), rev, compacted);
  EXPECT_GE(target, rev - 600 - 7);
  EXPECT_LE(target, rev - 600);
  // A new leader has no samples: it keeps history until it has seen a
  // whole period itself.
  c.Reset();
  EXPECT_EQ(c.Next(clock.Now(), rev, compacted), 0);
}

TEST(AutoCompactorTest, OffNeverCompacts) {
  AutoCompactionOptions o;
  o.mode = Mode::kOff;
  AutoCompactor c(o);
  EXPECT_EQ(c.Next(absl::FromUnixSeconds(1), 1'000'000, 0), 0);
}

// The leader's loop by hand: writes, then on each tick the compactor's
// decision and the purge steps go through Apply like any command.
class AutoCompactionLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("berth_autocompact_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    lock::StateMachine::Options opts;
    opts.path = (dir_ / "replica.db").string();
    opts.limits.history_purge_step_rows = 50;
    auto sm = lock::StateMachine::Open(opts);
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
  }
  void TearDown() override {
    sm_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Apply(lockpb::Command cmd) {
    cmd.set_leader_time_unix_ms(absl::ToUnixMillis(clock_.Now()));
    absl::StatusOr<lock::ApplyResult> r =
        sm_->Apply(sm_->applied_index() + 1, cmd);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->status.ok()) << r->status;
  }
  // One LeaderDuties tick: the policy, then up to 4 purge steps.
  void Tick(AutoCompactor& c) {
    int64_t target =
        c.Next(clock_.Now(), sm_->revision(), *sm_->compact_revision());
    if (target > 0) {
      lockpb::Command cmd;
      cmd.mutable_compact()->set_revision(target);
      Apply(cmd);
    }
    for (int i = 0; i < 4 && sm_->history_purge_pending(); ++i) {
      lockpb::Command cmd;
      cmd.mutable_compact()->set_purge_only(true);
      Apply(cmd);
    }
  }
  std::filesystem::path dir_;
  std::unique_ptr<lock::StateMachine> sm_;
  SimClock clock_;
};

TEST_F(AutoCompactionLoopTest, HistoryStaysBoundedUnderAWriteLoop) {
  AutoCompactionOptions o;
  o.retention_revisions = 500;
  AutoCompactor c(o);
  int64_t max_events = 0, last_compacted = 0, advances = 0;
  // 10,000 writes, 20 per 100 ms tick (200 writes/s).
  for (int tick = 0; tick < 500; ++tick) {
    for (int i = 0; i < 20; ++i) {
      lockpb::Command put;
      put.mutable_put()->set_key("k" + std::to_string(i));
      put.mutable_put()->set_value(std::string(100, 'v'));
      Apply(put);
    }
    clock_.Advance(absl::Milliseconds(100));
    Tick(c);
    absl::StatusOr<int64_t> n = sm_->HistoryEventCount();
    ASSERT_TRUE(n.ok());
    max_events = std::max(max_events, *n);
    int64_t compacted = *sm_->compact_revision();
    ASSERT_GE(compacted, last_compacted);
    if (compacted > last_compacted) ++advances;
    last_compacted = compacted;
  }
  EXPECT_EQ(sm_->revision(), 10'000);
  // Retention plus one compaction step plus one tick of writes.
  EXPECT_LE(max_events, 500 + 50 + 20);
  EXPECT_GE(last_compacted, 10'000 - 500 - 50);
  EXPECT_GT(advances, 100);
  // A watcher that fell behind gets the explicit "compacted" error.
  auto old = sm_->EventsSince(1, "k", std::string("\0", 1), 0);
  EXPECT_TRUE(lock::IsHistoryCompacted(old.status())) << old.status();
  auto recent =
      sm_->EventsSince(sm_->revision() - 100, "k", std::string("\0", 1), 0);
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(recent->size(), 101u);
}

TEST_F(AutoCompactionLoopTest, PeriodicModeKeepsTheRetentionWindow) {
  AutoCompactionOptions o;
  o.mode = Mode::kPeriodic;
  o.retention_period = absl::Seconds(60);
  AutoCompactor c(o);
  // 10 writes a second for five minutes, ticking every 100 ms.
  for (int tick = 0; tick < 3000; ++tick) {
    lockpb::Command put;
    put.mutable_put()->set_key("k");
    put.mutable_put()->set_value("v");
    Apply(put);
    clock_.Advance(absl::Milliseconds(100));
    Tick(c);
  }
  const int64_t compacted = *sm_->compact_revision();
  // About 60 s of history (600 revisions) is kept: at least the period,
  // and at most the period plus a tenth (the compaction cadence) plus the
  // sampling grain.
  EXPECT_LE(compacted, 3000 - 600 + 1);
  EXPECT_GE(compacted, 3000 - 600 - 60 - 10);
  absl::StatusOr<int64_t> n = sm_->HistoryEventCount();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3000 - compacted + 1);
}

}  // namespace
}  // namespace berth::lockd
