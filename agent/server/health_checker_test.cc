#include "agent/server/health_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <thread>

#include "absl/strings/match.h"
#include "agent/server/health_probe.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

// Answers probes from a script and records what it was asked.
class FakeProber : public Prober {
 public:
  ProbeResult Probe(const ProbeTarget& target,
                    absl::Duration timeout) override {
    asked.push_back(target.port);
    timeouts.push_back(timeout);
    if (script.empty()) return {false, "no answer scripted"};
    ProbeResult r = script.front();
    script.pop_front();
    return r;
  }
  std::deque<ProbeResult> script;
  std::vector<int> asked;
  std::vector<absl::Duration> timeouts;
};

agentpb::AllocationSpec TcpSpec(int64_t interval_ms) {
  agentpb::AllocationSpec s;
  s.set_alloc_id("a1");
  (*s.mutable_ports())["http"] = 8080;
  s.mutable_health()->set_tcp_port("http");
  s.mutable_health()->set_interval_ms(interval_ms);
  return s;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  HealthCheckerTest() {
    auto p = std::make_unique<FakeProber>();
    prober_ = p.get();
    checker_ = std::make_unique<HealthChecker>(&clock_, std::move(p));
  }
  SimClock clock_;
  FakeProber* prober_;
  std::unique_ptr<HealthChecker> checker_;
};

TEST_F(HealthCheckerTest, StartsUnhealthyAndTurnsHealthyOnFirstPass) {
  checker_->Watch("a1", MakeProbeTarget(TcpSpec(1000), {}, ""));
  ASSERT_TRUE(checker_->Get("a1").has_value());
  EXPECT_FALSE(checker_->Get("a1")->healthy);

  prober_->script = {{false, "refused"}, {true, "connected"}};
  // The first probe is due at once and fails: nothing flips.
  absl::Time next = checker_->RunDue();
  EXPECT_EQ(next, clock_.Monotonic() + absl::Seconds(1));
  EXPECT_FALSE(checker_->Get("a1")->healthy);
  EXPECT_EQ(checker_->Get("a1")->output, "refused");
  EXPECT_TRUE(checker_->TakeChanged().empty());
  EXPECT_EQ(prober_->asked, std::vector<int>{8080});

  // Not due yet: no probe.
  clock_.Advance(absl::Milliseconds(999));
  checker_->RunDue();
  EXPECT_EQ(prober_->asked.size(), 1u);

  clock_.Advance(absl::Milliseconds(1));
  checker_->RunDue();
  HealthState st = *checker_->Get("a1");
  EXPECT_TRUE(st.healthy);
  EXPECT_EQ(st.healthy_since, clock_.Now());
  EXPECT_EQ(st.probes, 2);
  EXPECT_EQ(checker_->TakeChanged(), std::set<std::string>{"a1"});
  EXPECT_TRUE(checker_->TakeChanged().empty());
}

TEST_F(HealthCheckerTest, FailureAfterHealthyFlipsBackAndKeepsNoSince) {
  checker_->Watch("a1", MakeProbeTarget(TcpSpec(500), {}, ""));
  prober_->script = {{true, "ok"}, {true, "ok"}, {false, "refused"}};
  checker_->RunDue();
  const absl::Time since = checker_->Get("a1")->healthy_since;
  checker_->TakeChanged();
  clock_.Advance(absl::Milliseconds(500));
  checker_->RunDue();
  // Still healthy: the since-time is that of the first pass.
  EXPECT_EQ(checker_->Get("a1")->healthy_since, since);
  EXPECT_TRUE(checker_->TakeChanged().empty());
  clock_.Advance(absl::Milliseconds(500));
  checker_->RunDue();
  EXPECT_FALSE(checker_->Get("a1")->healthy);
  EXPECT_EQ(checker_->Get("a1")->healthy_since, absl::InfinitePast());
  EXPECT_EQ(checker_->TakeChanged(), std::set<std::string>{"a1"});
}

TEST_F(HealthCheckerTest, DefaultsIntervalAndTimeout) {
  checker_->Watch("a1", MakeProbeTarget(TcpSpec(0), {}, ""));
  EXPECT_EQ(checker_->RunDue(), clock_.Monotonic() + absl::Seconds(10));
  EXPECT_EQ(prober_->timeouts, std::vector<absl::Duration>{absl::Seconds(2)});
}

TEST_F(HealthCheckerTest, ForgetStopsProbingAndRewatchResets) {
  checker_->Watch("a1", MakeProbeTarget(TcpSpec(100), {}, ""));
  prober_->script = {{true, "ok"}};
  checker_->RunDue();
  EXPECT_TRUE(checker_->Get("a1")->healthy);
  checker_->TakeChanged();

  // A new attempt starts unhealthy again, and says so.
  checker_->Watch("a1", MakeProbeTarget(TcpSpec(100), {}, ""));
  EXPECT_FALSE(checker_->Get("a1")->healthy);
  EXPECT_EQ(checker_->TakeChanged(), std::set<std::string>{"a1"});

  checker_->Forget("a1");
  EXPECT_FALSE(checker_->Get("a1").has_value());
  EXPECT_EQ(checker_->RunDue(), absl::InfiniteFuture());
  EXPECT_EQ(prober_->asked.size(), 1u);
}

