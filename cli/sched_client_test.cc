// SchedClient against an in-process fake scheduler on 127.0.0.1: it asks
// again while no scheduler leads (a failover) and returns real answers at
// once. The backoff between rounds is recorded, not slept.
#include "cli/sched_client.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

// Answers SubmitJob with `answers` in turn, then OK.
class FakeScheduler : public schedpb::Scheduler::Service {
 public:
  explicit FakeScheduler(std::vector<grpc::Status> answers)
      : answers_(std::move(answers)) {}
  grpc::Status SubmitJob(grpc::ServerContext*, const schedpb::SubmitJobRequest*,
                         schedpb::SubmitJobResponse*) override {
    const size_t n = calls_++;
    return n < answers_.size() ? answers_[n] : grpc::Status::OK;
  }
  int calls() const { return calls_; }

 private:
  const std::vector<grpc::Status> answers_;
  std::atomic<int> calls_{0};
};

class SchedClientTest : public ::testing::Test {
 protected:
  void Start(std::vector<grpc::Status> answers) {
    fake_ = std::make_unique<FakeScheduler>(std::move(answers));
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(fake_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }
  absl::Status Submit(std::vector<absl::Duration>* slept) {
    SchedClient c({address_}, absl::Seconds(30), nullptr,
                  [slept](absl::Duration d) { slept->push_back(d); });
    return c.Run([](schedpb::Scheduler::Stub* stub, grpc::ClientContext* ctx) {
      schedpb::SubmitJobRequest req;
      schedpb::SubmitJobResponse resp;
      return stub->SubmitJob(ctx, req, &resp);
    });
  }

  std::unique_ptr<FakeScheduler> fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(SchedClientTest, AsksAgainWhileNoSchedulerLeads) {
  const grpc::Status no_leader(
      grpc::StatusCode::FAILED_PRECONDITION,
      "not the leader, and no scheduler leads right now; retry shortly");
  const grpc::Status loading(grpc::StatusCode::UNAVAILABLE,
                             "scheduler s2 is still loading the cluster state");
  Start({no_leader, loading, no_leader});
  std::vector<absl::Duration> slept;
  absl::Status st = Submit(&slept);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(fake_->calls(), 4);
  EXPECT_EQ(slept, (std::vector<absl::Duration>{absl::Milliseconds(100),
                                                absl::Milliseconds(200),
                                                absl::Milliseconds(400)}));
}

TEST_F(SchedClientTest, ReturnsOtherErrorsAtOnce) {
  Start({grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "job default/web is stopped")});
  std::vector<absl::Duration> slept;
  absl::Status st = Submit(&slept);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("is stopped"), std::string::npos) << st;
  EXPECT_NE(st.message().find(address_), std::string::npos) << st;
  EXPECT_EQ(fake_->calls(), 1);
  EXPECT_TRUE(slept.empty());
}

}  // namespace
}  // namespace berth::cli
