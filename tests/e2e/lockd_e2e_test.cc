// End-to-end tests of berth-lockd: real replica processes on loopback, real
// SQLite files, kill -9, SIGSTOP. They use the raw gRPC API so that failures
// point at the server, not at the client library.
#include <stdlib.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/session.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using lockpb::KV;

grpc::Status Put(RawClient& rc, const std::string& k, const std::string& v,
                 int64_t lease = 0) {
  return rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    lockpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    req.set_lease(lease);
    lockpb::PutResponse resp;
    return KV::NewStub(std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
        ->Put(ctx, req, &resp);
  });
}

absl::StatusOr<lockpb::RangeResponse> Get(LockdCluster& c, uint64_t id,
                                          const std::string& key,
                                          const std::string& end = "",
                                          bool serializable = false) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  lockpb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(end);
  req.set_serializable(serializable);
  lockpb::RangeResponse resp;
  grpc::Status st = KV::NewStub(c.Channel(id))->Range(&ctx, req, &resp);
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  return resp;
}

std::string PrefixEnd(std::string p) {
  p.back() = static_cast<char>(p.back() + 1);
  return p;
}

int64_t GrantLease(RawClient& rc, int64_t ttl) {
  lockpb::LeaseGrantResponse resp;
  grpc::Status st =
      rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        lockpb::LeaseGrantRequest req;
        req.set_ttl(ttl);
        return lockpb::Lease::NewStub(
                   std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
            ->LeaseGrant(ctx, req, &resp);
      });
  return st.ok() ? resp.id() : 0;
}

TEST(LockdE2E, SingleReplicaServesKvAndSurvivesRestart) {
  LockdCluster c(1);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/a", "1").ok());
  ASSERT_TRUE(Put(rc, "/a", "2").ok());
  auto r = Get(c, 1, "/a");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).value(), "2");
  EXPECT_EQ(r->kvs(0).version(), 2);
  c.Term(1);
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  r = Get(c, 1, "/a");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).value(), "2");
}

// Done-when 4: kill -9 of every replica preserves every acknowledged write,
// lease and lock.
TEST(LockdE2E, KillAllReplicasPreservesAcknowledgedState) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  std::vector<std::string> acked;
  for (int i = 0; i < 100; ++i) {
    std::string k = absl::StrCat("/durable/", i);
    if (Put(rc, k, absl::StrCat("v", i)).ok()) acked.push_back(k);
  }
  ASSERT_EQ(acked.size(), 100u);
  int64_t lease = GrantLease(rc, 600);
  ASSERT_NE(lease, 0);
  lockpb::LockResponse lock;
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
                  lockpb::LockRequest req;
                  req.set_name("/locks/durable");
                  req.set_lease(lease);
                  return lockpb::Lock::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->Lock(ctx, req, &lock);
                }).ok());
  for (uint64_t id = 1; id <= 3; ++id) c.Kill9(id);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  auto r = Get(c, leader, "/durable/", PrefixEnd("/durable/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kvs_size(), 100);
  lockpb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
                  lockpb::LeaseTimeToLiveRequest req;
                  req.set_id(lease);
                  return lockpb::Lease::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->LeaseTimeToLive(ctx, req, &ttl);
                }).ok());
  EXPECT_GT(ttl.ttl(), 0) << "lease lost across a full-cluster crash";
  lockpb::HolderResponse holder;
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
                  lockpb::HolderRequest req;
                  req.set_name("/locks/durable");
                  return lockpb::Lock::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->Holder(ctx, req, &holder);
                }).ok());
  EXPECT_TRUE(holder.held());
  EXPECT_EQ(holder.token(), lock.token());
}

TEST(LockdE2E, LeaderKillElectsNewLeaderAndOldOneCatchesUp) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/f/before", "x").ok());
  c.Kill9(leader);
  uint64_t next = c.AwaitLeader(absl::Seconds(30), leader);
  ASSERT_NE(next, 0u);
  ASSERT_TRUE(Put(rc, "/f/after", "y").ok());
  ASSERT_TRUE(c.Start(leader).ok());
  // The restarted replica catches up: a serializable read on it eventually
  // sees the write made while it was dead.
  EXPECT_TRUE(WaitFor([&] {
    auto r = Get(c, leader, "/f/after", "", /*serializable=*/true);
    return r.ok() && r->kvs_size() == 1;
  }));
}

