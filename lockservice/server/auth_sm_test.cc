// Users, roles and the auth audit in the state machine: changes apply
// deterministically, refusals change nothing but are audited, the audit is
// bounded, and all of it travels in snapshots.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/state_machine.h"
#include "lockservice/server/testing/temp_state_machine.h"

namespace berth::lock {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

lockpb::Command Auth(const std::string& who, lockpb::AuthCmd cmd) {
  cmd.set_who(who);
  lockpb::Command c;
  *c.mutable_auth() = std::move(cmd);
  return c;
}

lockpb::AuthCmd RoleAdd(const std::string& name) {
  lockpb::AuthCmd c;
  c.mutable_role_add()->set_name(name);
  return c;
}

lockpb::AuthCmd Grant(const std::string& role, const std::string& prefix,
                      bool read, bool write, bool lock) {
  lockpb::AuthCmd c;
  auto* g = c.mutable_role_grant_permission();
  g->set_role(role);
  g->mutable_permission()->set_prefix(prefix);
  g->mutable_permission()->set_read(read);
  g->mutable_permission()->set_write(write);
  g->mutable_permission()->set_lock(lock);
  return c;
}

lockpb::AuthCmd UserAdd(const std::string& name) {
  lockpb::AuthCmd c;
  c.mutable_user_add()->set_name(name);
  return c;
}

lockpb::AuthCmd GrantRole(const std::string& user, const std::string& role) {
  lockpb::AuthCmd c;
  c.mutable_user_grant_role()->set_user(user);
  c.mutable_user_grant_role()->set_role(role);
  return c;
}

lockpb::AuthCmd Enable() {
  lockpb::AuthCmd c;
  c.mutable_enable();
  return c;
}

class AuthSmTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen({}); }
  void Reopen(const Limits& limits) {
    sm_.reset();
    auto sm = dir_.Open(limits);
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
  }
  // Applies at the next index; returns the command's own outcome.
  absl::Status Apply(StateMachine& sm, lockpb::Command cmd) {
    cmd.set_leader_time_unix_ms(1'700'000'000'000 + sm.applied_index());
    auto r = sm.Apply(sm.applied_index() + 1, cmd);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : r.status();
  }
  absl::Status Apply(lockpb::Command cmd) { return Apply(*sm_, cmd); }
  // The setup of the e2e test: a role with read,write,lock on /app/, alice
  // with it, bob with nothing, then auth on.
  void Populate(StateMachine& sm) {
    ASSERT_TRUE(Apply(sm, Auth("user:root", RoleAdd("app-rw"))).ok());
    ASSERT_TRUE(
        Apply(sm, Auth("user:root", Grant("app-rw", "/app/", true, true, true)))
            .ok());
    ASSERT_TRUE(Apply(sm, Auth("user:root", UserAdd("alice"))).ok());
    ASSERT_TRUE(
        Apply(sm, Auth("user:root", GrantRole("alice", "app-rw"))).ok());
    ASSERT_TRUE(Apply(sm, Auth("user:root", UserAdd("bob"))).ok());
    ASSERT_TRUE(Apply(sm, Auth("user:root", Enable())).ok());
  }

  TempStateMachineDir dir_{"auth_sm"};
  std::unique_ptr<StateMachine> sm_;
};

TEST_F(AuthSmTest, ChangesBuildTheAuthState) {
  EXPECT_FALSE(sm_->auth().enabled);
  Populate(*sm_);
  const AuthState& a = sm_->auth();
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.revision, sm_->applied_index());
  ASSERT_TRUE(a.roles.contains("app-rw"));
  EXPECT_THAT(
      a.roles.at("app-rw"),
      ElementsAre(AuthPerm{"/app/", kPermRead | kPermWrite | kPermLock}));
  EXPECT_THAT(a.users.at("alice"), ElementsAre("app-rw"));
  EXPECT_TRUE(a.users.at("bob").empty());
}

