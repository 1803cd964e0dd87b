// Apply batches: the driver brackets each run of committed entries in one
// SQLite transaction (StateMachine::BeginBatch/CommitBatch); every entry
// stays its own savepoint inside it.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

TEST_F(SmTest, BatchIsDurableAtCommitAndARejectionUndoesOnlyItsEntry) {
  ASSERT_TRUE(sm_->BeginBatch().ok());
  Ok(PutCmd("a", "1"));
  // A put naming a lease that does not exist is rejected: its index is
  // applied, its writes are not.
  ApplyResult rejected = Do(PutCmd("b", "2", /*lease=*/4242));
  EXPECT_FALSE(rejected.status.ok());
  Ok(PutCmd("c", "3"));
  ASSERT_TRUE(sm_->CommitBatch().ok());
  EXPECT_EQ(sm_->applied_index(), 3u);

  sm_.reset();
  sm_ = OpenAt("replica.db");
  ASSERT_NE(sm_, nullptr);
  EXPECT_EQ(sm_->applied_index(), 3u);
  EXPECT_TRUE(Get("a").has_value());
  EXPECT_FALSE(Get("b").has_value());
  EXPECT_TRUE(Get("c").has_value());
  EXPECT_EQ(sm_->revision(), 2);
}

TEST_F(SmTest, BatchNotCommittedIsGoneAfterACrashAndReappliesTheSame) {
  Ok(PutCmd("before", "x"));
  ASSERT_TRUE(sm_->BeginBatch().ok());
  Ok(PutCmd("a", "1"));
  Ok(PutCmd("b", "2"));
  EXPECT_EQ(sm_->applied_index(), 3u);
  // Closing the file with the batch open is what a crash leaves behind.
  sm_.reset();
  sm_ = OpenAt("replica.db");
  ASSERT_NE(sm_, nullptr);
  EXPECT_EQ(sm_->applied_index(), 1u);
  EXPECT_FALSE(Get("a").has_value());
  // Raft re-delivers the entries; applying them again gives the same state.
  ASSERT_TRUE(sm_->BeginBatch().ok());
  EXPECT_EQ(Ok(PutCmd("a", "1")).result.revision(), 2);
  EXPECT_EQ(Ok(PutCmd("b", "2")).result.revision(), 3);
  ASSERT_TRUE(sm_->CommitBatch().ok());
  EXPECT_EQ(Get("b")->value(), "2");
}

TEST_F(SmTest, BatchMisuseIsRefusedWithAReason) {
  ASSERT_TRUE(sm_->BeginBatch().ok());
  absl::Status twice = sm_->BeginBatch();
  EXPECT_TRUE(absl::IsFailedPrecondition(twice)) << twice;
  EXPECT_THAT(std::string(twice.message()), ::testing::HasSubstr("already"));
  ASSERT_TRUE(sm_->CommitBatch().ok());
  absl::Status none = sm_->CommitBatch();
  EXPECT_TRUE(absl::IsFailedPrecondition(none)) << none;
}

}  // namespace
}  // namespace berth::lock::testing
