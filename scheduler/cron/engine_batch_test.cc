// Finalizing finished runs batched across jobs (issue #14): the pieces of
// many jobs share transactions under lockd's 128-operation limit, a batch
// that conflicts is retried job by job, and due claims commit before the
// finalizations of the same Step.
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "scheduler/cron/cron_leader_test.h"
#include "scheduler/cron/cron_sim.h"
#include "scheduler/cron/engine.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::cron {
namespace {

class CronFinalizeBatchTest : public CronLeaderTest {
 protected:
  static std::string Name(int i) { return "j" + std::to_string(i); }
  // `n` jobs firing every 10 s, claimed at second 10 and settled.
  void ClaimAt10(int n, int64_t timeout_ms = 0) {
    for (int i = 0; i < n; ++i) {
      sim::CronJobArgs a{.name = Name(i), .schedule = "@every 10s"};
      a.submit_unix_ms = kT0 * 1000;
      a.successful_history = 1;
      a.timeout_ms = timeout_ms;
      ASSERT_TRUE(sim::PutJob(&store_, sim::CronJob(a)).ok());
    }
    ASSERT_TRUE(leader_->Start(At(1)).ok());
    ASSERT_TRUE(leader_->Settle(At(10)).ok());
    ASSERT_EQ(engine().stats().claims, n);
  }
  // The agents report the runs of `tick` (kT0 + seconds) of jobs [0, n)
  // finished (or still running).
  void FinishAll(int n, int tick = 10,
                 agentpb::AllocState state = agentpb::EXITED) {
    for (int i = 0; i < n; ++i) {
      agentpb::AllocationStatus s;
      s.set_alloc_id(sched::CronAllocId("default", Name(i), kT0 + tick));
      s.set_node("node-1");
      s.set_state(state);
      s.set_start_unix_ms(absl::ToUnixMillis(At(tick)));
      if (state == agentpb::EXITED) {
        s.set_finish_unix_ms(absl::ToUnixMillis(At(tick + 1)));
      }
      ASSERT_TRUE(sim::PutStatus(&store_, s).ok());
    }
  }
  std::optional<sched::StoredKV> Get(const std::string& key) {
    absl::StatusOr<sched::StoreSnapshot> snap = store_.Load(key);
    for (const auto& kv : snap->kvs) {
      if (kv.key == key) return kv;
    }
    return std::nullopt;
  }
  jobpb::CronRun::Result Result(int i, int64_t tick) {
    std::optional<sched::StoredKV> kv =
        Get(sched::CronRunKey("default", Name(i), tick));
    jobpb::CronRun r;
    if (kv) r.ParseFromString(kv->value);
    return r.result();
  }
  absl::Status EngineStep(double s) {
    return leader_->engine()
        .Step(leader_->state(), At(s), leader_->fence())
        .status();
  }
  CronEngine& engine() { return leader_->engine(); }
};

// 200 jobs' finished runs: each piece is one condition + one put, so 64
// jobs fit a 128-operation transaction and the scan takes ceil(400/128) = 4
// commits instead of 200.
TEST_F(CronFinalizeBatchTest, FinishedRunsOfManyJobsShareTransactions) {
  constexpr int kJobs = 200;
  ClaimAt10(kJobs);
  FinishAll(kJobs);
  const int64_t commits = store_.commits();
  ASSERT_TRUE(leader_->Pump(At(11)).ok());
  ASSERT_TRUE(EngineStep(11).ok());
  EXPECT_EQ(store_.commits(), commits + 4);
  EXPECT_EQ(engine().stats().finalize_batches, 4);
  EXPECT_EQ(engine().stats().finalize_fallbacks, 0);
  EXPECT_EQ(engine().stats().finalized, kJobs);
  ASSERT_TRUE(leader_->Settle(At(11.5)).ok());
  EXPECT_EQ(store_.commits(), commits + 4);  // nothing left to write
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(Result(i, kT0 + 10), jobpb::CronRun::SUCCEEDED) << Name(i);
  }
  EXPECT_EQ(engine().stats().finalized, kJobs);
  EXPECT_EQ(engine().stats().conflicts, 0);
}

// One job's run changed behind the engine's back: the batch applies
// nothing, the other four are finalized one by one, and the fifth exactly
// once after the mirror caught up.
TEST_F(CronFinalizeBatchTest, ConflictInABatchFinalizesTheOthersAlone) {
  ClaimAt10(5);
  FinishAll(5);
  ASSERT_TRUE(leader_->Pump(At(11)).ok());
  std::optional<sched::StoredKV> j2 =
      Get(sched::CronRunKey("default", Name(2), kT0 + 10));
  ASSERT_TRUE(j2.has_value());
  sched::StoreTxn txn;
  txn.ops.push_back(sched::StoreOp::Put(j2->key, j2->value));
  ASSERT_TRUE(store_.Commit(txn, sched::Fence{}).ok());
  const int64_t commits = store_.commits();
  // Without pumping: the engine plans j2 from the run it read before.
  ASSERT_TRUE(EngineStep(11).ok());
  // MemStore counts applied commits: the batch and j2 alone conflicted.
  EXPECT_EQ(store_.commits(), commits + 4);
  EXPECT_EQ(engine().stats().finalize_batches, 1);
  EXPECT_EQ(engine().stats().finalize_fallbacks, 1);
  EXPECT_EQ(engine().stats().conflicts, 1);
  EXPECT_EQ(engine().stats().finalized, 4);
  EXPECT_EQ(Result(2, kT0 + 10), jobpb::CronRun::ACTIVE);
  ASSERT_TRUE(leader_->Settle(At(11.5)).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Result(i, kT0 + 10), jobpb::CronRun::SUCCEEDED) << Name(i);
  }
  EXPECT_EQ(engine().stats().finalized, 5);
  EXPECT_EQ(store_.commits(), commits + 5);
}

