// The client's failover logic against in-process fake replicas on
// 127.0.0.1: redirects, the write retry rule, session loss and watch resume.
// The fakes answer instantly; tests wait on conditions, never on time.
#include <atomic>
#include <functional>
#include <map>
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
  // Runs a whole watch stream (all its requests), if set; else on_watch.
  std::function<grpc::Status(
      grpc::ServerReaderWriter<pb::WatchResponse, pb::WatchRequest>*)>
      on_watch_stream;
  std::atomic<int> puts{0}, ranges{0}, watch_streams{0};
  absl::Mutex mu;
  std::vector<std::string> put_ids ABSL_GUARDED_BY(mu);

  grpc::Status Put(grpc::ServerContext*, const pb::PutRequest* q,
                   pb::PutResponse* r) override {
    {
      absl::MutexLock l(&mu);
      put_ids.push_back(q->has_write_id() ? q->write_id().ShortDebugString()
                                          : "none");
    }
    ++puts;
    return on_put(r);
  }
  // The WriteId of every Put received, as text ("none" if absent).
  std::vector<std::string> PutIds() {
    absl::MutexLock l(&mu);
    return put_ids;
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
    ++watch_streams;
    if (on_watch_stream) return on_watch_stream(stream);
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
  // Usually 1; on a loaded machine a first dial of the leader can time out,
  // and the client then rightly asks the follower again, which redirects
  // again (seen once in CI under load).
  const int follower_puts = follower.puts.load();
  EXPECT_GE(follower_puts, 1);
  ASSERT_TRUE((*client)->kv().Put("k", "v2").ok());
  // The second put went straight to the remembered leader.
  EXPECT_EQ(follower.puts.load(), follower_puts);
  EXPECT_EQ(leader.puts.load(), 2);
}

TEST(ClientFailoverTest, WriteThatMayHaveRunIsRetriedWithTheSameWriteId) {
  FakeReplica a;
  a.on_put = [&](pb::PutResponse* r) {
    if (a.puts.load() <= 2) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
    }
    r->mutable_header()->set_revision(9);
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 9);
  ASSERT_TRUE((*client)->kv().Put("k", "v2").ok());
  std::vector<std::string> ids = a.PutIds();
  ASSERT_EQ(ids.size(), 4u);
  // Three attempts of one write share its id; the next write is seq 2 and
  // tells the server that seq 1 was answered.
  EXPECT_THAT(ids[0], HasSubstr("seq: 1 acked_below: 1"));
  EXPECT_EQ(ids[1], ids[0]);
  EXPECT_EQ(ids[2], ids[0]);
  EXPECT_THAT(ids[3], HasSubstr("seq: 2 acked_below: 2"));
  EXPECT_THAT(ids[0], HasSubstr("client_id: "));
  EXPECT_EQ(ids[0].substr(0, ids[0].find(" seq")),
            ids[3].substr(0, ids[3].find(" seq")));
}

TEST(ClientFailoverTest, WriteThatGivesUpAfterMaybeRunningIsOutcomeUnknown) {
  FakeReplica a;
  a.on_put = [](pb::PutResponse*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  };
  ClientOptions o = Fast();
  o.request_timeout = absl::Milliseconds(300);
  auto client = Client::Connect({a.addr()}, o);
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(IsOutcomeUnknown(put.status())) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr("connection reset"));
  EXPECT_GE(a.puts.load(), 2);
}

