// Compaction of the watch history in bounded steps (sm_history.cc).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using ::testing::HasSubstr;

lockpb::Command PurgeCmd() {
  lockpb::Command c;
  c.mutable_compact()->set_purge_only(true);
  return c;
}

class SmHistoryTest : public SmTest {
 protected:
  void SetUp() override {
    SmTest::SetUp();
    Limits small;
    small.history_purge_step_rows = 10;
    sm_.reset();
    sm_ = OpenAt("replica.db", small);
  }
  int64_t Events() {
    absl::StatusOr<int64_t> n = sm_->HistoryEventCount();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
};

TEST_F(SmHistoryTest, CompactMovesThePointAtOnceAndDeletesInBoundedSteps) {
  for (int i = 0; i < 100; ++i) Ok(PutCmd("k" + std::to_string(i % 7), "v"));
  ASSERT_EQ(Events(), 100);
  Ok(CompactCmd(91));
  // Reads below the point fail at once, whatever is still stored.
  absl::StatusOr<std::vector<lockpb::Event>> old =
      sm_->EventsSince(50, "k", std::string("\0", 1), 0);
  EXPECT_TRUE(IsHistoryCompacted(old.status())) << old.status();
  EXPECT_EQ(*sm_->compact_revision(), 91);
  // ... but only one step (10 events) went in that apply.
  EXPECT_EQ(Events(), 90);
  EXPECT_TRUE(sm_->history_purge_pending());
  int steps = 0;
  while (sm_->history_purge_pending()) {
    Ok(PurgeCmd());
    ASSERT_LT(++steps, 100);
  }
  EXPECT_EQ(steps, 8);      // 80 more events, 10 per step
  EXPECT_EQ(Events(), 10);  // revisions 91..100
  absl::StatusOr<std::vector<lockpb::Event>> kept =
      sm_->EventsSince(91, "k", std::string("\0", 1), 0);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->size(), 10u);
  // A purge step with nothing left is harmless.
  Ok(PurgeCmd());
  EXPECT_EQ(Events(), 10);
}

TEST_F(SmHistoryTest, StepsSplitARevisionWithManyEvents) {
  for (int i = 0; i < 25; ++i) Ok(PutCmd("p/" + std::to_string(100 + i), "v"));
  // One revision, 25 DELETE events.
  Ok(DeleteCmd("p/", "p0"));
  Ok(PutCmd("after", "v"));
  const int64_t rev = sm_->revision();
  Ok(CompactCmd(rev));  // keeps only the last put
  int steps = 0;
  while (sm_->history_purge_pending()) {
    Ok(PurgeCmd());
    ASSERT_LT(++steps, 100);
  }
  EXPECT_EQ(Events(), 1);
  EXPECT_EQ(steps, 4);  // 50 events below the point, 10 per apply
}

TEST_F(SmHistoryTest, PendingPurgeSurvivesReopen) {
  for (int i = 0; i < 40; ++i) Ok(PutCmd("k", "v"));
  Ok(CompactCmd(35));
  ASSERT_TRUE(sm_->history_purge_pending());
  Limits small;
  small.history_purge_step_rows = 10;
  sm_.reset();
  sm_ = OpenAt("replica.db", small);
  EXPECT_TRUE(sm_->history_purge_pending());
  while (sm_->history_purge_pending()) Ok(PurgeCmd());
  EXPECT_EQ(Events(), 6);  // 35..40
}

TEST_F(SmHistoryTest, CompactBoundsAreCheckedAsBefore) {
  for (int i = 0; i < 5; ++i) Ok(PutCmd("k", "v"));
  EXPECT_THAT(Do(CompactCmd(6)).status.message(),
              HasSubstr("must be in [1, 5]"));
  Ok(CompactCmd(3));
  ApplyResult again = Do(CompactCmd(3));
  EXPECT_EQ(again.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status.message(), HasSubstr("already compacted"));
}

TEST_F(SmHistoryTest, ReplicasApplyingTheSameLogEndIdentical) {
  std::unique_ptr<StateMachine> other = OpenAt("other.db", [] {
    Limits l;
    l.history_purge_step_rows = 10;
    return l;
  }());
  auto both = [&](lockpb::Command c) {
    Do(c);
    Do(c, other.get());
  };
  for (int i = 0; i < 60; ++i) both(PutCmd("k" + std::to_string(i % 5), "v"));
  both(CompactCmd(50));
  both(PurgeCmd());
  absl::StatusOr<std::string> a = sm_->Dump();
  absl::StatusOr<std::string> b = other->Dump();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

}  // namespace
}  // namespace berth::lock::testing