TEST(LockdE2E, FollowerRedirectsWritesAndServesLinearizableReads) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  uint64_t follower = leader % 3 + 1;
  grpc::ClientContext ctx;
  // The follower's channel may still be connecting: wait for it rather than
  // failing fast with "failed to connect" (seen once under load).
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  lockpb::PutRequest req;
  req.set_key("/r");
  req.set_value("v");
  lockpb::PutResponse resp;
  grpc::Status st = KV::NewStub(c.Channel(follower))->Put(&ctx, req, &resp);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error_message().find(
                absl::StrCat("leader=", leader, "@", c.Address(leader))),
            std::string::npos)
      << st.error_message();
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/r", "v").ok());
  auto r = Get(c, follower, "/r");  // linearizable: must see the write
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs_size(), 1);
}

// Done-when 7: bad input gets a clear error and the daemon keeps serving.
TEST(LockdE2E, BadInputGetsClearErrors) {
  LockdCluster c(1);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  grpc::Status st = Put(rc, "/big", std::string(2 << 20, 'x'));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << st.error_message();
  EXPECT_NE(st.error_message().find("value"), std::string::npos)
      << st.error_message();
  st = Put(rc, "/leased", "x", /*lease=*/987654321);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("987654321"), std::string::npos)
      << st.error_message();
  st = rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    lockpb::TxnRequest req;
    for (int i = 0; i < 1000; ++i) {
      auto* put = req.add_success()->mutable_request_put();
      put->set_key(absl::StrCat("/t/", i));
    }
    lockpb::TxnResponse resp;
    return KV::NewStub(std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
        ->Txn(ctx, req, &resp);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("ops"), std::string::npos)
      << st.error_message();
  auto r = Get(c, 1, "/z", "/a");  // range_end before key
  EXPECT_FALSE(r.ok() && r->kvs_size() > 0);
  st = rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    lockpb::LockRequest req;
    req.set_name("/locks/x");
    req.set_lease(424242);
    lockpb::LockResponse resp;
    return lockpb::Lock::NewStub(
               std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
        ->Lock(ctx, req, &resp);
  });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error_message().find("424242"), std::string::npos)
      << st.error_message();
  // Still serving.
  EXPECT_TRUE(Put(rc, "/still", "alive").ok());
}

// Done-when 3 (first half): a session that stops sending keepalives loses
// its lock and its ephemeral keys, and the lock is not handed to the next
// waiter before TTL plus lock-delay.
TEST(LockdE2E, ExpiredSessionReleasesLockAfterTtlPlusLockDelay) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  int64_t dying = GrantLease(rc, 2);
  ASSERT_NE(dying, 0);
  ASSERT_TRUE(Put(rc, "/eph/key", "x", dying).ok());
  lockpb::LockResponse first;
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
                  lockpb::LockRequest req;
                  req.set_name("/locks/delay");
                  req.set_lease(dying);
                  req.set_lock_delay_ms(1500);
                  return lockpb::Lock::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->Lock(ctx, req, &first);
                }).ok());
  absl::Time granted_at = absl::Now();
  int64_t survivor = GrantLease(rc, 60);
  // The second contender blocks in the server-side queue.
  lockpb::LockResponse second;
  grpc::Status st = rc.OnLeader(
      [&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        lockpb::LockRequest req;
        req.set_name("/locks/delay");
        req.set_lease(survivor);
        return lockpb::Lock::NewStub(
                   std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
            ->Lock(ctx, req, &second);
      },
      absl::Seconds(40));
  absl::Duration waited = absl::Now() - granted_at;
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(second.token(), first.token());
  // Correctness bound, not a speed target: the grant may not come before
  // the dead session's TTL plus the lock-delay.
  EXPECT_GE(waited, absl::Milliseconds(3500 - 100));
  uint64_t leader = c.AwaitLeader();
  auto r = Get(c, leader, "/eph/key");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs_size(), 0) << "ephemeral key outlived its lease";
}

