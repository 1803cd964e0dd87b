// The RBAC rules as pure functions: prefix coverage of ranges, the union of
// roles, Txn recursion, root, the built-in kinds, and disabled auth.
#include "lockservice/lockd/rbac.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/server/audit_log.h"
#include "scheduler/state/keys.h"

namespace berth::lockd {
namespace {

using lock::AuthPerm;
using lock::kPermLock;
using lock::kPermRead;
using lock::kPermWrite;
using ::testing::HasSubstr;

const std::string kEnd("\0", 1);  // range_end "\0": to the end of the space

Caller User(const std::string& name) { return Caller{true, "user", name, ""}; }
Caller Kind(const std::string& kind, const std::string& name) {
  return Caller{true, kind, name, ""};
}
Caller Anonymous() { return Caller{false, "", "", "ipv4:10.0.0.9:5000"}; }

lock::AuthState State() {
  lock::AuthState s;
  s.enabled = true;
  s.roles["app-rw"] = {{"/app/", kPermRead | kPermWrite | kPermLock}};
  s.roles["reader"] = {{"/data/", kPermRead}};
  s.roles["writer"] = {{"/data/", kPermWrite}};
  s.roles["a"] = {{"/a", kPermRead}};
  s.roles["b"] = {{"/b", kPermRead}};
  s.users["alice"] = {"app-rw"};
  s.users["bob"] = {};
  s.users["carol"] = {"reader", "writer"};
  s.users["dave"] = {"a", "b"};
  s.users["ops"] = {"scheduler"};
  return s;
}

lockpb::Command Put(const std::string& key, int64_t lease = 0) {
  lockpb::Command c;
  c.mutable_put()->set_key(key);
  c.mutable_put()->set_lease(lease);
  return c;
}

TEST(Rbac, DisabledAllowsEverythingToEveryone) {
  lock::AuthState s = State();
  s.enabled = false;
  for (const Caller& c : {Anonymous(), User("bob"), Kind("server", "1")}) {
    EXPECT_TRUE(CheckKeys(s, c, kPermRead, "read", "/x", kEnd).ok());
    EXPECT_TRUE(CheckCommand(s, c, Put("/anything")).ok());
    EXPECT_TRUE(CheckClusterAdmin(s, c, "add a member").ok());
    EXPECT_TRUE(CheckAuthAdmin(s, c, "add a user").ok());
  }
  // Enabling always needs root, so that someone can administer it after.
  EXPECT_EQ(CheckAuthEnable(User("bob")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(CheckAuthEnable(Anonymous()).message(), HasSubstr("root"));
  EXPECT_TRUE(CheckAuthEnable(User("root")).ok());
}

TEST(Rbac, NoCertificateIsUnauthenticated) {
  absl::Status s = CheckCommand(State(), Anonymous(), Put("/app/x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(s.message(), HasSubstr("auth is enabled"));
  EXPECT_THAT(s.message(), HasSubstr("client certificate"));
  EXPECT_EQ(
      CheckKeys(State(), Anonymous(), kPermRead, "read", "/app/x", "").code(),
      absl::StatusCode::kUnauthenticated);
}

TEST(Rbac, RootMayDoEverything) {
  const Caller root = User("root");
  EXPECT_TRUE(CheckKeys(State(), root, kPermRead, "read", "\0", kEnd).ok());
  lockpb::Command compact;
  compact.mutable_compact()->set_revision(5);
  EXPECT_TRUE(CheckCommand(State(), root, compact).ok());
  EXPECT_TRUE(CheckClusterAdmin(State(), root, "add a member").ok());
  EXPECT_TRUE(CheckAuthAdmin(State(), root, "add a user").ok());
}

TEST(Rbac, PrefixCoverageOfKeysAndRanges) {
  const std::vector<AuthPerm> p = {{"/app/", kPermRead}};
  EXPECT_TRUE(Covers(p, kPermRead, "/app/x", ""));
  EXPECT_TRUE(Covers(p, kPermRead, "/app/", ""));
  EXPECT_FALSE(Covers(p, kPermRead, "/app", ""));
  EXPECT_FALSE(Covers(p, kPermWrite, "/app/x", ""));
  // The prefix's own range and ranges inside it.
  EXPECT_TRUE(Covers(p, kPermRead, "/app/", "/app0"));
  EXPECT_TRUE(Covers(p, kPermRead, "/app/a", "/app/b"));
  // Ranges that leave it, or run to the end of the key space.
  EXPECT_FALSE(Covers(p, kPermRead, "/app/", "/app1"));
  EXPECT_FALSE(Covers(p, kPermRead, "/ap", "/app/z"));
  EXPECT_FALSE(Covers(p, kPermRead, "/app/", kEnd));
  // A prefix ending in 0xff bytes.
  const std::vector<AuthPerm> ff = {{std::string("/a\xff", 3), kPermRead}};
  EXPECT_TRUE(Covers(ff, kPermRead, std::string("/a\xff", 3), "/b"));
  EXPECT_FALSE(Covers(ff, kPermRead, std::string("/a\xff", 3), "/b0"));
}

TEST(Rbac, AdjacentPrefixesCoverARangeTogether) {
  lock::AuthState s = State();
  // dave reads /a... and /b...: [/a, /c) is covered by the two together.
  EXPECT_TRUE(CheckKeys(s, User("dave"), kPermRead, "read", "/a", "/c").ok());
  EXPECT_FALSE(CheckKeys(s, User("dave"), kPermRead, "read", "/a", "/d").ok());
}

TEST(Rbac, RolesAreUnited) {
  lock::AuthState s = State();
  const Caller carol = User("carol");  // reader + writer on /data/
  EXPECT_TRUE(CheckKeys(s, carol, kPermRead, "read", "/data/x", "").ok());
  EXPECT_TRUE(CheckCommand(s, carol, Put("/data/x")).ok());
  EXPECT_FALSE(CheckCommand(s, carol, Put("/app/x")).ok());
}

TEST(Rbac, DenialsNameUserOperationKeyAndMissingPermission) {
  absl::Status s = CheckCommand(State(), User("alice"), Put("/other"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "user \"alice\" may not write \"/other\": no role grants write on "
            "it (roles: app-rw)");
  s = CheckKeys(State(), User("bob"), kPermRead, "read", "/app/x", "");
  EXPECT_EQ(s.message(),
            "user \"bob\" may not read \"/app/x\": no role grants read on it "
            "(roles: none)");
  s = CheckKeys(State(), User("zed"), kPermRead, "read", "/app/x", "");
  EXPECT_THAT(s.message(), HasSubstr("there is no user \"zed\""));
}

TEST(Rbac, TxnIsCheckedOpByOp) {
  const Caller alice = User("alice");
  lockpb::Command cmd;
  lockpb::TxnRequest* txn = cmd.mutable_txn();
  txn->add_compare()->set_key("/app/c");
  txn->add_success()->mutable_request_put()->set_key("/app/p");
  txn->add_failure()->mutable_request_range()->set_key("/app/r");
  EXPECT_TRUE(CheckCommand(State(), alice, cmd).ok());

  lockpb::Command bad_compare = cmd;
  bad_compare.mutable_txn()->add_compare()->set_key("/secret");
  absl::Status s = CheckCommand(State(), alice, bad_compare);
  EXPECT_THAT(s.message(), HasSubstr("may not compare \"/secret\""));

  lockpb::Command bad_delete = cmd;
  auto* del =
      bad_delete.mutable_txn()->add_failure()->mutable_request_delete_range();
  del->set_key("/app/");
  del->set_range_end(kEnd);
  s = CheckCommand(State(), alice, bad_delete);
  EXPECT_THAT(s.message(),
              HasSubstr("may not delete every key from \"/app/\""));

  lockpb::Command guarded = cmd;
  guarded.mutable_txn()->mutable_guard()->set_lock_name("/other/lock");
  s = CheckCommand(State(), alice, guarded);
  EXPECT_THAT(s.message(), HasSubstr("no role grants lock"));
}

TEST(Rbac, LocksElectionsAndLeases) {
  const Caller alice = User("alice");
  lockpb::Command lock;
  lock.mutable_lock_acquire()->set_name("/app/l");
  EXPECT_TRUE(CheckCommand(State(), alice, lock).ok());
  lock.mutable_lock_acquire()->set_name("/other/l");
  EXPECT_FALSE(CheckCommand(State(), alice, lock).ok());
  lockpb::Command proclaim;
  proclaim.mutable_proclaim()->set_name("/other/e");
  EXPECT_FALSE(CheckCommand(State(), alice, proclaim).ok());
  // Leases are anyone's (as in etcd); attaching a key needs write on it.
  lockpb::Command grant;
  grant.mutable_lease_grant()->set_ttl_ms(5000);
  EXPECT_TRUE(CheckCommand(State(), User("bob"), grant).ok());
  EXPECT_FALSE(CheckCommand(State(), User("bob"), Put("/app/x", 7)).ok());
  EXPECT_TRUE(CheckCommand(State(), alice, Put("/app/x", 7)).ok());
}

TEST(Rbac, ALeaseIsRevokedOnlyByWhoMayUndoWhatItHolds) {
  const std::vector<std::string> none;
  // alice's own session: a key she writes and a lock she takes.
  EXPECT_TRUE(
      CheckLeaseRevoke(State(), User("alice"), 7, {"/app/x"}, {"/app/l"}).ok());
  // bob may not end it: that would delete /app/x and drop alice's lock.
  absl::Status key =
      CheckLeaseRevoke(State(), User("bob"), 7, {"/app/x"}, none);
  EXPECT_EQ(key.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(key.message(),
              HasSubstr("user \"bob\" may not revoke lease 7: it holds the "
                        "key \"/app/x\""));
  absl::Status lock =
      CheckLeaseRevoke(State(), User("carol"), 7, none, {"/app/l"});
  EXPECT_EQ(lock.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(lock.message(), HasSubstr("holds or waits for the lock"));
  // Nor may a scheduler end a lease outside its keys; its own election
  // session (the leader key lives under the lock's name) it may.
  EXPECT_FALSE(
      CheckLeaseRevoke(State(), Kind("scheduler", "s1"), 7, {"/app/x"}, none)
          .ok());
  EXPECT_TRUE(CheckLeaseRevoke(State(), Kind("scheduler", "s1"), 8,
                               {"/berth/scheduler/leader/8"},
                               {"/berth/scheduler/leader"})
                  .ok());
  // An empty lease is anyone's; root and servers end any; agents are the
  // node authorizer's; with auth off nothing is checked.
  EXPECT_TRUE(CheckLeaseRevoke(State(), User("bob"), 9, none, none).ok());
  EXPECT_TRUE(
      CheckLeaseRevoke(State(), User("root"), 7, {"/app/x"}, {"/app/l"}).ok());
  EXPECT_TRUE(
      CheckLeaseRevoke(State(), Kind("server", "1"), 7, {"/app/x"}, none).ok());
  EXPECT_EQ(CheckLeaseRevoke(State(), Anonymous(), 9, none, none).code(),
            absl::StatusCode::kUnauthenticated);
  lock::AuthState off = State();
  off.enabled = false;
  EXPECT_TRUE(CheckLeaseRevoke(off, User("bob"), 7, {"/app/x"}, none).ok());
}

TEST(Rbac, CompactionAndAdministrationNeedRootOrServer) {
  lockpb::Command compact;
  compact.mutable_compact()->set_revision(5);
  EXPECT_EQ(CheckCommand(State(), User("alice"), compact).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckCommand(State(), Kind("server", "lockd-1"), compact).ok());
  EXPECT_FALSE(CheckClusterAdmin(State(), User("alice"), "add a member").ok());
  EXPECT_TRUE(CheckClusterAdmin(State(), Kind("server", "lockd-1"), "x").ok());
  // Users and roles are root's alone.
  EXPECT_FALSE(CheckAuthAdmin(State(), Kind("server", "lockd-1"), "x").ok());
  EXPECT_FALSE(CheckAuthAdmin(State(), User("alice"), "x").ok());
  // A server certificate has no key permissions of its own.
  EXPECT_FALSE(
      CheckCommand(State(), Kind("server", "lockd-1"), Put("/a")).ok());
  // Leader-internal commands never come from clients.
  lockpb::Command expire;
  expire.mutable_lease_expire()->set_id(1);
  EXPECT_FALSE(CheckCommand(State(), User("alice"), expire).ok());
}

TEST(Rbac, AgentsKeepTheNodeAuthorizer) {
  // RBAC lets agents through; Core::Authorize applies node_authorizer.h.
  const Caller agent = Kind("agent", "n1");
  EXPECT_TRUE(CheckKeys(State(), agent, kPermRead, "read", "/", kEnd).ok());
  EXPECT_TRUE(CheckCommand(State(), agent, Put("/berth/nodes/n1")).ok());
}

TEST(Rbac, SchedulerRoleCoversTheSchedulersKeys) {
  const Caller sched = Kind("scheduler", "s1");
  const lock::AuthState s = State();
  // Load and Watch of its whole key space.
  std::string end = sched::kBerthPrefix;
  end.back() = static_cast<char>(end.back() + 1);
  EXPECT_TRUE(
      CheckKeys(s, sched, kPermRead, "read", sched::kBerthPrefix, end).ok());
  for (const char* prefix :
       {sched::kJobsPrefix, sched::kSchedAllocsPrefix,
        sched::kAgentAllocsPrefix, sched::kStatusPrefix, sched::kNodesPrefix,
        sched::kDrainPrefix, sched::kNamespacesPrefix, sched::kCronPrefix,
        sched::kEventsPrefix, sched::kAclPrefix, sched::kAuditPrefix}) {
    EXPECT_TRUE(CheckCommand(s, sched, Put(std::string(prefix) + "k")).ok())
        << prefix;
  }
  EXPECT_TRUE(CheckCommand(s, sched, Put(sched::kAclConfigKey)).ok());
  lockpb::Command campaign;
  campaign.mutable_lock_acquire()->set_name(sched::kLeaderElection);
  EXPECT_TRUE(CheckCommand(s, sched, campaign).ok());
  // Not lockd's own keys, nor anyone else's.
  EXPECT_FALSE(CheckCommand(s, sched, Put("/berth/_lockd/members/1")).ok());
  EXPECT_FALSE(CheckCommand(s, sched, Put("/app/x")).ok());
  // A user given the built-in role gets the same.
  EXPECT_TRUE(CheckCommand(s, User("ops"), campaign).ok());
}

TEST(Rbac, WhoNamesTheCaller) {
  EXPECT_EQ(User("root").Who(), "user:root");
  EXPECT_EQ(Kind("scheduler", "s1").Who(), "scheduler:s1");
  EXPECT_EQ(Anonymous().Who(), "anonymous@ipv4:10.0.0.9:5000");
}

}  // namespace
}  // namespace berth::lockd
