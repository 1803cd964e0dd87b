// Many Sessions of one Client over one LeaseKeepAlive stream, against an
// in-process fake Lease service on 127.0.0.1 that counts streams. The fake
// answers at once; tests wait on conditions with deadlines, never on time.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/session.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock {
namespace {

using ::testing::HasSubstr;
namespace pb = lockpb;

class FakeLease final : public pb::Lease::Service {
 public:
  FakeLease() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                       &port_);
    b.RegisterService(this);
    server_ = b.BuildAndStart();
  }
  ~FakeLease() override { server_->Shutdown(); }
  std::string addr() const { return absl::StrCat("127.0.0.1:", port_); }

  grpc::Status LeaseGrant(grpc::ServerContext*, const pb::LeaseGrantRequest* q,
                          pb::LeaseGrantResponse* r) override {
    absl::MutexLock l(&mu_);
    r->set_id(next_id_++);
    r->set_ttl(q->ttl());
    return grpc::Status::OK;
  }
  grpc::Status LeaseRevoke(grpc::ServerContext*,
                           const pb::LeaseRevokeRequest* q,
                           pb::LeaseRevokeResponse*) override {
    absl::MutexLock l(&mu_);
    revoked_.insert(q->id());
    return grpc::Status::OK;
  }
  grpc::Status LeaseKeepAlive(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<pb::LeaseKeepAliveResponse,
                               pb::LeaseKeepAliveRequest>* stream) override {
    int stream_no;
    {
      absl::MutexLock l(&mu_);
      stream_no = ++streams_;
      ++open_streams_;
    }
    pb::LeaseKeepAliveRequest q;
    grpc::Status result = grpc::Status::OK;
    while (stream->Read(&q)) {
      pb::LeaseKeepAliveResponse r;
      r.set_id(q.id());
      {
        absl::MutexLock l(&mu_);
        ++renewals_[q.id()];
        if (fail_stream_ == stream_no) {
          result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no quorum");
          break;
        }
        r.set_ttl(gone_.count(q.id()) > 0 ? 0 : 5);
      }
      if (!stream->Write(r)) break;
    }
    absl::MutexLock l(&mu_);
    --open_streams_;
    return result;
  }

  // Waits until `pred` holds (under the fake's lock) or 30 s pass.
  bool WaitFor(std::function<bool()> pred) {
    absl::MutexLock l(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(30));
  }

  absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 100;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_stream_ ABSL_GUARDED_BY(mu_) = 0;  // this stream fails at once
  std::map<int64_t, int> renewals_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> gone_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> revoked_ ABSL_GUARDED_BY(mu_);

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

std::vector<std::unique_ptr<Session>> OpenSessions(Client* client, int n) {
  std::vector<std::unique_ptr<Session>> out;
  for (int i = 0; i < n; ++i) {
    SessionOptions so;
    so.ttl = absl::Seconds(1);  // renewed every 333 ms
    auto s = Session::Create(client, so);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) out.push_back(std::move(*s));
  }
  return out;
}

TEST(KeepAliveMuxTest, ManySessionsShareOneStream) {
  FakeLease fake;
  auto client = Client::Connect({fake.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::vector<std::unique_ptr<Session>> sessions =
      OpenSessions(client->get(), 50);
  ASSERT_EQ(sessions.size(), 50u);
  // Every lease renewed several times: long past any single TTL.
  ASSERT_TRUE(fake.WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake.mu_) {
    if (fake.renewals_.size() < 50) return false;
    for (const auto& [id, n] : fake.renewals_) {
      if (n < 4) return false;
    }
    return true;
  }));
  {
    absl::MutexLock l(&fake.mu_);
    EXPECT_EQ(fake.streams_, 1);
  }
  for (const auto& s : sessions) EXPECT_FALSE(s->lost()) << s->lease_id();
  // The stream goes away with the last session; each lease is revoked.
  sessions.clear();
  ASSERT_TRUE(fake.WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake.mu_) {
    return fake.open_streams_ == 0;
  }));
  absl::MutexLock l(&fake.mu_);
  EXPECT_EQ(fake.revoked_.size(), 50u);
}

TEST(KeepAliveMuxTest, GoneLeaseLosesOnlyItsSession) {
  FakeLease fake;
  auto client = Client::Connect({fake.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::vector<std::unique_ptr<Session>> sessions =
      OpenSessions(client->get(), 3);
  ASSERT_EQ(sessions.size(), 3u);
  absl::Notification lost;
  std::atomic<int> calls{0};
  absl::Status reason;
  SessionOptions so;
  so.ttl = absl::Seconds(1);
  so.on_lost = [&](const absl::Status& why) {
    ++calls;
    reason = why;
    lost.Notify();
  };
  auto doomed = Session::Create(client->get(), so);
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  {
    absl::MutexLock l(&fake.mu_);
    fake.gone_.insert((*doomed)->lease_id());
  }
  ASSERT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(reason.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reason.message(), HasSubstr("is gone"));
  EXPECT_TRUE((*doomed)->lost());
  // The others keep renewing on the same stream.
  std::map<int64_t, int> at_loss;
  {
    absl::MutexLock l(&fake.mu_);
    at_loss = fake.renewals_;
  }
  ASSERT_TRUE(fake.WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake.mu_) {
    for (const auto& s : sessions) {
      if (fake.renewals_[s->lease_id()] < at_loss[s->lease_id()] + 2) {
        return false;
      }
    }
    return true;
  }));
  for (const auto& s : sessions) EXPECT_FALSE(s->lost());
  EXPECT_TRUE((*doomed)->Close().ok());
  EXPECT_EQ(calls.load(), 1);
  absl::MutexLock l(&fake.mu_);
  EXPECT_EQ(fake.streams_, 1);
  // A lost lease is not revoked again.
  EXPECT_EQ(fake.revoked_.count((*doomed)->lease_id()), 0u);
}

TEST(KeepAliveMuxTest, FailedStreamIsReopenedForEverySession) {
  FakeLease fake;
  {
    absl::MutexLock l(&fake.mu_);
    fake.fail_stream_ = 1;
  }
  auto client = Client::Connect({fake.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::vector<std::unique_ptr<Session>> sessions =
      OpenSessions(client->get(), 5);
  ASSERT_EQ(sessions.size(), 5u);
  // Renewed on the second stream, each lease a few times.
  ASSERT_TRUE(fake.WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake.mu_) {
    if (fake.streams_ < 2) return false;
    for (const auto& s : sessions) {
      if (fake.renewals_[s->lease_id()] < 3) return false;
    }
    return true;
  }));
  for (const auto& s : sessions) EXPECT_FALSE(s->lost());
  absl::MutexLock l(&fake.mu_);
  EXPECT_EQ(fake.streams_, 2);
}

}  // namespace
}  // namespace berth::lock
