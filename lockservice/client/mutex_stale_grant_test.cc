// Mutex against an in-process fake lockd: a grant answered by a replica
// whose term is older than one the client has already seen (a deposed
// leader's queued reply) is checked against the holder before it is
// believed; a current grant is taken without any extra call.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock {
namespace {

using ::testing::HasSubstr;
namespace pb = lockpb;

constexpr int64_t kLease = 7;

// Leases are granted in `lease_term`; Lock answers in `lock_term` with
// token 9; Holder reports whatever `holder` says.
class FakeLockd final : public pb::Lease::Service, public pb::Lock::Service {
 public:
  FakeLockd() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                       &port_);
    b.RegisterService(static_cast<pb::Lease::Service*>(this));
    b.RegisterService(static_cast<pb::Lock::Service*>(this));
    server_ = b.BuildAndStart();
  }
  ~FakeLockd() override { server_->Shutdown(); }
  std::string addr() const { return absl::StrCat("127.0.0.1:", port_); }

  std::atomic<uint64_t> lease_term{5}, lock_term{5};
  pb::HolderResponse holder;
  std::atomic<int> holder_calls{0};

  grpc::Status LeaseGrant(grpc::ServerContext*, const pb::LeaseGrantRequest* q,
                          pb::LeaseGrantResponse* r) override {
    r->mutable_header()->set_raft_term(lease_term);
    r->set_id(kLease);
    r->set_ttl(q->ttl());
    return grpc::Status::OK;
  }
  grpc::Status LeaseRevoke(grpc::ServerContext*, const pb::LeaseRevokeRequest*,
                           pb::LeaseRevokeResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status LeaseKeepAlive(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<pb::LeaseKeepAliveResponse,
                               pb::LeaseKeepAliveRequest>* stream) override {
    pb::LeaseKeepAliveRequest q;
    while (stream->Read(&q)) {
      pb::LeaseKeepAliveResponse r;
      r.mutable_header()->set_raft_term(lease_term);
      r.set_id(q.id());
      r.set_ttl(30);
      stream->Write(r);
    }
    return grpc::Status::OK;
  }
  grpc::Status Lock(grpc::ServerContext*, const pb::LockRequest* q,
                    pb::LockResponse* r) override {
    r->mutable_header()->set_raft_term(lock_term);
    r->set_token(9);
    r->set_key(absl::StrCat(q->name(), "/7"));
    return grpc::Status::OK;
  }
  grpc::Status Holder(grpc::ServerContext*, const pb::HolderRequest*,
                      pb::HolderResponse* r) override {
    ++holder_calls;
    *r = holder;
    r->mutable_header()->set_raft_term(lease_term);
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

ClientOptions Fast() {
  ClientOptions o;
  o.discover_leader = false;  // the fake has no Cluster service
  o.backoff_initial = absl::Milliseconds(1);
  o.backoff_max = absl::Milliseconds(20);
  return o;
}

class StaleGrantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::Connect({fake_.addr()}, Fast());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    SessionOptions so;
    so.ttl = absl::Seconds(30);
    auto s = Session::Create(client_.get(), so);
    ASSERT_TRUE(s.ok()) << s.status();
    session_ = std::move(*s);
  }
  void TearDown() override {
    if (session_ != nullptr) session_->Close().IgnoreError();
  }

  FakeLockd fake_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Session> session_;
};

TEST_F(StaleGrantTest, CurrentGrantIsTakenWithoutAskingTheHolder) {
  Mutex m(session_.get(), "/l");
  ASSERT_TRUE(m.Lock(absl::Seconds(5)).ok());
  EXPECT_EQ(m.token(), 9);
  EXPECT_EQ(fake_.holder_calls.load(), 0);
}

TEST_F(StaleGrantTest, GrantFromAnOlderTermThatMovedOnIsAborted) {
  fake_.lock_term = 4;  // the lease was granted in term 5
  fake_.holder.set_held(true);
  fake_.holder.set_lease(99);
  fake_.holder.set_token(12);
  Mutex m(session_.get(), "/l");
  absl::Status st = m.Lock(absl::Seconds(5));
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  EXPECT_THAT(st.message(), HasSubstr("token 9"));
  EXPECT_THAT(st.message(), HasSubstr("held now with token 12"));
  EXPECT_FALSE(m.held());
  EXPECT_EQ(fake_.holder_calls.load(), 1);
}

TEST_F(StaleGrantTest, GrantFromAnOlderTermStillHeldIsTaken) {
  fake_.lock_term = 4;
  fake_.holder.set_held(true);
  fake_.holder.set_lease(kLease);
  fake_.holder.set_token(9);
  Mutex m(session_.get(), "/l");
  ASSERT_TRUE(m.Lock(absl::Seconds(5)).ok());
  EXPECT_EQ(m.token(), 9);
  EXPECT_EQ(fake_.holder_calls.load(), 1);
}

}  // namespace
}  // namespace berth::lock
