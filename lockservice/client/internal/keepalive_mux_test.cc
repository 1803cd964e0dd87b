// Many Sessions of one Client over one LeaseKeepAlive stream, against an
// in-process fake Lease service on 127.0.0.1 that counts streams. The fake
// answers at once (or, as told, like a follower or a stalled replica);
// tests wait on conditions with deadlines, never on time. The leader-change
// tests drive the mux's time with a SimClock.
#include "lockservice/client/internal/keepalive_mux.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/router.h"
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
        if (!not_leader_.empty()) {
          // What lockd's keepalive round says on a follower.
          result =
              grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, not_leader_);
          break;
        }
        if (frozen_) {
          ++held_;
          continue;  // a stalled replica: reads, never answers
        }
        auto own = answer_ttl_of_.find(q.id());
        r.set_ttl(gone_.count(q.id()) > 0       ? 0
                  : own != answer_ttl_of_.end() ? own->second
                                                : answer_ttl_);
        ++answered_;
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
  int fail_stream_ ABSL_GUARDED_BY(mu_) = 0;     // this stream fails at once
  int64_t answer_ttl_ ABSL_GUARDED_BY(mu_) = 5;  // seconds, in answers
  std::map<int64_t, int64_t> answer_ttl_of_ ABSL_GUARDED_BY(mu_);  // per id
  // Not empty: keepalives end the stream with this FAILED_PRECONDITION.
  std::string not_leader_ ABSL_GUARDED_BY(mu_);
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;  // read, never answer
  int held_ ABSL_GUARDED_BY(mu_) = 0;         // read while frozen
  int answered_ ABSL_GUARDED_BY(mu_) = 0;     // keepalives answered
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

// Records what the mux reports for one lease, for tests that use the mux
// directly (Session keeps its expiry to itself).
class Probe {
 public:
  internal::KeepAliveHandlers Handlers() {
    internal::KeepAliveHandlers h;
    h.on_renewed = [this](absl::Time until) {
      absl::MutexLock l(&mu_);
      ++renewals_;
      until_ = until;
    };
    h.on_lost = [this](const absl::Status& why) {
      absl::MutexLock l(&mu_);
      lost_ = why;
    };
    return h;
  }
  // Waits (30 s of real time at most) until the lease is renewed until
  // `t` or later.
  bool WaitRenewedUntil(absl::Time t) {
    absl::MutexLock l(&mu_);
    auto done = [&]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return until_ >= t; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
  }
  // As WaitRenewedUntil, for a first renewal whose timing the test does
  // not assert: on a loaded machine the first stream can end without a
  // leader hint (seen once in CI), and the mux's back-off before the next
  // stream runs on the SimClock, so the clock is nudged 5 ms (under
  // Fast()'s 20 ms back-off cap) each time 100 ms pass with no renewal.
  bool WaitRenewedNudging(SimClock* clock, absl::Time t) {
    for (int i = 0; i < 300; ++i) {
      {
        absl::MutexLock l(&mu_);
        auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return until_ >= t;
        };
        if (mu_.AwaitWithTimeout(absl::Condition(&done),
                                 absl::Milliseconds(100))) {
          return true;
        }
      }
      clock->Advance(absl::Milliseconds(5));
    }
    return false;
  }
  // Waits (30 s of real time at most) until on_lost has run.
  bool WaitLost() {
    absl::MutexLock l(&mu_);
    auto done = [&]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !lost_.ok(); };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
  }
  absl::Time until() {
    absl::MutexLock l(&mu_);
    return until_;
  }
  absl::Status lost() {
    absl::MutexLock l(&mu_);
    return lost_;
  }

 private:
  absl::Mutex mu_;
  int renewals_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
};

std::string NotLeader(uint64_t id, const FakeLease& leader) {
  return absl::StrCat("not the leader; leader=", id, "@", leader.addr());
}

TEST(KeepAliveMuxTest, FollowsLeaderHintAtOnceAndRemembersIt) {
  SimClock clock;
  FakeLease follower, leader;
  {
    absl::MutexLock l(&follower.mu_);
    follower.not_leader_ = NotLeader(2, leader);
  }
  ClientOptions o = Fast();
  o.clock = &clock;
  // Only the follower is known: the leader is learnt from its hint.
  auto client = Client::Connect({follower.addr()}, o);
  ASSERT_TRUE(client.ok());
  Probe probe;
  const absl::Time t0 = clock.Now();
  const int64_t handle = (*client)->keepalive_mux().Add(
      7, absl::Seconds(3), t0 + absl::Seconds(3), probe.Handlers());
  // Renewed by the leader with no simulated time passing: the follower's
  // rejection sent the very next stream there, without a backoff.
  ASSERT_TRUE(probe.WaitRenewedUntil(t0 + absl::Seconds(5)));
  EXPECT_EQ(clock.Now(), t0);
  EXPECT_EQ((*client)->router().leader(), leader.addr());
  // Later renewals go straight to the leader: the hint is remembered.
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(probe.WaitRenewedUntil(t0 + absl::Seconds(6)));
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(probe.WaitRenewedUntil(t0 + absl::Seconds(7)));
  EXPECT_TRUE(probe.lost().ok()) << probe.lost();
  (*client)->keepalive_mux().Remove(handle);
  absl::MutexLock lf(&follower.mu_);
  EXPECT_EQ(follower.streams_, 1);
  EXPECT_EQ(follower.renewals_[7], 1);
  absl::MutexLock ll(&leader.mu_);
  EXPECT_EQ(leader.streams_, 1);
  EXPECT_EQ(leader.answered_, 3);
}

