// LeaseKeepAlive through the real LeaseService and Core, on an in-process
// gRPC server on 127.0.0.1, over a fake Raft node whose read barriers and
// proposals complete only when the test says so. That makes the number of
// barrier rounds exact: requests that arrive while a barrier is held must
// all ride on the next one.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "lockservice/lockd/core.h"
#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/lockd/replicated_store.h"
#include "lockservice/lockd/services.h"
#include "lockservice/server/testing/temp_state_machine.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// Leads term 1 (or follows leader 2) and parks every barrier and proposal
// until the test completes it.
class FakeNode final : public node::RaftNode {
 public:
  void Start() override {}
  void Stop() override {}
  uint64_t ProposeAsync(std::string payload, absl::Time,
                        node::ProposeDone done) override {
    absl::MutexLock l(&mu_);
    proposals_.push_back({++next_ticket_, std::move(payload), std::move(done)});
    return next_ticket_;
  }
  uint64_t ReadBarrierAsync(absl::Time, node::ReadDone done) override {
    absl::MutexLock l(&mu_);
    ++barriers_started_;
    barriers_.push_back({++next_ticket_, std::move(done)});
    return next_ticket_;
  }
  void Cancel(uint64_t ticket, absl::Status why) override {
    node::ReadDone read;
    node::ProposeDone prop;
    {
      absl::MutexLock l(&mu_);
      for (auto it = barriers_.begin(); it != barriers_.end(); ++it) {
        if (it->ticket != ticket) continue;
        read = std::move(it->done);
        barriers_.erase(it);
        break;
      }
      for (auto it = proposals_.begin(); it != proposals_.end(); ++it) {
        if (it->ticket != ticket) continue;
        prop = std::move(it->done);
        proposals_.erase(it);
        break;
      }
      ++cancels_;
    }
    if (read) std::move(read)(why);
    if (prop) std::move(prop)(why);
  }
  absl::StatusOr<std::string> Propose(std::string, absl::Time) override {
    return absl::UnimplementedError("blocking propose");
  }
  absl::Status ReadBarrier(absl::Time) override {
    return absl::UnimplementedError("blocking barrier");
  }
  absl::Status ProposeConfChange(const raftpb::ConfChange&,
                                 absl::Time) override {
    return absl::UnimplementedError("");
  }
  absl::Status TransferLeadership(uint64_t, absl::Time) override {
    return absl::UnimplementedError("");
  }
  void Receive(raftpb::Message) override {}
  void ReportUnreachable(uint64_t) override {}
  node::NodeStatus GetStatus() override {
    absl::MutexLock l(&mu_);
    node::NodeStatus s;
    s.id = 1;
    s.term = 1;
    s.leader = leading_ ? 1 : 2;
    s.role = leading_ ? raft::Role::kLeader : raft::Role::kFollower;
    return s;
  }
  void OnLeaderChange(std::function<void(uint64_t, uint64_t)>) override {}

  void set_leading(bool v) {
    absl::MutexLock l(&mu_);
    leading_ = v;
  }
  int barriers_started() {
    absl::MutexLock l(&mu_);
    return barriers_started_;
  }
  size_t parked_barriers() {
    absl::MutexLock l(&mu_);
    return barriers_.size();
  }
  int cancels() {
    absl::MutexLock l(&mu_);
    return cancels_;
  }
  // Waits until `n` barriers are parked.
  bool AwaitBarriers(size_t n) {
    absl::MutexLock l(&mu_);
    auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return barriers_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
  }
  // Completes the oldest parked barrier with `st`.
  void ReleaseBarrier(absl::Status st = absl::OkStatus()) {
    node::ReadDone done;
    {
      absl::MutexLock l(&mu_);
      ASSERT_FALSE(barriers_.empty());
      done = std::move(barriers_.front().done);
      barriers_.erase(barriers_.begin());
    }
    std::move(done)(st);
  }
  // Waits for a parked proposal, then answers it with `r`; returns the
  // command it carried.
  lockpb::Command AnswerProposal(absl::StatusOr<std::string> r) {
    node::ProposeDone done;
    lockpb::Command cmd;
    {
      absl::MutexLock l(&mu_);
      auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !proposals_.empty();
      };
      EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&ready), kWait));
      if (proposals_.empty()) return cmd;
      cmd.ParseFromString(proposals_.front().payload);
      done = std::move(proposals_.front().done);
      proposals_.erase(proposals_.begin());
    }
    std::move(done)(std::move(r));
    return cmd;
  }

 private:
  struct Barrier {
    uint64_t ticket;
    node::ReadDone done;
  };
  struct Proposal {
    uint64_t ticket;
    std::string payload;
    node::ProposeDone done;
  };
  absl::Mutex mu_;
  bool leading_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  int barriers_started_ ABSL_GUARDED_BY(mu_) = 0;
  int cancels_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Barrier> barriers_ ABSL_GUARDED_BY(mu_);
  std::vector<Proposal> proposals_ ABSL_GUARDED_BY(mu_);
};

