// ProxyLogs without gRPC: scripted agent streams show what is forwarded,
// what a reconnect asks for, and which error names which problem.
#include "scheduler/server/logs_proxy.h"

#include <deque>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

using ::testing::HasSubstr;

// One scripted agent call: these chunks, then this status.
struct Script {
  std::vector<std::string> chunks;
  grpc::Status end = grpc::Status::OK;
};

class ScriptedStream final : public AgentLogStream {
 public:
  ScriptedStream(Script script, uint64_t offset)
      : script_(std::move(script)), offset_(offset) {}
  bool Read(agentpb::LogChunk* c) override {
    if (next_ >= script_.chunks.size()) return false;
    c->set_data(script_.chunks[next_++]);
    c->set_offset(offset_);
    offset_ += c->data().size();
    c->set_next_offset(offset_);
    return true;
  }
  grpc::Status Finish() override { return script_.end; }

 private:
  Script script_;
  uint64_t offset_;
  size_t next_ = 0;
};

class ProxyLogsTest : public ::testing::Test {
 protected:
  LogsProxyDeps Deps() {
    LogsProxyDeps d;
    d.open = [this](const std::string& address, const agentpb::LogsRequest& r) {
      addresses_.push_back(address);
      requests_.push_back(r);
      Script s;
      if (!scripts_.empty()) {
        s = scripts_.front();
        scripts_.pop_front();
      } else {
        s.end =
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
      }
      return std::make_unique<ScriptedStream>(s, r.offset());
    };
    d.node_address = [this](const std::string&) -> std::optional<std::string> {
      if (node_gone_after_ >= 0 && lookups_++ >= node_gone_after_) {
        return std::nullopt;
      }
      return address_;
    };
    d.send = [this](const schedpb::AllocLogsChunk& c) {
      sent_.push_back(c);
      return true;
    };
    d.wait = [this](absl::Duration d) {
      waits_.push_back(d);
      return true;
    };
    return d;
  }
  std::string Data() const {
    std::string out;
    for (const auto& c : sent_) out += c.data();
    return out;
  }
  std::vector<std::string> Notices() const {
    std::vector<std::string> out;
    for (const auto& c : sent_) {
      if (!c.notice().empty()) out.push_back(c.notice());
    }
    return out;
  }

  LogsTarget target_{"a1", "n1", 0};
  std::string address_ = "127.0.0.1:1";
  int node_gone_after_ = -1;  // lookups before the node disappears
  int lookups_ = 0;
  std::deque<Script> scripts_;
  std::vector<std::string> addresses_;
  std::vector<agentpb::LogsRequest> requests_;
  std::vector<schedpb::AllocLogsChunk> sent_;
  std::vector<absl::Duration> waits_;
};

TEST_F(ProxyLogsTest, ForwardsOutputAfterAHeaderNamingTheAllocation) {
  scripts_.push_back({{"hello\n", "world\n"}});
  schedpb::AllocLogsRequest req;
  req.set_tail_lines(5);
  req.set_stream(agentpb::STDERR);
  ASSERT_TRUE(ProxyLogs(req, target_, Deps()).ok());
  ASSERT_FALSE(sent_.empty());
  EXPECT_EQ(sent_[0].alloc_id(), "a1");
  EXPECT_EQ(sent_[0].node(), "n1");
  EXPECT_EQ(Data(), "hello\nworld\n");
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].alloc_id(), "a1");
  EXPECT_EQ(requests_[0].tail_lines(), 5);
  EXPECT_EQ(requests_[0].stream(), agentpb::STDERR);
  EXPECT_EQ(sent_.back().next_offset(), 12u);
}

