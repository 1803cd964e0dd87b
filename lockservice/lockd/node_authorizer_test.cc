// The node authorizer's rules on a real state machine: what an agent's
// certificate may change, and that each refusal names the node, the key or
// command, and the rule.
#include "lockservice/lockd/node_authorizer.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/testing/temp_state_machine.h"
#include "scheduler/state/keys.h"

namespace berth::lockd {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kFresh = 100;      // no keys, no locks
constexpr int64_t kOwn = 200;        // holds /berth/nodes/n1
constexpr int64_t kScheduler = 300;  // holds a lock
constexpr int64_t kWaiting = 400;    // queued for that lock

class NodeAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<lock::StateMachine>> sm = dir_.Open();
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
    // What the scheduler and the agent would have written, applied
    // directly (the authorizer judges RPCs, not the log).
    Put(sched::AgentAllocKey("n1", "default.web.0.1"), 0);
    Put(sched::AgentAllocKey("n2", "default.web.1.1"), 0);
    for (int64_t id : {kFresh, kOwn, kScheduler, kWaiting}) Grant(id);
    Put(sched::NodeKey("n1"), kOwn);
    Acquire(kScheduler, true);
    Acquire(kWaiting, false);
  }
  void TearDown() override { sm_.reset(); }

  void Apply(lockpb::Command cmd) {
    cmd.set_leader_time_unix_ms(1'700'000'000'000);
    absl::StatusOr<lock::ApplyResult> r = sm_->Apply(++index_, cmd);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->status.ok()) << r->status;
  }
  void Put(const std::string& key, int64_t lease) {
    lockpb::Command cmd;
    cmd.mutable_put()->set_key(key);
    cmd.mutable_put()->set_lease(lease);
    Apply(cmd);
  }
  void Grant(int64_t id) {
    lockpb::Command cmd;
    cmd.mutable_lease_grant()->set_id(id);
    cmd.mutable_lease_grant()->set_ttl_ms(60'000);
    Apply(cmd);
  }
  void Acquire(int64_t lease, bool first) {
    lockpb::Command cmd;
    cmd.mutable_lock_acquire()->set_name("/berth/scheduler/leader");
    cmd.mutable_lock_acquire()->set_lease(lease);
    cmd.mutable_lock_acquire()->set_try_only(first);
    Apply(cmd);
  }

  absl::Status AsN1(const lockpb::Command& cmd) {
    return AuthorizeAgentCommand("n1", cmd, *sm_);
  }
  absl::Status PutAsN1(const std::string& key, int64_t lease = 0) {
    lockpb::Command cmd;
    cmd.mutable_put()->set_key(key);
    cmd.mutable_put()->set_lease(lease);
    return AsN1(cmd);
  }
  absl::Status RevokeAsN1(int64_t lease) {
    lockpb::Command cmd;
    cmd.mutable_lease_revoke()->set_id(lease);
    return AsN1(cmd);
  }

  lock::TempStateMachineDir dir_{"node_authorizer"};
  std::unique_ptr<lock::StateMachine> sm_;
  uint64_t index_ = 0;
};

TEST_F(NodeAuthorizerTest, PrefixesMatchTheSchedulersKeys) {
  EXPECT_EQ(kAuthzNodesPrefix, std::string(sched::kNodesPrefix));
  EXPECT_EQ(kAuthzAgentAllocsPrefix, std::string(sched::kAgentAllocsPrefix));
  EXPECT_EQ(kAuthzStatusPrefix, std::string(sched::kStatusPrefix));
  EXPECT_EQ(sched::AgentAllocKey("n1", "x"),
            absl::StrCat(kAuthzAgentAllocsPrefix, "n1/x"));
}