// The batch applies but its reply is lost: nothing is counted, the rescan
// after the mirror caught up has nothing left to write, and every run was
// finalized once.
TEST_F(CronFinalizeBatchTest, LostReplyOfABatchIsNotFinalizedAgain) {
  ClaimAt10(5);
  FinishAll(5);
  ASSERT_TRUE(leader_->Pump(At(11)).ok());
  store_.FailAfterApply(1);
  const int64_t commits = store_.commits();
  ASSERT_TRUE(EngineStep(11).ok());
  EXPECT_EQ(engine().stats().unknown_outcomes, 1);
  EXPECT_EQ(engine().stats().finalized, 0);
  ASSERT_TRUE(leader_->Settle(At(12)).ok());
  EXPECT_EQ(store_.commits(), commits + 1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Result(i, kT0 + 10), jobpb::CronRun::SUCCEEDED) << Name(i);
  }
  EXPECT_EQ(engine().stats().finalized, 0);  // never assumed
}

// A tick due in the same Step as other jobs' finalizations is claimed
// first, in an earlier revision.
TEST_F(CronFinalizeBatchTest, DueClaimsCommitBeforeFinalizations) {
  sim::CronJobArgs late{.name = "late", .schedule = "12 * * * * *"};
  late.submit_unix_ms = kT0 * 1000;
  ASSERT_TRUE(sim::PutJob(&store_, sim::CronJob(late)).ok());
  ClaimAt10(10);
  FinishAll(10);
  ASSERT_TRUE(leader_->Pump(At(12)).ok());
  const int64_t commits = store_.commits();
  ASSERT_TRUE(EngineStep(12).ok());
  EXPECT_EQ(store_.commits(), commits + 2);
  std::optional<sched::StoredKV> claim =
      Get(sched::CronRunKey("default", "late", kT0 + 12));
  std::optional<sched::StoredKV> done =
      Get(sched::CronRunKey("default", Name(0), kT0 + 10));
  ASSERT_TRUE(claim.has_value());
  ASSERT_TRUE(done.has_value());
  EXPECT_LT(claim->mod_revision, done->mod_revision);
  EXPECT_EQ(Result(0, kT0 + 10), jobpb::CronRun::SUCCEEDED);
  EXPECT_EQ(engine().stats().claims, 11);
  EXPECT_EQ(engine().stats().finalized, 10);
}

// The counters stay per job when pieces share a commit: history trims
// (each a run and its allocation deleted) and timeout stops.
TEST_F(CronFinalizeBatchTest, TrimsAndTimeoutsAreCountedInBatches) {
  ClaimAt10(4, /*timeout_ms=*/5000);
  FinishAll(4, 10);
  ASSERT_TRUE(leader_->Settle(At(11)).ok());
  ASSERT_EQ(engine().stats().finalized, 4);
  ASSERT_TRUE(leader_->Settle(At(20)).ok());
  FinishAll(4, 20);
  int64_t commits = store_.commits();
  ASSERT_TRUE(leader_->Settle(At(21)).ok());
  // Each job: finalize tick 20, delete tick 10 (history limit 1) and its
  // allocation; all four jobs in one commit.
  EXPECT_EQ(store_.commits(), commits + 1);
  EXPECT_EQ(engine().stats().finalized, 8);
  EXPECT_EQ(engine().stats().history_deleted, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(Get(sched::CronRunKey("default", Name(i), kT0 + 10)));
    EXPECT_FALSE(Get(sched::SchedAllocKey(
        sched::CronAllocId("default", Name(i), kT0 + 10))));
  }
  ASSERT_TRUE(leader_->Settle(At(30)).ok());
  FinishAll(4, 30, agentpb::RUNNING);
  ASSERT_TRUE(leader_->Settle(At(30.5)).ok());
  commits = store_.commits();
  ASSERT_TRUE(leader_->Settle(At(35.5)).ok());
  EXPECT_EQ(store_.commits(), commits + 1);  // four stops, one commit
  EXPECT_EQ(engine().stats().timeouts, 4);
  EXPECT_EQ(engine().stats().finalize_fallbacks, 0);
}

}  // namespace
}  // namespace berth::cron