grpc::Status LockCall(RawClient& rc, const std::string& name, int64_t lease,
                      int64_t timeout_ms, absl::Duration client_deadline,
                      lockpb::LockResponse* resp) {
  return rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + client_deadline));
    lockpb::LockRequest req;
    req.set_name(name);
    req.set_lease(lease);
    req.set_timeout_ms(timeout_ms);
    return lockpb::Lock::NewStub(
               std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
        ->Lock(ctx, req, resp);
  });
}

absl::StatusOr<lockpb::HolderResponse> Holder(RawClient& rc,
                                              const std::string& name) {
  lockpb::HolderResponse resp;
  grpc::Status st =
      rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
        lockpb::HolderRequest req;
        req.set_name(name);
        return lockpb::Lock::NewStub(
                   std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
            ->Holder(ctx, req, &resp);
      });
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  return resp;
}

// The Lock RPC waits in the server's queue without a thread of its own
// (lockservice/lockd/lock_acquisition.h). A wait that times out, and one
// whose client hangs up, must each leave the queue, so the lock goes to
// the next live waiter and to nobody else.
TEST(LockdE2E, QueuedLockCallsLeaveTheQueueOnTimeoutAndOnHangUp) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  RawClient rc(&c);
  const std::string name = "/locks/queue";
  int64_t holder = GrantLease(rc, 60);
  ASSERT_NE(holder, 0);
  lockpb::LockResponse held;
  ASSERT_TRUE(LockCall(rc, name, holder, 0, absl::Seconds(5), &held).ok());

  // A server-side timeout: answered with DEADLINE_EXCEEDED by the server.
  int64_t patient = GrantLease(rc, 60);
  lockpb::LockResponse r1;
  grpc::Status st = LockCall(rc, name, patient, 300, absl::Seconds(10), &r1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << st.error_message();
  EXPECT_NE(st.error_message().find("timed out waiting for lock"),
            std::string::npos)
      << st.error_message();

  // A client that gives up (its own deadline, no server timeout).
  int64_t quitter = GrantLease(rc, 60);
  lockpb::LockResponse r2;
  st = LockCall(rc, name, quitter, 0, absl::Milliseconds(300), &r2);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << st.error_message();

  // Both left the queue: only the holder remains.
  bool drained = WaitFor(
      [&] {
        auto h = Holder(rc, name);
        return h.ok() && h->waiters() == 0;
      },
      absl::Seconds(10));
  EXPECT_TRUE(drained) << "a gone waiter is still queued";

  // A live waiter gets the lock when the holder lets go.
  int64_t next = GrantLease(rc, 60);
  lockpb::LockResponse r3;
  grpc::Status waited;
  std::thread waiter(
      [&] { waited = LockCall(rc, name, next, 0, absl::Seconds(30), &r3); });
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = Holder(rc, name);
        return h.ok() && h->waiters() == 1;
      },
      absl::Seconds(10)));
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* ctx) {
                  lockpb::UnlockRequest req;
                  req.set_name(name);
                  req.set_token(held.token());
                  lockpb::UnlockResponse resp;
                  return lockpb::Lock::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->Unlock(ctx, req, &resp);
                }).ok());
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.error_message();
  EXPECT_GT(r3.token(), held.token());
  auto h = Holder(rc, name);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->lease(), next);
}

// Keepalives are renewed in the leader's memory and only checkpointed into
// the log (lockservice/lockd/lease_keeper.h). A session that keeps renewing
// must survive kill -9 of that leader: its lease and its ephemeral key
// outlive two TTLs after the kill, and the session never reports itself
// lost. A lease that stops renewing still expires (previous test).
TEST(LockdE2E, KeptAliveSessionSurvivesLeaderKill) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  lock::ClientOptions co;
  co.dial_timeout = absl::Milliseconds(200);
  auto client = lock::Client::Connect(c.Endpoints(), co);
  ASSERT_TRUE(client.ok()) << client.status();
  lock::SessionOptions so;
  so.ttl = absl::Seconds(3);
  auto session = lock::Session::Create(client->get(), so);
  ASSERT_TRUE(session.ok()) << session.status();
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/eph/kept", "x", (*session)->lease_id()).ok());

  // Renew on the first leader past a full TTL (and several checkpoints).
  auto key_alive = [&] {
    uint64_t l = c.Leader();
    if (l == 0) return true;  // mid-election: nothing to read yet
    auto r = Get(c, l, "/eph/kept");
    return !r.ok() || r->kvs_size() == 1;
  };
  absl::Time until = absl::Now() + absl::Seconds(4);
  EXPECT_TRUE(WaitFor(
      [&] {
        EXPECT_TRUE(key_alive()) << "key gone before the kill";
        return absl::Now() >= until;
      },
      absl::Seconds(10)));
  c.Kill9(leader);
  ASSERT_NE(c.AwaitLeader(absl::Seconds(30), leader), 0u);
  until = absl::Now() + absl::Seconds(6);
  EXPECT_TRUE(WaitFor(
      [&] {
        EXPECT_TRUE(key_alive()) << "key expired after the leader change";
        return absl::Now() >= until;
      },
      absl::Seconds(15)));
  EXPECT_FALSE((*session)->lost()) << (*session)->lost_reason();
  auto r = Get(c, c.AwaitLeader(), "/eph/kept");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs_size(), 1);
}