TEST_F(ProxyLogsTest, FollowResumesAfterTheLastOffsetWhenTheAgentRestarts) {
  scripts_.push_back(
      {{"one\n", "two\n"},
       grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed")});
  // The restarting agent refuses connections twice, then serves the rest.
  scripts_.push_back(
      {{}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")});
  scripts_.push_back(
      {{}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")});
  scripts_.push_back({{"three\n"}});
  schedpb::AllocLogsRequest req;
  req.set_follow(true);
  req.set_tail_lines(10);
  ASSERT_TRUE(ProxyLogs(req, target_, Deps()).ok());
  EXPECT_EQ(Data(), "one\ntwo\nthree\n");
  ASSERT_EQ(requests_.size(), 4u);
  for (size_t i = 1; i < requests_.size(); ++i) {
    EXPECT_EQ(requests_[i].offset(), 8u) << i;
    EXPECT_EQ(requests_[i].tail_lines(), 0) << i;
    EXPECT_TRUE(requests_[i].follow());
  }
  // Backoff doubles between failed attempts.
  ASSERT_EQ(waits_.size(), 3u);
  EXPECT_LT(waits_[0], waits_[1]);
  EXPECT_LT(waits_[1], waits_[2]);
  ASSERT_EQ(Notices().size(), 2u);
  EXPECT_THAT(Notices()[0], HasSubstr("unreachable"));
  EXPECT_THAT(Notices()[1], HasSubstr("reconnected"));
}

TEST_F(ProxyLogsTest, FollowLooksTheNodeUpAgainAndUsesItsNewAddress) {
  scripts_.push_back(
      {{"a"}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed")});
  scripts_.push_back({{"b"}});
  LogsProxyDeps deps = Deps();
  int calls = 0;
  deps.node_address = [&](const std::string& n) -> std::optional<std::string> {
    return ++calls == 1 ? "127.0.0.1:1" : "127.0.0.1:2";
  };
  schedpb::AllocLogsRequest req;
  req.set_follow(true);
  ASSERT_TRUE(ProxyLogs(req, target_, deps).ok());
  EXPECT_EQ(Data(), "ab");
  EXPECT_EQ(addresses_,
            (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"}));
}

TEST_F(ProxyLogsTest, FollowFailsNamingTheNodeWhenItIsGone) {
  scripts_.push_back(
      {{"a"}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed")});
  node_gone_after_ = 1;
  schedpb::AllocLogsRequest req;
  req.set_follow(true);
  absl::Status s = ProxyLogs(req, target_, Deps());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("node n1 is gone"));
  EXPECT_EQ(Data(), "a");
}

TEST_F(ProxyLogsTest, FollowGivesUpOnAnUnreachableAgentAfterTheWindow) {
  schedpb::AllocLogsRequest req;
  req.set_follow(true);
  LogsProxyOptions o;
  o.first_backoff = absl::Seconds(1);
  o.max_backoff = absl::Seconds(1);
  o.reconnect_window = absl::Seconds(5);
  absl::Status s = ProxyLogs(req, target_, Deps(), o);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("agent of node n1 at 127.0.0.1:1 is "
                                     "unreachable: connection refused"));
  EXPECT_EQ(waits_.size(), 5u);
}

TEST_F(ProxyLogsTest, WithoutFollowAnUnreachableAgentFailsAtOnce) {
  schedpb::AllocLogsRequest req;
  absl::Status s = ProxyLogs(req, target_, Deps());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("unreachable"));
  EXPECT_TRUE(waits_.empty());
}

TEST_F(ProxyLogsTest, FollowWaitsForATaskThatHasNotStartedYet) {
  scripts_.push_back(
      {{}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no logs for a1")});
  scripts_.push_back(
      {{}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no logs for a1")});
  scripts_.push_back({{"started\n"}});
  schedpb::AllocLogsRequest req;
  req.set_follow(true);
  ASSERT_TRUE(ProxyLogs(req, target_, Deps()).ok());
  EXPECT_EQ(Data(), "started\n");
  ASSERT_EQ(Notices().size(), 1u);
  EXPECT_THAT(Notices()[0], HasSubstr("waiting for it to start"));
}

TEST_F(ProxyLogsTest, WithoutFollowMissingLogsAreNotFound) {
  scripts_.push_back(
      {{}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no logs for a1")});
  absl::Status s = ProxyLogs(schedpb::AllocLogsRequest(), target_, Deps());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("node n1: no logs for a1"));
}

TEST_F(ProxyLogsTest, StopsWhenTheCallerGoesAway) {
  scripts_.push_back({{"a", "b", "c"}});
  LogsProxyDeps deps = Deps();
  int sends = 0;
  deps.send = [&](const schedpb::AllocLogsChunk&) { return ++sends < 2; };
  ASSERT_TRUE(ProxyLogs(schedpb::AllocLogsRequest(), target_, deps).ok());
  EXPECT_EQ(sends, 2);  // the header, then one chunk that failed
}

}  // namespace
}  // namespace berth::sched
