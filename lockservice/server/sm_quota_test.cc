// The NOSPACE alarm as applied from the log, and defragmentation.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

lockpb::Command AlarmCmd(bool active) {
  lockpb::Command c;
  c.mutable_alarm()->set_active(active);
  c.mutable_alarm()->set_db_size_bytes(3 << 20);
  c.mutable_alarm()->set_quota_bytes(2 << 20);
  c.mutable_alarm()->set_member_id(2);
  return c;
}

lockpb::Command TxnCmd(bool with_put) {
  lockpb::Command c;
  lockpb::TxnRequest* t = c.mutable_txn();
  lockpb::RequestOp* op = t->add_success();
  op->mutable_request_delete_range()->set_key("gone");
  if (with_put) {
    lockpb::RequestOp* put = t->add_failure();
    put->mutable_request_put()->set_key("x");
    put->mutable_request_put()->set_value("y");
  }
  return c;
}

TEST_F(SmTest, NospaceAlarmRefusesOnlyWritesThatGrowTheDatabase) {
  const int64_t lease = NewLease();
  Ok(PutCmd("keep", "v"));
  Ok(PutCmd("gone", "v"));
  Ok(AlarmCmd(true));
  ASSERT_TRUE(sm_->nospace_alarm().active());

  ApplyResult put = Do(PutCmd("new", "v"));
  EXPECT_EQ(put.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(put.status.message(),
              AllOf(HasSubstr("3.0 MiB"), HasSubstr("quota of 2.0 MiB"),
                    HasSubstr("--quota-backend-bytes"),
                    HasSubstr("berth cluster defrag"), HasSubstr("replica 2")));
  EXPECT_FALSE(Get("new").has_value());
  EXPECT_EQ(Do(TxnCmd(true)).status.code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Do(GrantCmd(10'000)).status.code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Do(AcquireCmd("l", lease)).status.code(),
            absl::StatusCode::kResourceExhausted);

  // What makes room, or keeps sessions alive, still goes through.
  Ok(TxnCmd(false));
  EXPECT_FALSE(Get("gone").has_value());
  Ok(DeleteCmd("keep"));
  Ok(KeepAliveCmd(lease));
  Ok(CompactCmd(sm_->revision()));
  Ok(RevokeCmd(lease));
  EXPECT_EQ(sm_->applied_index(), 13u);  // refusals advance the index too

  Ok(AlarmCmd(false));
  Ok(PutCmd("new", "v"));
  EXPECT_TRUE(Get("new").has_value());
}

TEST_F(SmTest, NospaceAlarmSurvivesReopen) {
  Ok(AlarmCmd(true));
  sm_.reset();
  sm_ = OpenAt("replica.db");
  ASSERT_TRUE(sm_->nospace_alarm().active());
  EXPECT_EQ(sm_->nospace_alarm().quota_bytes(), 2 << 20);
  EXPECT_EQ(Do(PutCmd("a", "b")).status.code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(SmTest, AlarmWithoutAQuotaIsRejected) {
  lockpb::Command bad = AlarmCmd(true);
  bad.mutable_alarm()->set_quota_bytes(0);
  EXPECT_THAT(Do(bad).status.message(), HasSubstr("quota_bytes must be > 0"));
  EXPECT_FALSE(sm_->nospace_alarm().active());
}

TEST_F(SmTest, DefragmentGivesFreePagesBack) {
  const std::string big(8192, 'x');
  for (int i = 0; i < 300; ++i) Ok(PutCmd("k" + std::to_string(i), big));
  Ok(DeleteCmd("k", "l"));
  // The DELETE events carry the deleted values: compact past them too.
  Ok(PutCmd("marker", "m"));
  Ok(CompactCmd(sm_->revision()));
  while (sm_->history_purge_pending()) {
    lockpb::Command purge;
    purge.mutable_compact()->set_purge_only(true);
    Ok(purge);
  }
  absl::StatusOr<StateMachine::DbSize> before = sm_->DatabaseSize();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_GT(before->total_bytes - before->in_use_bytes, 2 << 20);
  int steps = 0;
  while (true) {
    absl::StatusOr<bool> done = sm_->DefragmentStep(64);
    ASSERT_TRUE(done.ok()) << done.status();
    if (*done) break;
    ASSERT_LT(++steps, 10'000);
  }
  EXPECT_GT(steps, 1);  // in steps, not one long VACUUM
  absl::StatusOr<StateMachine::DbSize> after = sm_->DatabaseSize();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->total_bytes, after->in_use_bytes);
  EXPECT_LT(after->total_bytes, before->total_bytes / 4);
  Ok(PutCmd("still", "works"));
}

TEST_F(SmTest, DefragmentWaitsForAnOpenBatch) {
  ASSERT_TRUE(sm_->BeginBatch().ok());
  Ok(PutCmd("a", "b"));
  EXPECT_EQ(sm_->DefragmentStep(64).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(sm_->CommitBatch().ok());
  EXPECT_TRUE(sm_->DefragmentStep(64).ok());
}

}  // namespace
}  // namespace berth::lock::testing