using Stream = grpc::ClientReaderWriter<lockpb::LeaseKeepAliveRequest,
                                        lockpb::LeaseKeepAliveResponse>;

class KeepAliveStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sm = dir_.Open();
    ASSERT_TRUE(sm.ok()) << sm.status();
    store_ = std::make_unique<ReplicatedStore>(*std::move(sm), &hub_);
    CoreOptions co;
    co.id = 1;
    co.self_address = "127.0.0.1:1";
    core_ = std::make_unique<Core>(co, &clock_, &node_, store_.get());
    core_->SetBootstrapAddresses({{1, "127.0.0.1:1"}, {2, "127.0.0.1:2"}});
    LeaseKeeperOptions ko;
    ko.self_id = 1;
    auto keeper = LeaseKeeper::Create(&clock_, ko);
    ASSERT_TRUE(keeper.ok()) << keeper.status();
    keeper_ = *std::move(keeper);
    keeper_->ObserveLeader(1, 1);
    core_->set_lease_keeper(keeper_.get());
    service_ = std::make_unique<LeaseService>(core_.get());

    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = lockpb::Lease::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    server_.reset();
  }

  // Grants lease `id` with `ttl_ms` straight into the state machine.
  void Grant(int64_t id, int64_t ttl_ms) {
    lockpb::Command cmd;
    cmd.mutable_lease_grant()->set_id(id);
    cmd.mutable_lease_grant()->set_ttl_ms(ttl_ms);
    cmd.set_leader_time_unix_ms(absl::ToUnixMillis(clock_.Now()));
    store_->Apply(++index_, cmd.SerializeAsString());
  }
  // Waits until the service has read `n` keepalive requests in all.
  // Lets through the barrier rounds that renew the first `n` requests: the
  // first round, and the one behind it if requests arrived while it was
  // held.
  void ReleaseRoundsFor(uint64_t n) {
    ASSERT_TRUE(node_.AwaitBarriers(1));
    ASSERT_TRUE(AwaitRequestsRead(n));
    node_.ReleaseBarrier();
    if (node_.barriers_started() > 1) {
      ASSERT_TRUE(node_.AwaitBarriers(1));
      node_.ReleaseBarrier();
    }
  }
  bool AwaitRequestsRead(uint64_t n) {
    const absl::Time until = absl::Now() + kWait;
    while (service_->keepalive_stats().requests.load() < n) {
      if (absl::Now() > until) return false;
      absl::SleepFor(absl::Milliseconds(1));  // polling a condition
    }
    return true;
  }
  static void Send(Stream* s, const std::vector<int64_t>& ids) {
    for (int64_t id : ids) {
      lockpb::LeaseKeepAliveRequest req;
      req.set_id(id);
      ASSERT_TRUE(s->Write(req));
    }
  }
  // Reads `n` answers: (id, ttl seconds) in arrival order.
  static std::vector<std::pair<int64_t, int64_t>> Receive(Stream* s, int n) {
    std::vector<std::pair<int64_t, int64_t>> got;
    lockpb::LeaseKeepAliveResponse resp;
    for (int i = 0; i < n && s->Read(&resp); ++i) {
      got.emplace_back(resp.id(), resp.ttl());
    }
    return got;
  }

  lock::TempStateMachineDir dir_{"keepalive_stream"};
  SimClock clock_;
  FakeNode node_;
  WatchHub hub_;
  std::unique_ptr<ReplicatedStore> store_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<LeaseKeeper> keeper_;
  std::unique_ptr<LeaseService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<lockpb::Lease::Stub> stub_;
  uint64_t index_ = 0;
};

TEST_F(KeepAliveStreamTest, RequestsQueuedBehindABarrierShareTheNextOne) {
  constexpr int kLeases = 200;
  std::vector<int64_t> ids;
  for (int i = 1; i <= kLeases; ++i) {
    Grant(i, 10'000);
    ids.push_back(i);
  }
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), ids);
  // The first round starts with whatever had arrived; hold its barrier
  // until every request has been read, so the rest must share one round.
  ASSERT_TRUE(node_.AwaitBarriers(1));
  ASSERT_TRUE(AwaitRequestsRead(kLeases));
  node_.ReleaseBarrier();
  ASSERT_TRUE(node_.AwaitBarriers(1));
  node_.ReleaseBarrier();

  std::vector<std::pair<int64_t, int64_t>> got = Receive(s.get(), kLeases);
  ASSERT_EQ(got.size(), kLeases);
  for (int i = 0; i < kLeases; ++i) {
    EXPECT_EQ(got[i].first, ids[i]) << "answers must follow request order";
    EXPECT_EQ(got[i].second, 10);
  }
  EXPECT_EQ(node_.barriers_started(), 2);
  EXPECT_EQ(service_->keepalive_stats().rounds.load(), 2u);
  EXPECT_EQ(keeper_->size(), static_cast<size_t>(kLeases));
  s->WritesDone();
  EXPECT_TRUE(s->Finish().ok());
}