TEST(KeepAliveMuxTest, LeaseSurvivesLeaderChangeShorterThanItsTtl) {
  SimClock clock;
  FakeLease a, b;  // b leads first; a takes over
  {
    absl::MutexLock l(&a.mu_);
    a.not_leader_ = NotLeader(2, b);
    a.answer_ttl_ = 3;
  }
  {
    absl::MutexLock l(&b.mu_);
    b.answer_ttl_ = 3;
  }
  ClientOptions o = Fast();
  o.clock = &clock;
  auto client = Client::Connect({a.addr(), b.addr()}, o);
  ASSERT_TRUE(client.ok());
  Probe probe;
  const absl::Duration ttl = absl::Seconds(3);  // renewed every 1 s
  const absl::Time t0 = clock.Now();
  const int64_t handle =
      (*client)->keepalive_mux().Add(9, ttl, t0 + ttl, probe.Handlers());
  ASSERT_TRUE(probe.WaitRenewedNudging(&clock, t0 + ttl));
  ASSERT_EQ((*client)->router().leader(), b.addr());

  // b stalls (CPU-starved, then deposed) right after renewing at t0: the
  // renewal due at t0+1s reaches it and is never answered.
  {
    absl::MutexLock l(&b.mu_);
    b.frozen_ = true;
  }
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.WaitFor(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(b.mu_) { return b.held_ >= 1; }));
  // a wins the election 1.5 s after b's last answer, half the TTL.
  clock.Advance(absl::Milliseconds(500));
  {
    absl::MutexLock l(&a.mu_);
    a.not_leader_.clear();
  }
  // The request has waited its patience (half the lease's remaining life,
  // 1 s): the mux hangs up on b and renews on a at once.
  clock.Advance(absl::Milliseconds(700));
  const absl::Time after_change = clock.Now();
  ASSERT_TRUE(probe.WaitRenewedUntil(after_change + ttl));
  // Past the lease's original end (t0 + 3 s): alive, renewed by a.
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(probe.WaitRenewedUntil(clock.Now() + ttl));
  EXPECT_GT(clock.Now(), t0 + ttl);
  EXPECT_TRUE(probe.lost().ok()) << probe.lost();
  (*client)->keepalive_mux().Remove(handle);
  absl::MutexLock l(&a.mu_);
  EXPECT_EQ(a.answered_, 2);
}

// The mux keeps its leases in indexes by due time and by expiry rather than
// scanning them all on each wake-up; this checks that leases of different
// TTLs keep their own schedules and expire in their own order.
TEST(KeepAliveMuxTest, EachLeaseKeepsItsOwnScheduleAndExpiry) {
  SimClock clock;
  FakeLease fake;
  {
    absl::MutexLock l(&fake.mu_);
    fake.answer_ttl_of_[1] = 3;
    fake.answer_ttl_of_[2] = 30;
  }
  ClientOptions o = Fast();
  o.clock = &clock;
  auto client = Client::Connect({fake.addr()}, o);
  ASSERT_TRUE(client.ok());
  Probe fast, slow;  // renewed every 1 s and every 10 s
  const absl::Time t0 = clock.Now();
  auto& mux = (*client)->keepalive_mux();
  const int64_t hf =
      mux.Add(1, absl::Seconds(3), t0 + absl::Seconds(3), fast.Handlers());
  const int64_t hs =
      mux.Add(2, absl::Seconds(30), t0 + absl::Seconds(30), slow.Handlers());
  ASSERT_TRUE(fast.WaitRenewedNudging(&clock, t0 + absl::Seconds(3)));
  ASSERT_TRUE(slow.WaitRenewedUntil(t0 + absl::Seconds(30)));
  for (int i = 1; i <= 9; ++i) {
    clock.Advance(absl::Seconds(1));
    ASSERT_TRUE(fast.WaitRenewedUntil(clock.Now() + absl::Seconds(3))) << i;
  }
  {
    absl::MutexLock l(&fake.mu_);
    EXPECT_GE(fake.renewals_[1], 10);
    EXPECT_EQ(fake.renewals_[2], 1);  // not due before 10 s
  }
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(slow.WaitRenewedUntil(clock.Now() + absl::Seconds(30)));

  // A replica that stops answering: the 3 s lease runs out first, the 30 s
  // one lives on.
  const absl::Time frozen_at = clock.Now();
  {
    absl::MutexLock l(&fake.mu_);
    fake.frozen_ = true;
  }
  clock.Advance(absl::Milliseconds(3500));
  ASSERT_TRUE(fast.WaitLost());
  EXPECT_EQ(clock.Now(), frozen_at + absl::Milliseconds(3500));
  EXPECT_EQ(fast.lost().code(), absl::StatusCode::kUnavailable) << fast.lost();
  EXPECT_THAT(std::string(fast.lost().message()), HasSubstr("expired"));
  EXPECT_TRUE(slow.lost().ok()) << slow.lost();
  mux.Remove(hf);
  mux.Remove(hs);
}

}  // namespace
}  // namespace berth::lock