TEST_F(NodeAuthorizerTest, ItsNodeKeyAndItsAllocationsStatus) {
  EXPECT_TRUE(PutAsN1(sched::NodeKey("n1")).ok());
  EXPECT_TRUE(PutAsN1(sched::StatusKey("default.web.0.1")).ok());
  absl::Status other = PutAsN1(sched::NodeKey("n2"));
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.message(), HasSubstr("node \"n1\""));
  EXPECT_THAT(other.message(), HasSubstr("\"/berth/nodes/n2\""));
  EXPECT_THAT(other.message(), HasSubstr("only its node key"));
  absl::Status elsewhere = PutAsN1(sched::StatusKey("default.web.1.1"));
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(elsewhere.message(), HasSubstr("is not placed on it"));
  for (const std::string& key :
       {std::string("/berth/status/default.web.0.1/x"),
        std::string("/berth/status/"), sched::JobKey("default", "web"),
        std::string("/berth/nodes/n1x"), std::string("/other")}) {
    EXPECT_EQ(PutAsN1(key).code(), absl::StatusCode::kPermissionDenied) << key;
  }
}

TEST_F(NodeAuthorizerTest, OnlyLeasesItOwns) {
  EXPECT_TRUE(PutAsN1(sched::NodeKey("n1"), kFresh).ok());
  EXPECT_TRUE(PutAsN1(sched::NodeKey("n1"), kOwn).ok());
  absl::Status held = PutAsN1(sched::NodeKey("n1"), kScheduler);
  EXPECT_EQ(held.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(held.message(), HasSubstr("use lease 300, which is another's"));
  EXPECT_TRUE(RevokeAsN1(kFresh).ok());
  EXPECT_TRUE(RevokeAsN1(kOwn).ok());
  EXPECT_TRUE(RevokeAsN1(999).ok());  // the state machine says NotFound
  EXPECT_EQ(RevokeAsN1(kScheduler).code(), absl::StatusCode::kPermissionDenied);
  absl::Status waiting = RevokeAsN1(kWaiting);
  EXPECT_THAT(waiting.message(), HasSubstr("holds or waits for a lock"));
  EXPECT_EQ(AuthorizeAgentLease("n2", kOwn, *sm_).code(),
            absl::StatusCode::kPermissionDenied);
  lockpb::Command keepalive;
  keepalive.mutable_lease_keepalive()->set_id(kScheduler);
  EXPECT_EQ(AsN1(keepalive).code(), absl::StatusCode::kPermissionDenied);
  lockpb::Command grant;
  grant.mutable_lease_grant()->set_ttl_ms(10'000);
  EXPECT_TRUE(AsN1(grant).ok());
}

TEST_F(NodeAuthorizerTest, DeletesOfSingleKeysAndTxnsOfAllowedWrites) {
  lockpb::Command del;
  del.mutable_delete_range()->set_key(sched::NodeKey("n1"));
  EXPECT_TRUE(AsN1(del).ok());
  del.mutable_delete_range()->set_range_end(sched::NodeKey("n1") + "\xff");
  absl::Status range = AsN1(del);
  EXPECT_EQ(range.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(range.message(), HasSubstr("delete the range"));

  lockpb::Command txn;
  lockpb::TxnRequest* t = txn.mutable_txn();
  t->add_compare()->set_key(sched::NodeKey("n2"));
  t->add_success()->mutable_request_put()->set_key(
      sched::StatusKey("default.web.0.1"));
  t->add_failure()->mutable_request_range()->set_key("/berth/");
  EXPECT_TRUE(AsN1(txn).ok());
  t->add_failure()->mutable_request_put()->set_key(sched::NodeKey("n2"));
  EXPECT_EQ(AsN1(txn).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(NodeAuthorizerTest, NoLocksElectionsOrCompaction) {
  lockpb::Command lock;
  lock.mutable_lock_acquire()->set_name("/berth/scheduler/leader");
  lock.mutable_lock_acquire()->set_lease(kFresh);
  absl::Status s = AsN1(lock);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("may not lock_acquire"));
  lockpb::Command compact;
  compact.mutable_compact()->set_revision(1);
  EXPECT_THAT(AsN1(compact).message(), HasSubstr("may not compact"));
  lockpb::Command proclaim;
  proclaim.mutable_proclaim()->set_name("/berth/scheduler/leader");
  EXPECT_EQ(AsN1(proclaim).code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace berth::lockd