TEST(ClientFailoverTest, WithoutWriteIdsAWriteThatMayHaveRunIsNotRetried) {
  FakeReplica a;
  a.on_put = [](pb::PutResponse*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  };
  ClientOptions o = Fast();
  o.exactly_once_writes = false;
  auto client = Client::Connect({a.addr()}, o);
  ASSERT_TRUE(client.ok());
  auto put = (*client)->kv().Put("k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(IsOutcomeUnknown(put.status())) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr("connection reset"));
  EXPECT_EQ(a.puts.load(), 1);
  EXPECT_EQ(a.PutIds(), std::vector<std::string>{"none"});
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
    r.set_watch_id(create.watch_id());
    if (n == 1) {
      r.set_created(true);
      r.mutable_header()->set_revision(10);
      stream->Write(r);
      pb::WatchResponse ev;
      ev.set_watch_id(create.watch_id());
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

// One response of `id` carrying a put of `key` at `rev`.
pb::WatchResponse EventFor(int64_t id, const std::string& key, int64_t rev) {
  pb::WatchResponse r;
  r.set_watch_id(id);
  r.mutable_header()->set_revision(rev);
  pb::Event* e = r.add_events();
  e->mutable_kv()->set_key(key);
  e->mutable_kv()->set_mod_revision(rev);
  return r;
}

// The watch requests one fake stream received, in order.
struct StreamLog {
  absl::Mutex mu;
  std::vector<pb::WatchRequest> requests ABSL_GUARDED_BY(mu);

  void Add(const pb::WatchRequest& q) {
    absl::MutexLock l(&mu);
    requests.push_back(q);
  }
  // Watch id of the create for `key` (0 if none yet).
  int64_t IdOf(const std::string& key) {
    absl::MutexLock l(&mu);
    for (const pb::WatchRequest& q : requests) {
      if (q.has_create_request() && q.create_request().key() == key) {
        return q.create_request().watch_id();
      }
    }
    return 0;
  }
  // Waits (up to 20 s) until at least `n` requests arrived.
  bool WaitFor(size_t n) {
    absl::MutexLock l(&mu);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return requests.size() >= n;
    };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
};

WatchOptions Prefix() {
  WatchOptions wo;
  wo.prefix = true;
  return wo;
}

// Next() until a batch arrives; fails the test on an error or after 20 s.
WatchBatch NextBatch(Watch& w) {
  auto b = w.Next(absl::Seconds(20));
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok() || !b->has_value()) {
    ADD_FAILURE() << "no batch";
    return {};
  }
  return **b;
}

TEST(WatchMultiplexTest, TwoWatchesShareOneStreamAndGetOnlyTheirOwnEvents) {
  StreamLog log;  // outlives the fake's handlers
  FakeReplica a;
  a.on_watch_stream = [&](auto* stream) {
    pb::WatchRequest q;
    int creates = 0;
    while (stream->Read(&q)) {
      log.Add(q);
      if (q.has_create_request() && ++creates == 2) {
        // Answer in the opposite order of creation.
        stream->Write(EventFor(log.IdOf("b/"), "b/1", 7));
        stream->Write(EventFor(log.IdOf("a/"), "a/1", 8));
      }
    }
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto wa = Watch::Start(client->get(), "a/", Prefix());
  auto wb = Watch::Start(client->get(), "b/", Prefix());
  ASSERT_TRUE(wa.ok() && wb.ok());
  WatchBatch ba = NextBatch(**wa);
  WatchBatch bb = NextBatch(**wb);
  ASSERT_EQ(ba.events.size(), 1u);
  ASSERT_EQ(bb.events.size(), 1u);
  EXPECT_EQ(ba.events[0].kv.key, "a/1");
  EXPECT_EQ(bb.events[0].kv.key, "b/1");
  EXPECT_EQ(a.watch_streams.load(), 1);
  EXPECT_NE(log.IdOf("a/"), log.IdOf("b/"));
}

TEST(WatchMultiplexTest, CancelledWatchGetsNothingMoreAndOthersGoOn) {
  StreamLog log;  // outlives the fake's handlers
  FakeReplica a;
  a.on_watch_stream = [&](auto* stream) {
    pb::WatchRequest q;
    while (stream->Read(&q)) {
      log.Add(q);
      if (q.has_cancel_request()) {
        // Late events for the cancelled watch must be dropped by the client.
        stream->Write(EventFor(q.cancel_request().watch_id(), "a/late", 30));
        stream->Write(EventFor(log.IdOf("b/"), "b/2", 31));
      }
    }
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::atomic<int> a_batches{0};
  auto wa = Watch::Start(client->get(), "a/", Prefix(),
                         [&](absl::StatusOr<WatchBatch> b) {
                           if (b.ok()) ++a_batches;
                         });
  auto wb = Watch::Start(client->get(), "b/", Prefix());
  ASSERT_TRUE(wa.ok() && wb.ok());
  // Both creates reached the server before the cancel.
  ASSERT_TRUE(log.WaitFor(2));
  const int64_t a_id = log.IdOf("a/");
  (*wa)->Cancel();
  WatchBatch bb = NextBatch(**wb);
  ASSERT_EQ(bb.events.size(), 1u);
  EXPECT_EQ(bb.events[0].kv.key, "b/2");
  EXPECT_EQ(a_batches.load(), 0);
  {
    absl::MutexLock l(&log.mu);
    ASSERT_EQ(log.requests.size(), 3u);
    ASSERT_TRUE(log.requests[2].has_cancel_request());
    EXPECT_EQ(log.requests[2].cancel_request().watch_id(), a_id);
  }
  EXPECT_EQ(a.watch_streams.load(), 1);
}

TEST(WatchMultiplexTest, ReconnectResumesEachWatchAtItsOwnRevision) {
  StreamLog first, second;  // outlive the fake's handlers
  std::atomic<int> streams{0};
  FakeReplica a;
  a.on_watch_stream = [&](auto* stream) {
    const int n = ++streams;
    StreamLog& log = n == 1 ? first : second;
    pb::WatchRequest q;
    int creates = 0;
    while (stream->Read(&q)) {
      log.Add(q);
      if (n == 1 && q.has_create_request() && ++creates == 2) {
        stream->Write(EventFor(log.IdOf("a/"), "a/1", 11));
        stream->Write(EventFor(log.IdOf("b/"), "b/1", 20));
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica stopping");
      }
      if (n == 2 && q.has_create_request() && ++creates == 2) {
        stream->Write(EventFor(log.IdOf("a/"), "a/2", 25));
      }
    }
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto wa = Watch::Start(client->get(), "a/", Prefix());
  auto wb = Watch::Start(client->get(), "b/", Prefix());
  ASSERT_TRUE(wa.ok() && wb.ok());
  EXPECT_EQ(NextBatch(**wa).events.at(0).kv.mod_revision, 11);
  EXPECT_EQ(NextBatch(**wb).events.at(0).kv.mod_revision, 20);
  // The second stream's event arrives only after both watches re-created.
  EXPECT_EQ(NextBatch(**wa).events.at(0).kv.mod_revision, 25);
  absl::MutexLock l(&second.mu);
  ASSERT_EQ(second.requests.size(), 2u);
  std::map<std::string, int64_t> starts;
  for (const pb::WatchRequest& q : second.requests) {
    starts[q.create_request().key()] = q.create_request().start_revision();
  }
  EXPECT_EQ(starts["a/"], 12);  // after the last event each one saw
  EXPECT_EQ(starts["b/"], 21);
  EXPECT_EQ(streams.load(), 2);
}

TEST(WatchMultiplexTest, AlikeWatchesFromNowShareOneServerWatch) {
  StreamLog log;  // outlives the fake's handlers
  FakeReplica a;
  int64_t shared_id = 0;  // the "p/" server watch from now
  a.on_watch_stream = [&](auto* stream) {
    pb::WatchRequest q;
    int creates = 0;
    while (stream->Read(&q)) {
      log.Add(q);
      const pb::WatchCreateRequest& c = q.create_request();
      if (c.key() == "p/" && c.start_revision() == 0) shared_id = c.watch_id();
      if (q.has_create_request() && ++creates == 3) {
        // Every watch exists by now: one event for the shared id.
        stream->Write(EventFor(shared_id, "p/1", 5));
      }
      if (q.has_cancel_request()) {
        stream->Write(EventFor(shared_id, "p/2", 6));
      }
    }
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  auto w1 = Watch::Start(client->get(), "p/", Prefix());
  auto w2 = Watch::Start(client->get(), "p/", Prefix());
  WatchOptions from_rev = Prefix();
  from_rev.start_revision = 3;
  auto w3 = Watch::Start(client->get(), "p/", from_rev);  // needs history
  auto go = Watch::Start(client->get(), "go");
  ASSERT_TRUE(w1.ok() && w2.ok() && w3.ok() && go.ok());
  EXPECT_EQ(NextBatch(**w1).events.at(0).kv.key, "p/1");
  EXPECT_EQ(NextBatch(**w2).events.at(0).kv.key, "p/1");
  {
    absl::MutexLock l(&log.mu);
    std::vector<int64_t> starts;
    for (const pb::WatchRequest& q : log.requests) {
      if (q.create_request().key() == "p/") {
        starts.push_back(q.create_request().start_revision());
      }
    }
    // w1 and w2 share one server watch; w3 has its own.
    EXPECT_THAT(starts, ::testing::UnorderedElementsAre(0, 3));
  }
  // Dropping one member keeps the server watch; dropping the separate one
  // cancels it, and the remaining member still gets events.
  w2->reset();
  w3->reset();
  EXPECT_EQ(NextBatch(**w1).events.at(0).kv.key, "p/2");
  absl::MutexLock l(&log.mu);
  int cancels = 0;
  for (const pb::WatchRequest& q : log.requests) {
    cancels += q.has_cancel_request() ? 1 : 0;
  }
  EXPECT_EQ(cancels, 1);
}

TEST(WatchMultiplexTest, CallbackMayCancelItsOwnWatch) {
  absl::Notification stream_closed;
  FakeReplica a;
  a.on_watch_stream = [&](auto* stream) {
    pb::WatchRequest q;
    while (stream->Read(&q)) {
      if (!q.has_create_request()) continue;
      const int64_t id = q.create_request().watch_id();
      stream->Write(EventFor(id, "k", 2));
      stream->Write(EventFor(id, "k", 3));
    }
    stream_closed.Notify();  // the client hung up: no watch left
    return grpc::Status::OK;
  };
  auto client = Client::Connect({a.addr()}, Fast());
  ASSERT_TRUE(client.ok());
  std::atomic<Watch*> self{nullptr};
  std::atomic<int> batches{0};
  absl::Notification started;
  auto w =
      Watch::Start(client->get(), "k", {}, [&](absl::StatusOr<WatchBatch> b) {
        if (!b.ok()) return;
        ++batches;
        started.WaitForNotification();
        self.load()->Cancel();
      });
  ASSERT_TRUE(w.ok());
  self = w->get();
  started.Notify();
  ASSERT_TRUE(stream_closed.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(batches.load(), 1);  // the second event was dropped
}

}  // namespace
}  // namespace berth::lock
