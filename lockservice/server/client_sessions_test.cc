// Exactly-once writes: the state machine answers a repeated (client, seq)
// from the sm_client_replies table instead of applying it again.
#include "lockservice/server/client_sessions.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

using ::testing::HasSubstr;

lockpb::WriteId Id(uint64_t client, uint64_t seq, uint64_t acked_below) {
  lockpb::WriteId id;
  id.set_client_id(client);
  id.set_seq(seq);
  id.set_acked_below(acked_below);
  return id;
}

lockpb::Command Put(std::string key, std::string value,
                    const lockpb::WriteId& id) {
  lockpb::Command c = PutCmd(std::move(key), std::move(value));
  *c.mutable_put()->mutable_write_id() = id;
  return c;
}

// Rows of one table in StateMachine::Dump().
int Rows(StateMachine& sm, const std::string& table) {
  absl::StatusOr<std::string> dump = sm.Dump();
  EXPECT_TRUE(dump.ok()) << dump.status();
  int rows = -1;
  for (absl::string_view line : absl::StrSplit(*dump, '\n')) {
    if (absl::StartsWith(line, "[")) {
      if (rows >= 0) break;
      if (line == "[" + table + "]") rows = 0;
    } else if (rows >= 0 && !line.empty()) {
      ++rows;
    }
  }
  return rows;
}

TEST_F(SmTest, RepeatedWriteIdReturnsTheStoredAnswerAndAppliesNothing) {
  Ok(PutCmd("k", "old"));
  ApplyResult first = Ok(Put("k", "v1", Id(7, 1, 1)));
  int64_t rev = sm_->revision();
  ASSERT_EQ(Get("k")->version(), 2);

  ApplyResult again = Do(Put("k", "v1", Id(7, 1, 1)));
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_TRUE(again.replayed);
  EXPECT_FALSE(again.duplicate);  // a new log index, an old write
  EXPECT_EQ(again.result.SerializeAsString(), first.result.SerializeAsString());
  EXPECT_EQ(again.result.revision(), rev);
  EXPECT_EQ(again.result.put().prev_kv().value(), "old");
  EXPECT_TRUE(again.events.empty());
  EXPECT_EQ(sm_->revision(), rev);
  EXPECT_EQ(Get("k")->version(), 2);

  // The next seq is a new write.
  ApplyResult next = Ok(Put("k", "v2", Id(7, 2, 2)));
  EXPECT_FALSE(next.replayed);
  EXPECT_EQ(Get("k")->version(), 3);
  EXPECT_EQ(sm_->revision(), rev + 1);
}

TEST_F(SmTest, RequestsWithoutWriteIdApplyEveryTimeAsBefore) {
  Ok(PutCmd("k", "v"));
  Ok(PutCmd("k", "v"));
  lockpb::Command zero = Put("k", "v", Id(0, 1, 1));  // client 0 = none
  Ok(zero);
  Ok(zero);
  EXPECT_EQ(Get("k")->version(), 4);
  EXPECT_EQ(Rows(*sm_, "sm_clients"), 0);
}

TEST_F(SmTest, DeleteAndTxnAreDeduplicatedToo) {
  Ok(PutCmd("a", "1"));
  lockpb::Command del = DeleteCmd("a");
  *del.mutable_delete_range()->mutable_write_id() = Id(9, 1, 1);
  EXPECT_EQ(Ok(del).result.delete_range().deleted(), 1);
  Ok(PutCmd("a", "2"));  // someone else recreates it
  ApplyResult repeat = Ok(del);
  EXPECT_TRUE(repeat.replayed);
  EXPECT_EQ(repeat.result.delete_range().deleted(), 1);
  EXPECT_EQ(Get("a")->value(), "2");  // not deleted a second time

  // A compare-free transaction is not idempotent: each apply bumps the
  // key's version. The repeat must not.
  lockpb::Command txn;
  lockpb::PutRequest* p =
      txn.mutable_txn()->add_success()->mutable_request_put();
  p->set_key("n");
  p->set_value("x");
  *txn.mutable_txn()->mutable_write_id() = Id(9, 2, 2);
  Ok(txn);
  EXPECT_TRUE(Ok(txn).replayed);
  EXPECT_TRUE(Ok(txn).replayed);
  EXPECT_EQ(Get("n")->version(), 1);
}

TEST_F(SmTest, ARejectedWriteIsAnsweredWithTheSameRejection) {
  lockpb::Command txn;
  txn.mutable_txn()->mutable_guard()->set_lock_name("no-such-lock");
  txn.mutable_txn()->mutable_guard()->set_token(5);
  txn.mutable_txn()->add_success()->mutable_request_put()->set_key("g");
  *txn.mutable_txn()->mutable_write_id() = Id(3, 1, 1);
  ApplyResult first = Do(txn);
  ASSERT_EQ(first.status.code(), absl::StatusCode::kFailedPrecondition);
  // The lock appears meanwhile; the repeat still reports the first answer.
  int64_t lease = NewLease();
  Ok(AcquireCmd("no-such-lock", lease));
  ApplyResult again = Do(txn);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.status, first.status);
  EXPECT_FALSE(Get("g").has_value());
}

