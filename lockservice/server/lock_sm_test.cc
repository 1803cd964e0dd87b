// Locks and elections in the state machine.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock::testing {
namespace {

using ::testing::HasSubstr;

class LockSmTest : public SmTest {
 protected:
  lockpb::LockAcquireResult Acquire(const std::string& name, int64_t lease,
                                    int64_t delay_ms = 0) {
    ApplyResult r = Ok(AcquireCmd(name, lease, "v", false, 0, delay_ms));
    last_request_id = sm_->applied_index();
    return r.result.lock();
  }
  uint64_t last_request_id = 0;
};

TEST_F(LockSmTest, WaitersAreGrantedInArrivalOrder) {
  int64_t a = NewLease(), b = NewLease(), c = NewLease();
  lockpb::LockAcquireResult ga = Acquire("L", a);
  ASSERT_TRUE(ga.granted());
  lockpb::LockAcquireResult wb = Acquire("L", b);
  uint64_t b_request = last_request_id;
  lockpb::LockAcquireResult wc = Acquire("L", c);
  EXPECT_FALSE(wb.granted());
  EXPECT_EQ(wb.queue_position(), 0);
  EXPECT_EQ(wc.queue_position(), 1);
  EXPECT_EQ(sm_->Holder("L")->waiters(), 2);

  ApplyResult r = Ok(ReleaseCmd("L", ga.token()));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  EXPECT_EQ(r.locks.grants[0].lease, b);
  EXPECT_EQ(r.locks.grants[0].request_id, b_request);
  EXPECT_EQ(sm_->Holder("L")->lease(), b);

  r = Ok(ReleaseCmd("L", r.locks.grants[0].token));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  EXPECT_EQ(r.locks.grants[0].lease, c);
}

TEST_F(LockSmTest, TokenIsTheGrantRevisionAndStrictlyIncreases) {
  std::vector<int64_t> leases = {NewLease(), NewLease(), NewLease()};
  int64_t last = 0;
  for (int round = 0; round < 9; ++round) {
    int64_t lease = leases[round % leases.size()];
    lockpb::LockAcquireResult g = Acquire("T", lease);
    ASSERT_TRUE(g.granted());
    EXPECT_GT(g.token(), last);
    last = g.token();
    // The holder key was written by the grant, at the token's revision.
    std::optional<lockpb::KeyValue> kv = Get(g.key());
    ASSERT_TRUE(kv.has_value());
    EXPECT_EQ(kv->mod_revision(), g.token());
    EXPECT_EQ(kv->lease(), lease);
    Ok(PutCmd("unrelated", std::to_string(round)));  // revisions move on
    Ok(ReleaseCmd("T", g.token()));
  }
}

TEST_F(LockSmTest, WaiterWhoseLeaseLapsedWhileQueuedIsSkipped) {
  int64_t a = NewLease(60'000);
  int64_t b = NewLease(5'000);
  int64_t c = NewLease(60'000);
  lockpb::LockAcquireResult ga = Acquire("R", a);
  Acquire("R", b);
  Acquire("R", c);
  // b's deadline passes in leader time; the leader has not yet proposed its
  // expiry when a releases.
  now_ms += 6'000;
  ApplyResult r = Ok(ReleaseCmd("R", ga.token()));
  ASSERT_EQ(r.locks.dropped.size(), 1u);
  EXPECT_EQ(r.locks.dropped[0].lease, b);
  EXPECT_THAT(r.locks.dropped[0].reason.message(), HasSubstr("expired"));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  EXPECT_EQ(r.locks.grants[0].lease, c);
}

TEST_F(LockSmTest, ExpiredHolderTriggersLockDelay) {
  int64_t a = NewLease(5'000);
  int64_t b = NewLease(600'000);
  ASSERT_TRUE(Acquire("D", a, /*delay_ms=*/3'000).granted());
  Acquire("D", b);

  now_ms += 5'000;
  int64_t expired_at = now_ms;
  ApplyResult r = Ok(ExpireCmd(a));
  EXPECT_TRUE(r.locks.grants.empty());
  EXPECT_FALSE(sm_->Holder("D")->held());
  EXPECT_EQ(*sm_->NextLockDelayEnd(), expired_at + 3'000);
  // A TryLock from a third party is refused during the delay, too.
  int64_t c = NewLease(600'000);
  EXPECT_FALSE(Ok(AcquireCmd("D", c, "", true)).result.lock().granted());

  now_ms = expired_at + 2'999;
  EXPECT_TRUE(Ok(TickCmd()).locks.grants.empty());
  // Any later command carries the leader's time; this one lets b in.
  now_ms = expired_at + 3'000;
  r = Ok(PutCmd("unrelated", "x"));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  EXPECT_EQ(r.locks.grants[0].lease, b);
  EXPECT_EQ(*sm_->NextLockDelayEnd(), 0);
}

TEST_F(LockSmTest, CleanUnlockAndRevokeHaveNoLockDelay) {
  int64_t a = NewLease(), b = NewLease(), c = NewLease();
  lockpb::LockAcquireResult ga = Acquire("N", a, 60'000);
  Acquire("N", b, 60'000);
  ApplyResult r = Ok(ReleaseCmd("N", ga.token()));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  Acquire("N", c, 60'000);
  r = Ok(RevokeCmd(b));
  ASSERT_EQ(r.locks.grants.size(), 1u);
  EXPECT_EQ(r.locks.grants[0].lease, c);
}

TEST_F(LockSmTest, TryLockFailsWithoutQueueing) {
  int64_t a = NewLease(), b = NewLease();
  Acquire("Q", a);
  ApplyResult r = Ok(AcquireCmd("Q", b, "", /*try_only=*/true));
  EXPECT_FALSE(r.result.lock().granted());
  EXPECT_EQ(sm_->Holder("Q")->waiters(), 0);
}

TEST_F(LockSmTest, ReacquireIsIdempotent) {
  int64_t a = NewLease(), b = NewLease();
  lockpb::LockAcquireResult first = Acquire("I", a);
  lockpb::LockAcquireResult again = Acquire("I", a);
  EXPECT_TRUE(again.granted());
  EXPECT_EQ(again.token(), first.token());
  Acquire("I", b);
  EXPECT_EQ(Acquire("I", b).queue_position(), 0);
  EXPECT_EQ(sm_->Holder("I")->waiters(), 1);
}

TEST_F(LockSmTest, WaiterTimeoutAndCancel) {
  int64_t a = NewLease(600'000), b = NewLease(600'000), c = NewLease(600'000);
  lockpb::LockAcquireResult ga = Acquire("W", a);
  Ok(AcquireCmd("W", b, "", false, /*wait_deadline_ms=*/now_ms + 1'000));
  Acquire("W", c);
  EXPECT_EQ(Do(CancelCmd("W", a)).status.code(), absl::StatusCode::kNotFound);
  ApplyResult cancel = Ok(CancelCmd("W", c));
  ASSERT_EQ(cancel.locks.dropped.size(), 1u);
  EXPECT_EQ(cancel.locks.dropped[0].reason.code(),
            absl::StatusCode::kCancelled);

  now_ms += 1'000;
  ApplyResult r = Ok(ReleaseCmd("W", ga.token()));
  ASSERT_EQ(r.locks.dropped.size(), 1u);
  EXPECT_EQ(r.locks.dropped[0].reason.code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(r.locks.grants.empty());
  EXPECT_FALSE(sm_->Holder("W")->held());
}

TEST_F(LockSmTest, GuardedTxnAndCheckTokenRejectStaleHolders) {
  int64_t a = NewLease(), b = NewLease();
  int64_t stale = Acquire("G", a).token();
  Ok(ReleaseCmd("G", stale));
  int64_t current = Acquire("G", b).token();

  auto guarded = [](int64_t token) {
    lockpb::Command c;
    c.mutable_txn()->mutable_guard()->set_lock_name("G");
    c.mutable_txn()->mutable_guard()->set_token(token);
    lockpb::PutRequest* p =
        c.mutable_txn()->add_success()->mutable_request_put();
    p->set_key("resource");
    p->set_value(std::to_string(token));
    return c;
  };
  ApplyResult r = Do(guarded(stale));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status.message(), HasSubstr("is stale"));
  EXPECT_FALSE(Get("resource").has_value());

  EXPECT_TRUE(Ok(guarded(current)).result.txn().succeeded());
  EXPECT_EQ(Get("resource")->value(), std::to_string(current));

  EXPECT_FALSE(sm_->CheckToken("G", stale)->valid());
  EXPECT_TRUE(sm_->CheckToken("G", current)->valid());
  EXPECT_EQ(Do(ReleaseCmd("G", stale)).status.code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LockSmTest, HolderKeysChangeOnlyThroughLockCommands) {
  int64_t a = NewLease();
  lockpb::LockAcquireResult g = Acquire("H", a);
  ApplyResult put = Do(PutCmd(g.key(), "hijack"));
  EXPECT_EQ(put.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(put.status.message(), HasSubstr("holder key of lock"));
  ApplyResult del = Do(DeleteCmd("H/", "H0"));
  EXPECT_EQ(del.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Get(g.key()).has_value());
  Ok(ReleaseCmd("H", g.token()));
  Ok(PutCmd(g.key(), "free now"));
}

TEST_F(LockSmTest, AcquireWithExpiredLeaseIsRejected) {
  int64_t a = NewLease(2'000);
  now_ms += 2'000;
  ApplyResult r = Do(AcquireCmd("X", a));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status.message(), HasSubstr("expired"));
  EXPECT_EQ(Do(AcquireCmd("", a)).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LockSmTest, ElectionsFollowTheLock) {
  int64_t a = NewLease(), b = NewLease();
  lockpb::LockAcquireResult la =
      Ok(AcquireCmd("elect", a, "alpha")).result.lock();
  ASSERT_TRUE(la.granted());
  EXPECT_FALSE(Ok(AcquireCmd("elect", b, "beta")).result.lock().granted());

  absl::StatusOr<lockpb::LeaderResponse> leader = sm_->Leader("elect");
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(leader->kv().value(), "alpha");
  EXPECT_EQ(leader->leader().rev(), la.token());

  Ok(ProclaimCmd("elect", la.token(), "alpha-2"));
  EXPECT_EQ(sm_->Leader("elect")->kv().value(), "alpha-2");
  EXPECT_EQ(Do(ProclaimCmd("elect", la.token() + 1000, "evil")).status.code(),
            absl::StatusCode::kFailedPrecondition);

  ApplyResult resign = Ok(ReleaseCmd("elect", la.token()));  // Resign
  ASSERT_EQ(resign.locks.grants.size(), 1u);
  leader = sm_->Leader("elect");
  EXPECT_EQ(leader->kv().value(), "beta");
  EXPECT_EQ(leader->leader().lease(), b);

  // Observers watch the election prefix and see every change of leader.
  absl::StatusOr<std::vector<lockpb::Event>> ev =
      sm_->EventsSince(1, "elect/", "elect0", 0);
  ASSERT_TRUE(ev.ok()) << ev.status();
  std::vector<std::string> seen;
  for (const lockpb::Event& e : *ev) {
    seen.push_back(
        std::string(e.type() == lockpb::Event::PUT ? "put " : "del ") +
        e.kv().value());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("put alpha", "put alpha-2", "del ",
                                           "put beta"));
}

}  // namespace
}  // namespace berth::lock::testing