TEST_F(AuthSmTest, RefusalsChangeNothingAndNameTheProblem) {
  Populate(*sm_);
  const uint64_t version = sm_->auth_version();
  absl::Status s = Apply(Auth("user:root", GrantRole("alice", "nope")));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("no role \"nope\""));
  s = Apply(Auth("user:root", GrantRole("carol", "app-rw")));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("no user \"carol\""));
  s = Apply(Auth("user:root", Grant("app-rw", "", true, false, false)));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("prefix is empty"));
  s = Apply(Auth("user:root", Grant("app-rw", "/x/", false, false, false)));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = Apply(Auth("user:root", UserAdd("alice")));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  s = Apply(Auth("user:root", UserAdd("root")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = Apply(Auth("user:root", RoleAdd("scheduler")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = Apply(Auth("user:bob", Enable()));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("user:root"));
  // Audited, but the state is as before (a new version, same content).
  EXPECT_GT(sm_->auth_version(), version);
  EXPECT_THAT(sm_->auth().users.at("alice"), ElementsAre("app-rw"));
  auto audit = sm_->AuthAudit(1);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].who(), "user:bob");
  EXPECT_EQ((*audit)[0].what(), "auth enable");
  EXPECT_THAT((*audit)[0].result(), HasSubstr("FAILED_PRECONDITION"));
}

TEST_F(AuthSmTest, AuditListsChangesNewestFirst) {
  Populate(*sm_);
  auto audit = sm_->AuthAudit(100);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<std::string> what;
  for (const auto& r : *audit) {
    what.push_back(r.what());
    EXPECT_EQ(r.who(), "user:root");
    EXPECT_EQ(r.result(), "ok");
    EXPECT_EQ(r.time_unix_ms(), 1'700'000'000'000 + int64_t(r.index()) - 1);
  }
  EXPECT_THAT(
      what,
      ElementsAre("auth enable", "user add bob", "user grant-role alice app-rw",
                  "user add alice", "role grant app-rw read,write,lock /app/",
                  "role add app-rw"));
}

TEST_F(AuthSmTest, RevokeAndDeleteCascade) {
  Populate(*sm_);
  lockpb::AuthCmd revoke;
  revoke.mutable_role_revoke_permission()->set_role("app-rw");
  revoke.mutable_role_revoke_permission()->mutable_permission()->set_prefix(
      "/app/");
  revoke.mutable_role_revoke_permission()->mutable_permission()->set_write(
      true);
  ASSERT_TRUE(Apply(Auth("user:root", revoke)).ok());
  EXPECT_THAT(sm_->auth().roles.at("app-rw"),
              ElementsAre(AuthPerm{"/app/", kPermRead | kPermLock}));
  lockpb::AuthCmd del;
  del.mutable_role_delete()->set_name("app-rw");
  ASSERT_TRUE(Apply(Auth("user:root", del)).ok());
  EXPECT_FALSE(sm_->auth().roles.contains("app-rw"));
  EXPECT_TRUE(sm_->auth().users.at("alice").empty());
}

TEST_F(AuthSmTest, AuditIsBounded) {
  Limits limits;
  limits.max_auth_audit_rows = 5;
  Reopen(limits);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(
        Apply(Auth("user:root", UserAdd("u" + std::to_string(i)))).ok());
  }
  auto audit = sm_->AuthAudit(100);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 5u);
  EXPECT_EQ(audit->front().what(), "user add u11");
  EXPECT_EQ(audit->back().what(), "user add u7");
}

TEST_F(AuthSmTest, SurvivesSnapshotRestoreAndReplicasAgree) {
  Populate(*sm_);
  auto image = sm_->Snapshot();
  ASSERT_TRUE(image.ok()) << image.status();

  TempStateMachineDir other_dir("auth_sm_other");
  auto other = other_dir.Open();
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Restore(*image).ok());
  EXPECT_TRUE((*other)->auth().enabled);
  EXPECT_THAT((*other)->auth().users.at("alice"), ElementsAre("app-rw"));
  auto a = sm_->Dump();
  auto b = (*other)->Dump();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(*a, HasSubstr("[sm_auth_audit]"));
  auto audit = (*other)->AuthAudit(100);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), 6u);

  // A replica that applies the same log from scratch ends up identical.
  TempStateMachineDir third_dir("auth_sm_third");
  auto third = third_dir.Open();
  ASSERT_TRUE(third.ok());
  Populate(**third);
  auto c = (*third)->Dump();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*a, *c);

  // And the state is read back from the file on reopen.
  Reopen({});
  EXPECT_TRUE(sm_->auth().enabled);
  EXPECT_THAT(sm_->auth().users.at("alice"), ElementsAre("app-rw"));
}

}  // namespace
}  // namespace berth::lock