TEST_F(HealthCheckerTest, ProbesOnlyWhatIsDue) {
  agentpb::AllocationSpec fast = TcpSpec(100);
  agentpb::AllocationSpec slow = TcpSpec(1000);
  (*slow.mutable_ports())["http"] = 9090;
  checker_->Watch("fast", MakeProbeTarget(fast, {}, ""));
  checker_->Watch("slow", MakeProbeTarget(slow, {}, ""));
  checker_->RunDue();
  EXPECT_EQ(prober_->asked.size(), 2u);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Milliseconds(100));
    checker_->RunDue();
  }
  // 1 + 5 for the fast one, 1 for the slow one.
  EXPECT_EQ(std::count(prober_->asked.begin(), prober_->asked.end(), 8080), 6);
  EXPECT_EQ(std::count(prober_->asked.begin(), prober_->asked.end(), 9090), 1);
}

TEST(ValidateHealthCheckTest, NamesTheProblem) {
  agentpb::AllocationSpec s = TcpSpec(100);
  EXPECT_TRUE(ValidateHealthCheck(s).ok());
  s.mutable_health()->set_tcp_port("web");
  absl::Status st = ValidateHealthCheck(s);
  EXPECT_TRUE(absl::StrContains(st.message(), "\"web\" is not in the spec's"))
      << st;
  s.mutable_health()->mutable_exec();
  EXPECT_TRUE(absl::StrContains(ValidateHealthCheck(s).message(),
                                "health.exec.argv is empty"));
  s.mutable_health()->mutable_http()->set_port("http");
  s.mutable_health()->mutable_http()->set_path("healthz");
  EXPECT_TRUE(
      absl::StrContains(ValidateHealthCheck(s).message(), "must start with /"));
  s.mutable_health()->clear_probe();
  EXPECT_TRUE(absl::StrContains(ValidateHealthCheck(s).message(),
                                "one of tcp_port, exec or http"));
  s.clear_health();
  EXPECT_TRUE(ValidateHealthCheck(s).ok());
}

// A listening socket on 127.0.0.1 with a kernel-chosen port.
struct Listener {
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd, 4);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
  int fd;
  int port;
};

TEST(SystemProberTest, TcpConnectsOrExplains) {
  SystemProber p;
  ProbeTarget t;
  t.check.set_tcp_port("x");
  int closed_port;
  {
    Listener l;
    t.port = l.port;
    ProbeResult r = p.Probe(t, absl::Seconds(5));
    EXPECT_TRUE(r.healthy) << r.output;
    closed_port = l.port;
  }
  t.port = closed_port;
  ProbeResult r = p.Probe(t, absl::Seconds(5));
  EXPECT_FALSE(r.healthy);
  EXPECT_TRUE(absl::StrContains(r.output, "Connection refused")) << r.output;
}

TEST(SystemProberTest, HttpReadsTheStatusLine) {
  Listener l;
  SystemProber p;
  ProbeTarget t;
  t.check.mutable_http()->set_port("x");
  t.check.mutable_http()->set_path("/healthz");
  t.port = l.port;
  for (const char* answer : {"HTTP/1.0 200 OK\r\n\r\n",
                             "HTTP/1.0 503 Service Unavailable\r\n\r\n"}) {
    std::string request;
    std::thread server([&] {
      int c = accept(l.fd, nullptr, nullptr);
      char buf[1024];
      ssize_t n = read(c, buf, sizeof(buf));
      if (n > 0) request.assign(buf, n);
      write(c, answer, strlen(answer));
      close(c);
    });
    ProbeResult r = p.Probe(t, absl::Seconds(5));
    server.join();
    EXPECT_TRUE(absl::StartsWith(request, "GET /healthz HTTP/1.0\r\n"))
        << request;
    EXPECT_EQ(r.healthy, absl::StrContains(answer, "200")) << r.output;
    const std::string line(answer, strstr(answer, "\r\n") - answer);
    EXPECT_EQ(r.output, "GET /healthz: " + line);
  }
}

TEST(SystemProberTest, ExecUsesTheTaskEnvAndSandbox) {
  SystemProber p;
  ProbeTarget t;
  for (const char* a : {"/bin/sh", "-c", "echo $GREETING; pwd; exit $CODE"}) {
    t.check.mutable_exec()->add_argv(a);
  }
  t.cwd = "/tmp";
  t.env = {"GREETING=hi", "CODE=0"};
  ProbeResult r = p.Probe(t, absl::Seconds(5));
  EXPECT_TRUE(r.healthy) << r.output;
  EXPECT_EQ(r.output, "hi\n/tmp\n");
  t.env = {"GREETING=bye", "CODE=3"};
  r = p.Probe(t, absl::Seconds(5));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.output, "exec /bin/sh: exit 3; bye\n/tmp\n");
}

TEST(SystemProberTest, ExecIsKilledAtTheTimeout) {
  SystemProber p;
  ProbeTarget t;
  for (const char* a : {"/bin/sh", "-c", "sleep 100 & sleep 100"}) {
    t.check.mutable_exec()->add_argv(a);
  }
  ProbeResult r = p.Probe(t, absl::Milliseconds(100));
  EXPECT_FALSE(r.healthy);
  EXPECT_TRUE(absl::StrContains(r.output, "timed out")) << r.output;
}

}  // namespace
}  // namespace berth::agent