TEST_F(SmTest, PipelinedWritesKeepAWindowAndForgetAcknowledgedAnswers) {
  // Three threads of one client: seqs 1..3 in flight, applied out of order.
  for (uint64_t seq : {3, 1, 2}) {
    EXPECT_FALSE(Ok(Put("p", std::to_string(seq), Id(5, seq, 1))).replayed);
  }
  EXPECT_EQ(Get("p")->version(), 3);
  EXPECT_EQ(Rows(*sm_, "sm_client_replies"), 3);
  for (uint64_t seq : {2, 3, 1}) {
    EXPECT_TRUE(Ok(Put("p", "again", Id(5, seq, 1))).replayed);
  }
  EXPECT_EQ(Get("p")->version(), 3);

  // Seq 4 says everything below 3 was answered: those answers go.
  Ok(Put("p", "4", Id(5, 4, 3)));
  EXPECT_EQ(Rows(*sm_, "sm_client_replies"), 2);  // seqs 3 and 4
  EXPECT_EQ(Rows(*sm_, "sm_clients"), 1);
  ApplyResult stale = Do(Put("p", "late copy of 2", Id(5, 2, 1)));
  EXPECT_EQ(stale.status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(stale.status.message(),
              HasSubstr("below the client's acknowledged window"));
  EXPECT_THAT(stale.status.message(), HasSubstr("seq 2 of client 5"));
  EXPECT_EQ(Get("p")->version(), 4);
  EXPECT_EQ(Get("p")->value(), "4");
  EXPECT_TRUE(Ok(Put("p", "x", Id(5, 3, 3))).replayed);  // still in window
}

TEST_F(SmTest, BadWriteIdsAreRejectedWithNamedReasons) {
  ApplyResult zero = Do(Put("k", "v", Id(1, 0, 0)));
  EXPECT_EQ(zero.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status.message(), HasSubstr("seq 0"));
  ApplyResult ahead = Do(Put("k", "v", Id(1, 2, 3)));
  EXPECT_EQ(ahead.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ahead.status.message(), HasSubstr("acked_below 3"));
  EXPECT_FALSE(Get("k").has_value());

  Limits small;
  small.max_client_window = 4;
  std::unique_ptr<StateMachine> sm = OpenAt("small.db", small);
  ASSERT_TRUE(Do(Put("k", "v", Id(1, 1, 1)), sm.get()).status.ok());
  ApplyResult wide = Do(Put("k", "v", Id(1, 5, 1)), sm.get());
  EXPECT_EQ(wide.status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(wide.status.message(), HasSubstr("at most 4 writes"));
  EXPECT_TRUE(Do(Put("k", "v", Id(1, 4, 1)), sm.get()).status.ok());
}

TEST_F(SmTest, DedupeStateSurvivesRestartAndSnapshot) {
  ApplyResult first = Ok(Put("k", "v", Id(11, 1, 1)));
  sm_.reset();
  sm_ = OpenAt("replica.db");
  ApplyResult after_restart = Ok(Put("k", "v", Id(11, 1, 1)));
  EXPECT_TRUE(after_restart.replayed);
  EXPECT_EQ(after_restart.result.SerializeAsString(),
            first.result.SerializeAsString());

  absl::StatusOr<std::string> image = sm_->Snapshot();
  ASSERT_TRUE(image.ok()) << image.status();
  std::unique_ptr<StateMachine> fresh = OpenAt("fresh.db");
  ASSERT_TRUE(fresh->Restore(*image).ok());
  EXPECT_EQ(*fresh->Dump(), *sm_->Dump());
  ApplyResult on_restored = Do(Put("k", "v", Id(11, 1, 1)), fresh.get());
  EXPECT_TRUE(on_restored.replayed);
  EXPECT_EQ(on_restored.result.SerializeAsString(),
            first.result.SerializeAsString());
  EXPECT_EQ(fresh->revision(), sm_->revision());
}

TEST_F(SmTest, IdleClientsAreForgottenByLogTimeWhenNewOnesArrive) {
  Limits limits;
  limits.client_idle_expiry_ms = 60'000;
  std::unique_ptr<StateMachine> sm = OpenAt("expiry.db", limits);
  for (uint64_t c = 1; c <= 3; ++c) {
    ASSERT_TRUE(Do(Put("k", "v", Id(c, 1, 1)), sm.get()).status.ok());
  }
  now_ms += 30'000;
  ASSERT_TRUE(Do(Put("k", "v", Id(2, 2, 2)), sm.get()).status.ok());
  now_ms += 40'000;  // clients 1 and 3 idle for 70 s, client 2 for 40 s
  // Known clients do not trigger expiry; a new one does.
  ASSERT_TRUE(Do(Put("k", "v", Id(2, 3, 3)), sm.get()).status.ok());
  EXPECT_EQ(Rows(*sm, "sm_clients"), 3);
  ASSERT_TRUE(Do(Put("k", "v", Id(4, 1, 1)), sm.get()).status.ok());
  EXPECT_EQ(Rows(*sm, "sm_clients"), 2);  // clients 2 and 4
  EXPECT_EQ(Rows(*sm, "sm_client_replies"), 2);
  EXPECT_TRUE(Do(Put("k", "v", Id(2, 3, 3)), sm.get()).replayed);
}

}  // namespace
}  // namespace berth::lock::testing
