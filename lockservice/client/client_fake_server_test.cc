// The client's failover logic against in-process fake replicas on
// 127.0.0.1: redirects, the write retry rule, session loss and watch resume.
// The fakes answer instantly; tests wait on conditions, never on time.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/session.h"
#include "lockservice/client/watch.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock {
namespace {

using ::testing::HasSubstr;
namespace pb = lockpb;

// A replica whose answers each test scripts.
class FakeReplica final : public pb::KV::Service,
                          public pb::Lease::Service,
                          public pb::Watch::Service {
 public:
  FakeReplica() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                       &port_);
    b.RegisterService(static_cast<pb::KV::Service*>(this));
    b.RegisterService(static_cast<pb::Lease::Service*>(this));
    b.RegisterService(static_cast<pb::Watch::Service*>(this));
    server_ = b.BuildAndStart();
  }
  ~FakeReplica() override { server_->Shutdown(); }
  std::string addr() const { return absl::StrCat("127.0.0.1:", port_); }

  std::function<grpc::Status(pb::PutResponse*)> on_put;
  std::function<grpc::Status(pb::RangeResponse*)> on_range;
  std::function<grpc::Status(pb::LeaseKeepAliveResponse*)> on_keepalive;
  // Runs one watch stream given its create request.
  std::function<grpc::Status(
      const pb::WatchCreateRequest&,
      grpc::ServerReaderWriter<pb::WatchResponse, pb::WatchRequest>*)>
      on_watch;
  std::atomic<int> puts{0}, ranges{0};

  grpc::Status Put(grpc::ServerContext*, const pb::PutRequest*,
                   pb::PutResponse* r) override {
    ++puts;
    return on_put(r);
  }
  grpc::Status Range(grpc::ServerContext*, const pb::RangeRequest*,
                     pb::RangeResponse* r) override {
    ++ranges;
    return on_range(r);
  }
  grpc::Status LeaseGrant(grpc::ServerContext*, const pb::LeaseGrantRequest* q,
                          pb::LeaseGrantResponse* r) override {
    r->set_id(7);
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
      r.set_id(q.id());
      grpc::Status st = on_keepalive(&r);
      if (!st.ok()) return st;
      stream->Write(r);
    }
    return grpc::Status::OK;
  }
  grpc::Status Watch(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<pb::WatchResponse, pb::WatchRequest>* stream)
      override {
    pb::WatchRequest q;
    if (!stream->Read(&q)) return grpc::Status::OK;
    return on_watch(q.create_request(), stream);
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

grpc::Status NotLeader(const FakeReplica& leader) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("not the leader; leader=2@", leader.addr()));
}

ClientOptions Fast() {
  ClientOptions o;
  o.discover_leader = false;  // the fakes have no Cluster service
  o.backoff_initial = absl::Milliseconds(1);
  o.backoff_max = absl::Milliseconds(20);
  return o;
}

TEST(ClientFailoverTest, FollowsRedirectToLeaderAndRemembersIt) {
  FakeReplica leader, follower;
  follower.on_put = [&](pb::PutResponse*) { return NotLeader(leader); };
  leader.on_put = [&](pb::PutResponse* r) {
    r->mutable_header()->set_revision(5);
    return grpc::Status::OK;
  };
  auto client = Client::Connect({follower.addr()}, Fast());
  ASSERT_TRUE(client.ok()) << client.status();
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 5);
  EXPECT_EQ((*client)->leader(), leader.addr());
  ASSERT_TRUE((*client)->kv().Put("k", "v2").ok());
  EXPECT_EQ(follower.puts.load(), 1);  // the second put went straight there
  EXPECT_EQ(leader.puts.load(), 2);
}

TEST(ClientFailoverTest, WriteThatMayHaveRunIsNotRetried) {
  FakeReplica a;
  a.on_put = [](pb::PutResponse*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(IsOutcomeUnknown(put.status())) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr("connection reset"));
  EXPECT_EQ(a.puts.load(), 1);
}

