// v3lock and v3election over gRPC against berth-lockd's etcd ports: a
// lock or election taken through etcd's services is a berth lock or
// election, visible through berth's own API (issue #18).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ports.h"
#include "gtest/gtest.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "proto/etcd/v3election.grpc.pb.h"
#include "proto/etcd/v3lock.grpc.pb.h"
#include "proto/lock.grpc.pb.h"
#include "tests/e2e/etcd_process.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

class EtcdV3ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<int> base = FindFreePortBlock(10, getpid() ^ 0x53b1);
    ASSERT_TRUE(base.ok()) << base.status();
    absl::StatusOr<std::vector<std::string>> eps =
        StartWithEtcdPorts(&cluster_, 3, *base);
    ASSERT_TRUE(eps.ok()) << eps.status();
    berth_eps_ = *eps;
  }

  LockdCluster cluster_{3};
  std::vector<std::string> berth_eps_;
};

// A v3lock lock is a berth lock: berth's own API sees it held, with the
// key v3lock answered, until v3lock unlocks it.
TEST_F(EtcdV3ServicesTest, V3LockIsVisibleToBerthLocks) {
  auto ch =
      grpc::CreateChannel(berth_eps_[1], grpc::InsecureChannelCredentials());
  etcdserverpb::LeaseGrantRequest gr;
  gr.set_ttl(30);
  etcdserverpb::LeaseGrantResponse lease;
  grpc::ClientContext c1;
  ASSERT_TRUE(
      etcdserverpb::Lease::NewStub(ch)->LeaseGrant(&c1, gr, &lease).ok());
  v3lockpb::LockRequest lr;
  lr.set_name("jobs/etcd-lock");
  lr.set_lease(lease.id());
  v3lockpb::LockResponse locked;
  grpc::ClientContext c2;
  grpc::Status st = v3lockpb::Lock::NewStub(ch)->Lock(&c2, lr, &locked);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // Holder is a linearizable read, served by any replica.
  auto berth_lock = lockpb::Lock::NewStub(cluster_.Channel(1));
  lockpb::HolderRequest hr;
  hr.set_name("jobs/etcd-lock");
  lockpb::HolderResponse holder;
  grpc::ClientContext h1;
  ASSERT_TRUE(berth_lock->Holder(&h1, hr, &holder).ok());
  EXPECT_TRUE(holder.held());
  EXPECT_EQ(holder.key(), locked.key());
  EXPECT_EQ(holder.lease(), lease.id());

  v3lockpb::UnlockRequest ur;
  ur.set_key(locked.key());
  v3lockpb::UnlockResponse unlocked;
  grpc::ClientContext c3;
  ASSERT_TRUE(v3lockpb::Lock::NewStub(ch)->Unlock(&c3, ur, &unlocked).ok());
  holder.Clear();
  grpc::ClientContext h2;
  ASSERT_TRUE(berth_lock->Holder(&h2, hr, &holder).ok());
  EXPECT_FALSE(holder.held());
}

// A v3election election is a berth election: berth's Election.Leader sees
// the etcd campaigner and its proclaimed value.
TEST_F(EtcdV3ServicesTest, V3ElectionIsABerthElection) {
  auto ch =
      grpc::CreateChannel(berth_eps_[2], grpc::InsecureChannelCredentials());
  auto election = v3electionpb::Election::NewStub(ch);
  etcdserverpb::LeaseGrantRequest gr;
  gr.set_ttl(30);
  etcdserverpb::LeaseGrantResponse lease;
  grpc::ClientContext c1;
  ASSERT_TRUE(
      etcdserverpb::Lease::NewStub(ch)->LeaseGrant(&c1, gr, &lease).ok());

  v3electionpb::CampaignRequest cr;
  cr.set_name("svc/leader");
  cr.set_lease(lease.id());
  cr.set_value("a");
  v3electionpb::CampaignResponse won;
  grpc::ClientContext c2;
  grpc::Status st = election->Campaign(&c2, cr, &won);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(won.leader().lease(), lease.id());

  v3electionpb::ProclaimRequest pr;
  *pr.mutable_leader() = won.leader();
  pr.set_value("b");
  v3electionpb::ProclaimResponse proclaimed;
  grpc::ClientContext c3;
  ASSERT_TRUE(election->Proclaim(&c3, pr, &proclaimed).ok());

  v3electionpb::LeaderRequest lr;
  lr.set_name("svc/leader");
  v3electionpb::LeaderResponse etcd_view;
  grpc::ClientContext c4;
  ASSERT_TRUE(election->Leader(&c4, lr, &etcd_view).ok());
  EXPECT_EQ(etcd_view.kv().value(), "b");
  EXPECT_EQ(etcd_view.kv().key(), won.leader().key());

  lockpb::LeaderRequest blr;
  blr.set_name("svc/leader");
  lockpb::LeaderResponse berth_view;
  grpc::ClientContext c5;
  ASSERT_TRUE(lockpb::Election::NewStub(cluster_.Channel(1))
                  ->Leader(&c5, blr, &berth_view)
                  .ok());
  EXPECT_EQ(berth_view.kv().value(), "b");
  EXPECT_EQ(berth_view.leader().lease(), lease.id());

  // Observe starts with the current leader.
  grpc::ClientContext c6;
  auto observe = election->Observe(&c6, lr);
  v3electionpb::LeaderResponse first;
  ASSERT_TRUE(observe->Read(&first));
  EXPECT_EQ(first.kv().value(), "b");
  c6.TryCancel();
  observe->Finish();

  v3electionpb::ResignRequest rr;
  *rr.mutable_leader() = won.leader();
  v3electionpb::ResignResponse resigned;
  grpc::ClientContext c7;
  ASSERT_TRUE(election->Resign(&c7, rr, &resigned).ok());
  grpc::ClientContext c8;
  st = election->Leader(&c8, lr, &etcd_view);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "election: no leader");
}

}  // namespace
}  // namespace berth::e2e