// Done-when 3 (second half): a watch resumed from an old revision receives
// every later event in order, or the explicit compacted error.
TEST(LockdE2E, WatchResumesFromRevisionOrReportsCompaction) {
  LockdCluster c(3);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/w/0", "start").ok());
  auto r0 = Get(c, leader, "/w/0");
  ASSERT_TRUE(r0.ok());
  int64_t start_rev = r0->kvs(0).mod_revision();
  for (int i = 1; i <= 30; ++i) {
    ASSERT_TRUE(Put(rc, absl::StrCat("/w/", i % 5), absl::StrCat(i)).ok());
  }
  uint64_t follower = leader % 3 + 1;
  auto stub = lockpb::Watch::NewStub(c.Channel(follower));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->Watch(&ctx);
  lockpb::WatchRequest req;
  req.mutable_create_request()->set_key("/w/");
  req.mutable_create_request()->set_range_end(PrefixEnd("/w/"));
  req.mutable_create_request()->set_start_revision(start_rev + 1);
  ASSERT_TRUE(stream->Write(req));
  std::vector<int64_t> revs;
  lockpb::WatchResponse resp;
  while (revs.size() < 30 && stream->Read(&resp)) {
    for (auto& e : resp.events()) revs.push_back(e.kv().mod_revision());
  }
  ASSERT_EQ(revs.size(), 30u);
  for (size_t i = 0; i < revs.size(); ++i) {
    EXPECT_EQ(revs[i], start_rev + 1 + static_cast<int64_t>(i));
  }
  ctx.TryCancel();

  // Compact, then ask for history below the compaction point.
  ASSERT_TRUE(rc.OnLeader([&](grpc::Channel* ch, grpc::ClientContext* cctx) {
                  lockpb::CompactionRequest creq;
                  creq.set_revision(start_rev + 10);
                  lockpb::CompactionResponse cresp;
                  return KV::NewStub(
                             std::shared_ptr<grpc::Channel>(ch, [](auto*) {}))
                      ->Compact(cctx, creq, &cresp);
                }).ok());
  grpc::ClientContext ctx2;
  ctx2.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream2 = lockpb::Watch::NewStub(c.Channel(leader))->Watch(&ctx2);
  req.mutable_create_request()->set_start_revision(start_rev);
  ASSERT_TRUE(stream2->Write(req));
  bool compacted = false;
  while (stream2->Read(&resp)) {
    if (resp.canceled()) {
      compacted = resp.compact_revision() > 0;
      break;
    }
  }
  EXPECT_TRUE(compacted) << "expected an explicit compacted cancellation";
  ctx2.TryCancel();
}