TEST(ClientFailoverTest, ReadIsRetriedUntilItSucceeds) {
  FakeReplica a;
  a.on_range = [&](pb::RangeResponse* r) {
    if (a.ranges.load() < 3) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "electing");
    }
    r->add_kvs()->set_key("k");
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto got = (*client)->kv().Get("k");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->key, "k");
  EXPECT_EQ(a.ranges.load(), 3);
}

TEST(ClientFailoverTest, WriteSkipsUnreachableReplica) {
  FakeReplica live;
  live.on_put = [](pb::PutResponse*) { return grpc::Status::OK; };
  ClientOptions o = Fast();
  o.dial_timeout = absl::Milliseconds(200);
  // Port 1 on loopback refuses connections: the put never left.
  auto client = Client::Connect({"127.0.0.1:1", live.addr()}, o);
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(live.puts.load(), 1);
}

TEST(ClientFailoverTest, ApplicationErrorsPassThroughUnchanged) {
  FakeReplica a;
  a.on_put = [](pb::PutResponse*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "stale fencing token 3");
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsOutcomeUnknown(put.status()));
  EXPECT_EQ(a.puts.load(), 1);
}

TEST(SessionTest, LostOnceWhenServerReportsLeaseGone) {
  FakeReplica a;
  a.on_keepalive = [](pb::LeaseKeepAliveResponse* r) {
    r->set_ttl(0);
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::atomic<int> calls{0};
  absl::Notification lost;
  SessionOptions so;
  so.ttl = absl::Seconds(30);
  so.on_lost = [&](const absl::Status& why) {
    ++calls;
    EXPECT_EQ(why.code(), absl::StatusCode::kNotFound);
    lost.Notify();
  };
  auto session = Session::Create(client->get(), so);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->lease_id(), 7);
  ASSERT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE((*session)->lost());
  EXPECT_TRUE((*session)->Close().ok());
  EXPECT_EQ(calls.load(), 1);
}

TEST(SessionTest, LostWhenTtlPassesWithoutSuccessfulKeepalive) {
  FakeReplica a;
  a.on_keepalive = [](pb::LeaseKeepAliveResponse*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no quorum");
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  absl::Notification lost;
  absl::Status reason;
  SessionOptions so;
  so.ttl = absl::Seconds(1);
  so.on_lost = [&](const absl::Status& why) {
    reason = why;
    lost.Notify();
  };
  auto session = Session::Create(client->get(), so);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(reason.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(reason.message(), HasSubstr("no quorum"));
  EXPECT_TRUE((*session)->lost());
}

TEST(WatchTest, ResumesAfterLastDeliveredRevisionThenReportsCompaction) {
  FakeReplica a;
  absl::Mutex mu;
  std::vector<int64_t> starts;
  a.on_watch = [&](const pb::WatchCreateRequest& create, auto* stream) {
    size_t n;
    {
      absl::MutexLock l(&mu);
      starts.push_back(create.start_revision());
      n = starts.size();
    }
    pb::WatchResponse r;
    if (n == 1) {
      r.set_created(true);
      r.mutable_header()->set_revision(10);
      stream->Write(r);
      pb::WatchResponse ev;
      pb::Event* e = ev.add_events();
      e->mutable_kv()->set_key("p/a");
      e->mutable_kv()->set_mod_revision(11);
      stream->Write(ev);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica stopping");
    }
    r.set_canceled(true);
    r.set_compact_revision(40);
    stream->Write(r);
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  WatchOptions wo;
  wo.prefix = true;
  auto watch = Watch::Start(client->get(), "p/", wo);
  ASSERT_TRUE(watch.ok());
  auto first = (*watch)->Next(absl::Seconds(20));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  ASSERT_EQ((*first)->events.size(), 1u);
  EXPECT_EQ((*first)->events[0].kv.key, "p/a");
  auto second = (*watch)->Next(absl::Seconds(20));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(second.status().message(), HasSubstr("40"));
  EXPECT_EQ((*watch)->compact_revision(), 40);
  absl::MutexLock l(&mu);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], 0);
  EXPECT_EQ(starts[1], 12);  // last delivered (11) + 1
}

}  // namespace
}  // namespace berth::lock
