// The ACL vocabulary (rights, principals), their keys, and how the mirror
// follows grants and the enforcement switch.
#include "scheduler/state/acl.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/acl.pb.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::sched {
namespace {

TEST(AclRightsTest, ParseNamesAndRefuseUnknownOrNone) {
  absl::StatusOr<Rights> r = ParseRights({"read", "Submit", " stop "});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, kAllRights);
  EXPECT_EQ(RightNames(*r),
            (std::vector<std::string>{"read", "submit", "stop"}));
  EXPECT_EQ(RightNames(kRightStop), std::vector<std::string>{"stop"});
  r = ParseRights({"read", "write"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unknown right \"write\""),
            std::string::npos)
      << r.status();
  EXPECT_EQ(ParseRights({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KnownRights({"read", "future-right"}), kRightRead);
  EXPECT_EQ(RightName(kRightSubmit), "submit");
  EXPECT_EQ(RightName(kAllRights), "");
}

TEST(AclRightsTest, PrincipalsAreNonEmptyKeySegments) {
  EXPECT_TRUE(ValidatePrincipal("alice").ok());
  EXPECT_TRUE(ValidatePrincipal("*").ok());
  EXPECT_TRUE(ValidatePrincipal("ops@example.com").ok());
  EXPECT_EQ(ValidatePrincipal("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePrincipal("a/b").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePrincipal("a\nb").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AclKeysTest, KeysParseBack) {
  KeyRef r = ParseKey(AclKey("team", "alice"));
  EXPECT_EQ(r.type, KeyRef::Type::kAcl);
  EXPECT_EQ(r.ns, "team");
  EXPECT_EQ(r.principal, "alice");
  EXPECT_EQ(ParseKey(AclKey("team", "*")).principal, "*");
  EXPECT_EQ(ParseKey(kAclConfigKey).type, KeyRef::Type::kAclConfig);
  EXPECT_EQ(ParseKey("/berth/acl/team/").type, KeyRef::Type::kOther);
  EXPECT_EQ(AclNamespacePrefix("team"), "/berth/acl/team/");
  // Rights on an allocation are its namespace's.
  EXPECT_EQ(NamespaceOfAllocId(SlotAllocId("team", "web", 0, 3)), "team");
  EXPECT_EQ(NamespaceOfAllocId(CronAllocId("d", "nightly", 17)), "d");
}

std::string Grant(const std::vector<std::string>& rights) {
  aclpb::AclGrant g;
  for (const std::string& r : rights) g.add_rights(r);
  return g.SerializeAsString();
}

TEST(AclStateTest, MirrorFollowsGrantsAndTheSwitch) {
  MemStore store;
  aclpb::AclConfig on;
  on.set_enabled(true);
  on.set_changed_by("root");
  StoreTxn txn;
  txn.ops = {StoreOp::Put(AclKey("team", "alice"), Grant({"read", "submit"})),
             StoreOp::Put(AclKey("team", "*"), Grant({"read"})),
             StoreOp::Put(AclKey("team", "newer"), Grant({"launch"})),
             StoreOp::Put(kAclConfigKey, on.SerializeAsString())};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  ClusterState state;
  state.Reset(*store.Load("/berth/"));
  const AclState& acl = state.acl();
  EXPECT_TRUE(acl.enabled);
  EXPECT_EQ(acl.changed_by, "root");
  EXPECT_EQ(acl.grants.at("team").at("alice").rights,
            kRightRead | kRightSubmit);
  EXPECT_GT(acl.grants.at("team").at("alice").mod_revision, 0);
  EXPECT_EQ(acl.grants.at("team").at("*").rights, kRightRead);
  EXPECT_EQ(acl.grants.at("team").at("newer").rights, 0u);

  auto w = store.Watch("/berth/", state.revision() + 1);
  ASSERT_TRUE(w.ok());
  txn.ops = {StoreOp::DeletePrefix(AclNamespacePrefix("team")),
             StoreOp::Delete(kAclConfigKey)};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  absl::StatusOr<std::vector<StoreEvent>> events =
      (*w)->Next(absl::ZeroDuration());
  ASSERT_TRUE(events.ok());
  for (const StoreEvent& e : *events) state.Apply(e);
  EXPECT_FALSE(state.acl().enabled);
  EXPECT_TRUE(state.acl().grants.empty());
}

TEST(AclStateTest, AConfigThatDoesNotParseStillEnforces) {
  MemStore store;
  StoreTxn txn;
  txn.ops = {StoreOp::Put(kAclConfigKey, "\xff\xff not a proto")};
  ASSERT_TRUE(store.Commit(txn, Fence{}).ok());
  ClusterState state;
  state.Reset(*store.Load("/berth/"));
  EXPECT_TRUE(state.acl().enabled);
  EXPECT_EQ(state.corrupt_records(), 1);
}

}  // namespace
}  // namespace berth::sched