// The created notice and the replayed history often leave in one batch;
// the first Write of a stream used to carry a buffer hint then, and gRPC
// held it (with the stream's initial metadata) until other traffic on the
// connection flushed it: about one CLI watch in a hundred never answered.
// Many fresh connections make that visible.
TEST(LockdE2E, EveryWatchFromHistoryAnswers) {
  LockdCluster c(1);
  ASSERT_TRUE(c.StartAll().ok());
  uint64_t leader = c.AwaitLeader();
  ASSERT_NE(leader, 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/h/a", "1").ok());
  int unanswered = 0;
  for (int i = 0; i < 300; ++i) {
    // A connection of its own each time: traffic of an earlier stream on a
    // shared one would flush the held message and hide the hang.
    grpc::ChannelArguments args;
    args.SetInt("berth.test.connection", i);
    auto stub = lockpb::Watch::NewStub(grpc::CreateCustomChannel(
        c.Address(leader), grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto stream = stub->Watch(&ctx);
    lockpb::WatchRequest req;
    req.mutable_create_request()->set_key("/h/");
    req.mutable_create_request()->set_range_end(PrefixEnd("/h/"));
    req.mutable_create_request()->set_start_revision(1);
    ASSERT_TRUE(stream->Write(req));
    lockpb::WatchResponse resp;
    bool got = false;
    while (!got && stream->Read(&resp)) got = resp.events_size() > 0;
    if (!got) ++unanswered;
    ctx.TryCancel();
    (void)stream->Finish();
  }
  EXPECT_EQ(unanswered, 0) << "watches from revision 1 that never answered";
}

// The Status RPC reports the replica's Raft-thread stall count (issue #13
// item 2). With --stall-threshold-ms 0 every driver step counts, so the
// count is positive and grows, and the replica logged the stalls it counts.
TEST(LockdE2E, StatusReportsRaftThreadStalls) {
  LockdCluster c(1, {"--stall-threshold-ms", "0"});
  ASSERT_TRUE(c.StartAll().ok());
  ASSERT_NE(c.AwaitLeader(), 0u);
  auto status = [&]() -> uint64_t {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    lockpb::StatusResponse resp;
    grpc::Status st = lockpb::Cluster::NewStub(c.Channel(1))
                          ->Status(&ctx, lockpb::StatusRequest(), &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.raft_thread_stalls();
  };
  const uint64_t first = status();
  EXPECT_GT(first, 0u);
  RawClient rc(&c);
  ASSERT_TRUE(Put(rc, "/stall", "1").ok());
  EXPECT_GT(status(), first);
  std::ifstream log(absl::StrCat(c.dir(), "/lockd-1.log"));
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("raft thread stall: "), std::string::npos);
}

// A replica whose wall clock runs ten minutes ahead of the kernel's
// (libfaketime, as the nemesis clock-skew fault does it). abseil's timed
// waits follow absl::Now() but sleep on the kernel's realtime clock, so
// each of them lasted the whole offset: the leader's duties thread slept
// for minutes and no lease expired (common/monotonic_wait.h). The replica
// must elect itself, expire a lease and end a lock wait at its timeout as
// if its clock were right.
TEST(LockdE2E, WallClockAheadOfTheKernelDelaysNoTimer) {
  LockdCluster c(1);
  setenv("LD_PRELOAD", BERTH_LIBFAKETIME, 1);
  setenv("FAKETIME", "+600s", 1);
  setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
  const absl::Status started = c.StartAll();
  unsetenv("LD_PRELOAD");
  unsetenv("FAKETIME");
  unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_NE(c.AwaitLeader(absl::Seconds(30)), 0u);
  RawClient rc(&c);

  const int64_t dying = GrantLease(rc, 2);
  ASSERT_NE(dying, 0);
  ASSERT_TRUE(Put(rc, "/clock/eph", "x", dying).ok());

  // A server-side lock wait timeout fires from the replica's timer queue.
  const int64_t holder = GrantLease(rc, 60);
  lockpb::LockResponse held;
  ASSERT_TRUE(
      LockCall(rc, "/clock/lock", holder, 0, absl::Seconds(10), &held).ok());
  const int64_t waiter = GrantLease(rc, 60);
  lockpb::LockResponse none;
  grpc::Status st =
      LockCall(rc, "/clock/lock", waiter, 500, absl::Seconds(60), &none);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << st.error_message();
  EXPECT_NE(st.error_message().find("timed out waiting for lock"),
            std::string::npos)
      << "the client's own 60 s deadline ended the wait, not the server's "
         "500 ms timeout: "
      << st.error_message();

  // Correctness bound, 20 times the TTL and far below the offset: the
  // lease's key goes once its 2 s pass.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = Get(c, 1, "/clock/eph");
        return r.ok() && r->kvs_size() == 0;
      },
      absl::Seconds(40)))
      << "a lease outlived its TTL by more than 38 s on a replica whose "
         "clock runs ahead";
}

}  // namespace
}  // namespace berth::e2e
