// The ACL decision table: off, anonymous, admins, users with their own and
// "*" grants, agents, and the enforcement switch.
#include "scheduler/server/acl_policy.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

Who User(const std::string& name) { return tls::PeerIdentity{name, "user"}; }
Who Kind(const std::string& kind) { return tls::PeerIdentity{"x1", kind}; }

AclState Enabled() {
  AclState acl;
  acl.enabled = true;
  acl.grants["team"]["alice"] = {kRightRead | kRightSubmit | kRightStop, 1};
  acl.grants["team"]["bob"] = {kRightRead, 2};
  acl.grants["default"]["*"] = {kRightRead, 3};
  acl.grants["default"]["bob"] = {kRightSubmit, 4};
  return acl;
}

TEST(AclPolicyTest, OffAllowsEveryoneEverything) {
  AclState off = Enabled();
  off.enabled = false;
  for (const Who& who : {Who(), User("carol"), Kind("agent")}) {
    EXPECT_TRUE(AuthorizeRight(off, who, kRightSubmit, "team").ok());
    EXPECT_TRUE(AuthorizeAdmin(off, who, "DrainNode").ok());
    EXPECT_TRUE(AuthorizeAuthenticated(off, who).ok());
    EXPECT_EQ(RightsIn(off, who, "team"), kAllRights);
  }
}

TEST(AclPolicyTest, OnRefusesACallerWithoutACertificate) {
  const AclState acl = Enabled();
  for (const absl::Status& s :
       {AuthorizeRight(acl, Who(), kRightRead, "default"),
        AuthorizeAdmin(acl, Who(), "CreateNamespace"),
        AuthorizeAuthenticated(acl, Who())}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
    EXPECT_TRUE(absl::StrContains(
        s.message(), "ACLs are enabled; this call needs a client certificate"))
        << s;
  }
  EXPECT_EQ(RightsIn(acl, Who(), "default"), 0u);
}

TEST(AclPolicyTest, UsersHoldTheUnionOfTheirOwnAndWildcardGrants) {
  const AclState acl = Enabled();
  EXPECT_EQ(RightsIn(acl, User("alice"), "team"), kAllRights);
  EXPECT_EQ(RightsIn(acl, User("bob"), "team"), kRightRead);
  EXPECT_EQ(RightsIn(acl, User("bob"), "default"), kRightRead | kRightSubmit);
  EXPECT_EQ(RightsIn(acl, User("carol"), "default"), kRightRead);
  EXPECT_EQ(RightsIn(acl, User("carol"), "team"), 0u);
  EXPECT_EQ(RightsIn(acl, User("alice"), "unknown"), 0u);
  EXPECT_TRUE(AuthorizeRight(acl, User("bob"), kRightRead, "team").ok());
  EXPECT_TRUE(AuthorizeRight(acl, User("carol"), kRightRead, "default").ok());

  absl::Status s = AuthorizeRight(acl, User("bob"), kRightSubmit, "team");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "user \"bob\" has no \"submit\" right in namespace \"team\" "
            "(berth acl grant bob team submit)");
  s = AuthorizeRight(acl, User("carol"), kRightStop, "default");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(s.message(), "\"stop\"")) << s;
  // A "*" in another namespace grants nothing here.
  EXPECT_FALSE(AuthorizeRight(acl, User("carol"), kRightRead, "team").ok());
}

TEST(AclPolicyTest, UsersAreNotAdmins) {
  const AclState acl = Enabled();
  absl::Status s = AuthorizeAdmin(acl, User("alice"), "DrainNode");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(
      s.message(), "user \"alice\" may not call DrainNode: with ACLs enabled"))
      << s;
  EXPECT_TRUE(AuthorizeAuthenticated(acl, User("carol")).ok());
}

TEST(AclPolicyTest, RootSchedulersAndServersAreAdmins) {
  const AclState acl = Enabled();
  for (const Who& who : {User("root"), Kind("scheduler"), Kind("server")}) {
    EXPECT_TRUE(IsAclAdmin(who));
    EXPECT_TRUE(AuthorizeAdmin(acl, who, "DrainNode").ok());
    EXPECT_TRUE(AuthorizeRight(acl, who, kRightStop, "anywhere").ok());
    EXPECT_TRUE(AuthorizeAclSwitch(who).ok());
  }
  // "root" is an admin only as a user certificate.
  EXPECT_FALSE(IsAclAdmin(tls::PeerIdentity{"root", "agent"}));
  EXPECT_FALSE(IsAclAdmin(tls::PeerIdentity{"root", ""}));
  EXPECT_FALSE(IsAclAdmin(Who()));
}

TEST(AclPolicyTest, AgentsMayReadButNothingElse) {
  const AclState acl = Enabled();
  EXPECT_TRUE(AuthorizeRight(acl, Kind("agent"), kRightRead, "team").ok());
  absl::Status s = AuthorizeRight(acl, Kind("agent"), kRightSubmit, "team");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(s.message(), "agent \"x1\"")) << s;
  EXPECT_EQ(AuthorizeAdmin(acl, Kind("agent"), "DrainNode").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthorizeAclSwitch(Kind("agent")).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AclPolicyTest, CertificatesOfNoKindHoldNothing) {
  AclState acl = Enabled();
  acl.grants["team"]["mystery"] = {kAllRights, 5};
  const Who no_kind = tls::PeerIdentity{"mystery", ""};
  EXPECT_EQ(RightsIn(acl, no_kind, "team"), 0u);
  EXPECT_EQ(AuthorizeRight(acl, no_kind, kRightRead, "team").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AclPolicyTest, OnlyAnAdminIdentitySwitchesEvenWhileOff) {
  EXPECT_EQ(AuthorizeAclSwitch(Who()).code(),
            absl::StatusCode::kUnauthenticated);
  absl::Status s = AuthorizeAclSwitch(User("alice"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(s.message(), "certificate named \"root\""))
      << s;
}

}  // namespace
}  // namespace berth::sched