TEST_F(KeepAliveStreamTest, UnknownLeaseGetsTtlZeroInOrder) {
  Grant(1, 6'000);
  Grant(3, 9'000);
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1, 2, 3});
  ASSERT_NO_FATAL_FAILURE(ReleaseRoundsFor(3));
  EXPECT_EQ(Receive(s.get(), 3),
            (std::vector<std::pair<int64_t, int64_t>>{{1, 6}, {2, 0}, {3, 9}}));
  // A half-close ends the stream cleanly once everything is answered.
  s->WritesDone();
  EXPECT_TRUE(s->Finish().ok());
}

TEST_F(KeepAliveStreamTest, HalfCloseWaitsForAnswersInFlight) {
  Grant(1, 3'000);
  Grant(2, 3'000);
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1, 2});
  s->WritesDone();
  ASSERT_NO_FATAL_FAILURE(ReleaseRoundsFor(2));
  EXPECT_EQ(Receive(s.get(), 3),
            (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 3}}));
  EXPECT_TRUE(s->Finish().ok());
}

TEST_F(KeepAliveStreamTest, NotLeaderEndsTheStreamWithTheLeaderHint) {
  Grant(1, 3'000);
  node_.set_leading(false);
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1});
  EXPECT_TRUE(Receive(s.get(), 1).empty());
  grpc::Status st = s->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("leader=2@127.0.0.1:2"), std::string::npos)
      << st.error_message();
  EXPECT_EQ(node_.barriers_started(), 0);
}

TEST_F(KeepAliveStreamTest, BarrierFailureEndsTheStreamAfterEarlierAnswers) {
  Grant(1, 3'000);
  Grant(2, 3'000);
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1});
  ASSERT_TRUE(node_.AwaitBarriers(1));
  node_.ReleaseBarrier();
  EXPECT_EQ(Receive(s.get(), 1),
            (std::vector<std::pair<int64_t, int64_t>>{{1, 3}}));
  Send(s.get(), {2, 1});
  ASSERT_TRUE(node_.AwaitBarriers(1));
  node_.ReleaseBarrier(absl::UnavailableError("no quorum"));
  // If request 1 came in a third round, that round never starts.
  EXPECT_TRUE(Receive(s.get(), 1).empty());
  grpc::Status st = s->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "no quorum");
}

TEST_F(KeepAliveStreamTest, ExpiringLeaseIsRenewedThroughTheLogInOrder) {
  Grant(1, 4'000);
  Grant(2, 5'000);
  ASSERT_TRUE(keeper_->BeginExpire(1));
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1, 2});
  ASSERT_NO_FATAL_FAILURE(ReleaseRoundsFor(2));
  // Lease 2's answer waits behind lease 1's, which goes through the log.
  CommandOutcome out;
  out.result.mutable_lease()->set_id(1);
  out.result.mutable_lease()->set_ttl_ms(4'000);
  lockpb::Command cmd = node_.AnswerProposal(EncodeOutcome(out));
  EXPECT_EQ(cmd.lease_keepalive().id(), 1);
  EXPECT_EQ(Receive(s.get(), 2),
            (std::vector<std::pair<int64_t, int64_t>>{{1, 4}, {2, 5}}));
  s->WritesDone();
  EXPECT_TRUE(s->Finish().ok());
}

TEST_F(KeepAliveStreamTest, ClientCancelReleasesTheParkedBarrier) {
  Grant(1, 3'000);
  grpc::ClientContext ctx;
  auto s = stub_->LeaseKeepAlive(&ctx);
  Send(s.get(), {1});
  ASSERT_TRUE(node_.AwaitBarriers(1));
  ctx.TryCancel();
  EXPECT_EQ(s->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The server cancels the barrier it was waiting for instead of holding
  // the stream until the barrier's deadline.
  const absl::Time until = absl::Now() + kWait;
  while (node_.cancels() == 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a condition
  }
  EXPECT_GE(node_.cancels(), 1);
  EXPECT_EQ(node_.parked_barriers(), 0u);
}

}  // namespace
}  // namespace berth::lockd
