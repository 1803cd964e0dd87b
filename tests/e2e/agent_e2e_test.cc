// End-to-end tests of berth-agent: one real berth-lockd, one real agent
// process, allocations written the way the scheduler writes them. Every wait
// is a condition poll with a deadline.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using agentpb::AllocationStatus;

class AgentE2ETest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "linux" && geteuid() != 0) {
      GTEST_SKIP() << "the linux runtime needs root";
    }
    cluster_ = std::make_unique<LockdCluster>(1);
    ASSERT_TRUE(cluster_->StartAll().ok());
    ASSERT_NE(cluster_->AwaitLeader(), 0u);
    absl::StatusOr<std::unique_ptr<lock::Client>> c =
        lock::Client::Connect(cluster_->Endpoints());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    writer_ = std::make_unique<AllocWriter>(client_.get());
    const std::string data = cluster_->dir() + "/agent-n1";
    std::filesystem::create_directories(data);
    agent_ = std::make_unique<AgentProcess>(
        "n1", cluster_->EndpointsFlag(), cluster_->NextAddress(), data,
        GetParam(),
        std::vector<std::string>{"--session-ttl-s", "2", "--cgroup-parent",
                                 absl::StrCat("berth-e2e-", getpid())});
    ASSERT_TRUE(agent_->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return writer_->Node("n1").has_value(); }))
        << "the agent never registered /berth/nodes/n1";
  }

  void TearDown() override {
    if (agent_ != nullptr) agent_->Kill9();
    // Best effort: the linux runtime leaves the (empty) parent cgroup; task
    // cgroups are gone once their tasks were stopped.
    const std::string parent = absl::StrCat("berth-e2e-", getpid());
    for (const char* root :
         {"/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct",
          "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"}) {
      std::error_code ec;
      std::filesystem::path dir = std::filesystem::path(root) / parent;
      for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
        if (child.is_directory()) rmdir(child.path().c_str());
      }
      rmdir(dir.c_str());
    }
  }

  // Waits until the status of `id` satisfies `pred`; returns the last one.
  std::optional<AllocationStatus> AwaitStatus(
      const std::string& id,
      const std::function<bool(const AllocationStatus&)>& pred) {
    std::optional<AllocationStatus> last;
    WaitFor([&] {
      last = writer_->Status(id);
      return last.has_value() && pred(*last);
    });
    return last;
  }
  // The last status seen; an empty (UNSPECIFIED) one if there was none.
  std::optional<AllocationStatus> AwaitState(const std::string& id,
                                             agentpb::AllocState state) {
    std::optional<AllocationStatus> st = AwaitStatus(
        id, [&](const AllocationStatus& s) { return s.state() == state; });
    return st.value_or(AllocationStatus());
  }

  std::unique_ptr<LockdCluster> cluster_;
  std::unique_ptr<lock::Client> client_;
  std::unique_ptr<AllocWriter> writer_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_P(AgentE2ETest, RegistersItsNode) {
  std::optional<agentpb::NodeInfo> info = writer_->Node("n1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name(), "n1");
  EXPECT_EQ(info->runtime(), GetParam());
  EXPECT_EQ(info->address(), agent_->listen());
  EXPECT_GT(info->cpu_millicores(), 0);
  EXPECT_GT(info->memory_bytes(), 0);
}

TEST_P(AgentE2ETest, RunsThenStopsOnDesiredStop) {
  agentpb::AllocationSpec spec = ShellSpec("a1", "exec sleep 1000");
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  std::optional<AllocationStatus> st = AwaitState("a1", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::RUNNING)
      << (st ? st->DebugString() : "no status");
  const pid_t pid = static_cast<pid_t>(st->pid());
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_EQ(st->node(), "n1");
  EXPECT_GT(st->start_unix_ms(), 0);
  // No health check: healthy as soon as it runs.
  EXPECT_TRUE(st->healthy());
  EXPECT_EQ(st->healthy_since_unix_ms(), st->start_unix_ms());

  spec.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  st = AwaitStatus("a1", [](const AllocationStatus& s) {
    return s.state() == agentpb::KILLED || s.state() == agentpb::EXITED;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state(), agentpb::KILLED) << st->DebugString();
  // The linux runtime runs the task as PID 1 of its namespace, which
  // ignores SIGTERM without a handler: the stop escalates to SIGKILL.
  EXPECT_TRUE(st->signal() == SIGTERM || st->signal() == SIGKILL)
      << st->DebugString();
  EXPECT_GT(st->finish_unix_ms(), 0);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }))
      << "pid " << pid << " survived the stop";
}

TEST_P(AgentE2ETest, TcpHealthCheckTurnsHealthyWhenTheTaskListens) {
  const std::string addr = cluster_->NextAddress();
  const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
  // The task listens only after a while, so the first probes fail.
  agentpb::AllocationSpec spec =
      ShellSpec("h1",
                "sleep 1; exec python3 -m http.server --bind 127.0.0.1 "
                "$BERTH_PORT_HTTP");
  (*spec.mutable_ports())["http"] = port;
  spec.mutable_health()->set_tcp_port("http");
  spec.mutable_health()->set_interval_ms(200);
  spec.mutable_health()->set_timeout_ms(1000);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  std::optional<AllocationStatus> st = AwaitState("h1", agentpb::RUNNING);
  ASSERT_EQ(st->state(), agentpb::RUNNING);
  st = AwaitStatus("h1", [](const AllocationStatus& s) { return s.healthy(); });
  ASSERT_TRUE(st.has_value() && st->healthy())
      << (st ? st->DebugString() : "no status");
  EXPECT_EQ(st->state(), agentpb::RUNNING);
  EXPECT_GE(st->healthy_since_unix_ms(), st->start_unix_ms());
  EXPECT_EQ(st->health_output(), absl::StrCat("connected to ", addr));

  // A stopped task is not healthy any more.
  spec.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  st = AwaitState("h1", agentpb::KILLED);
  ASSERT_EQ(st->state(), agentpb::KILLED);
  EXPECT_FALSE(st->healthy());
}

TEST_P(AgentE2ETest, HealthCheckOnAnUnknownPortFailsTheLaunch) {
  agentpb::AllocationSpec spec = ShellSpec("h2", "exec sleep 1000");
  spec.mutable_health()->set_tcp_port("web");
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  std::optional<AllocationStatus> st = AwaitState("h2", agentpb::FAILED);
  ASSERT_EQ(st->state(), agentpb::FAILED) << st->DebugString();
  EXPECT_TRUE(absl::StrContains(st->reason(), "health.tcp_port \"web\""))
      << st->reason();
}

TEST_P(AgentE2ETest, ReportsExitCodeAndDoesNotRestart) {
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("a2", "exit 3")).ok());
  std::optional<AllocationStatus> st = AwaitState("a2", agentpb::EXITED);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::EXITED)
      << (st ? st->DebugString() : "no status");
  EXPECT_EQ(st->exit_code(), 3);

  // Restarting is the scheduler's business: a new attempt runs it again.
  agentpb::AllocationSpec again = ShellSpec("a2", "exit 4");
  again.set_attempt(2);
  ASSERT_TRUE(writer_->Put("n1", again).ok());
  st = AwaitStatus("a2", [](const AllocationStatus& s) {
    return s.attempt() == 2 && s.state() == agentpb::EXITED;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->exit_code(), 4) << st->DebugString();

  // Garbage collection: once the scheduler deletes the key, the finished
  // allocation's record, sandbox and FIFOs go; its logs stay for
  // --log-retention-s (berth job logs of a finished task).
  const std::string dir = agent_->data_dir() + "/allocs/a2";
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs"));
  ASSERT_TRUE(writer_->Delete("n1", "a2").ok());
  // The marker is written after the sandbox and FIFOs are removed: wait
  // for the whole end state, not the first half of it.
  EXPECT_TRUE(WaitFor([&] {
    return !std::filesystem::exists(dir + "/sandbox") &&
           !std::filesystem::exists(dir + "/fifo") &&
           std::filesystem::exists(dir + "/forgotten");
  })) << dir
      << " survived the deletion of its allocation, or was never marked "
         "forgotten";
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs/stdout.log"));
}

TEST_P(AgentE2ETest, BadCommandIsReportedFailed) {
  agentpb::AllocationSpec spec = ShellSpec("a3", "");
  spec.clear_command();
  spec.add_command("/nonexistent/berth-binary");
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  std::optional<AllocationStatus> st = AwaitState("a3", agentpb::FAILED);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::FAILED)
      << (st ? st->DebugString() : "no status");
  EXPECT_TRUE(absl::StrContains(st->reason(), "/nonexistent/berth-binary"))
      << st->reason();
}

TEST_P(AgentE2ETest, KilledAgentLosesNodeKeyAndAdoptsTaskOnRestart) {
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("a4", "exec sleep 1000")).ok());
  std::optional<AllocationStatus> st = AwaitState("a4", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::RUNNING);
  const pid_t pid = static_cast<pid_t>(st->pid());

  agent_->Kill9();
  // The node key is bound to the agent's lease (TTL 2s).
  EXPECT_TRUE(WaitFor([&] { return !writer_->Node("n1").has_value(); }))
      << "node key survived the agent";
  EXPECT_TRUE(ProcessAlive(pid)) << "the task died with the agent";

  const int64_t restarted_ms = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(agent_->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return writer_->Node("n1").has_value(); }));
  // The restarted agent re-reports every allocation it recovered.
  st = AwaitStatus("a4", [&](const AllocationStatus& s) {
    return s.report_unix_ms() >= restarted_ms;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state(), agentpb::RUNNING) << st->DebugString();
  EXPECT_EQ(st->pid(), pid) << "relaunched instead of adopted";
  EXPECT_TRUE(ProcessAlive(pid));

  // The adopted task can still be stopped.
  agentpb::AllocationSpec stop = ShellSpec("a4", "exec sleep 1000");
  stop.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", stop).ok());
  st = AwaitState("a4", agentpb::KILLED);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state(), agentpb::KILLED) << st->DebugString();
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }));
}

// Output goes through named FIFOs: after kill -9 of the agent the adopted
// task keeps writing, and the restarted agent captures every line.
TEST_P(AgentE2ETest, LogsKeepFlowingAfterTheAgentIsKilled) {
  ASSERT_TRUE(writer_
                  ->Put("n1", ShellSpec("lf",
                                        "i=0; while :; do echo line$i; "
                                        "i=$((i+1)); sleep 0.02; done"))
                  .ok());
  std::optional<AllocationStatus> st = AwaitState("lf", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::RUNNING);
  const pid_t pid = static_cast<pid_t>(st->pid());
  const std::string log = agent_->data_dir() + "/allocs/lf/logs/stdout.log";
  auto slurp = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(slurp(), "line5\n"); }));
  agent_->Kill9();
  const std::string at_kill = slurp();
  const size_t lines_at_kill = std::count(at_kill.begin(), at_kill.end(), '\n');
  ASSERT_TRUE(agent_->Start().ok());
  // Lines written while no agent read plus lines written after: well past
  // what was there at the kill.
  const std::string later = absl::StrCat("line", lines_at_kill + 100, "\n");
  std::string got;
  ASSERT_TRUE(WaitFor([&] {
    got = slurp();
    return absl::StrContains(got, later);
  })) << "no output after the restart; have "
      << got.size() << " bytes";
  EXPECT_TRUE(ProcessAlive(pid)) << "the task died (SIGPIPE?)";
  // Nothing lost or repeated: line0, line1, ... in order.
  std::istringstream in(got);
  std::string line;
  int want = 0;
  while (std::getline(in, line)) {
    ASSERT_EQ(line, absl::StrCat("line", want)) << "after " << want;
    ++want;
  }
  agentpb::AllocationSpec stop = ShellSpec("lf", "");
  stop.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", stop).ok());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }));
}

TEST_P(AgentE2ETest, SigtermLeavesTasksRunningForTheNextAgent) {
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("a8", "exec sleep 1000")).ok());
  std::optional<AllocationStatus> st = AwaitState("a8", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::RUNNING);
  const pid_t pid = static_cast<pid_t>(st->pid());

  const int status = agent_->Term();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(ProcessAlive(pid));

  const int64_t restarted_ms = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(agent_->Start().ok());
  st = AwaitStatus("a8", [&](const AllocationStatus& s) {
    return s.report_unix_ms() >= restarted_ms;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state(), agentpb::RUNNING) << st->DebugString();
  EXPECT_EQ(st->pid(), pid);

  agentpb::AllocationSpec stop = ShellSpec("a8", "exec sleep 1000");
  stop.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", stop).ok());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }));
}

TEST_P(AgentE2ETest, AllocMovedAwayWhileAgentWasDownIsStopped) {
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("a5", "exec sleep 1000")).ok());
  std::optional<AllocationStatus> st = AwaitState("a5", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value() && st->state() == agentpb::RUNNING);
  const pid_t pid = static_cast<pid_t>(st->pid());

  agent_->Kill9();
  ASSERT_TRUE(writer_->Delete("n1", "a5").ok());
  ASSERT_TRUE(agent_->Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }))
      << "the moved allocation kept running";
}

// Streams a LogsRequest until `done` says so or the stream ends; returns
// everything received.
std::string ReadLogs(const std::string& addr, agentpb::LogsRequest req,
                     const std::function<bool(const std::string&)>& done,
                     absl::Duration timeout = absl::Seconds(30)) {
  auto stub = agentpb::AgentLogs::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  auto reader = stub->Logs(&ctx, req);
  std::string got;
  agentpb::LogChunk chunk;
  while (reader->Read(&chunk)) {
    got += chunk.data();
    if (done(got)) {
      ctx.TryCancel();
      break;
    }
  }
  reader->Finish().ok();
  return got;
}

TEST_P(AgentE2ETest, LogsTailAndFollow) {
  ASSERT_TRUE(writer_
                  ->Put("n1", ShellSpec("a6",
                                        "i=0; while [ $i -lt 400 ]; do "
                                        "echo line$i; i=$((i+1)); sleep 0.05; "
                                        "done"))
                  .ok());
  ASSERT_TRUE(AwaitState("a6", agentpb::RUNNING)->state() == agentpb::RUNNING);

  agentpb::LogsRequest follow;
  follow.set_alloc_id("a6");
  follow.set_follow(true);
  // Follow from the start until output written after the stream opened
  // arrives.
  std::string got = ReadLogs(
      agent_->listen(), follow,
      [](const std::string& s) { return absl::StrContains(s, "line30\n"); });
  EXPECT_TRUE(absl::StartsWith(got, "line0\nline1\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "line30\n")) << got;

  agentpb::LogsRequest tail;
  tail.set_alloc_id("a6");
  tail.set_tail_lines(2);
  std::string last = ReadLogs(agent_->listen(), tail,
                              [](const std::string&) { return false; });
  // Exactly two whole lines, the newest ones.
  ASSERT_EQ(std::count(last.begin(), last.end(), '\n'), 2) << last;
  EXPECT_TRUE(absl::StartsWith(last, "line")) << last;

  agentpb::AllocationSpec stop = ShellSpec("a6", "");
  stop.set_desired(agentpb::DESIRED_STOP);
  ASSERT_TRUE(writer_->Put("n1", stop).ok());
  EXPECT_TRUE(AwaitState("a6", agentpb::KILLED)->state() == agentpb::KILLED);
}

TEST_P(AgentE2ETest, FollowEndsWhenTheTaskFinishes) {
  ASSERT_TRUE(
      writer_->Put("n1", ShellSpec("a7", "echo out; echo err >&2; exit 0"))
          .ok());
  ASSERT_TRUE(AwaitState("a7", agentpb::EXITED)->state() == agentpb::EXITED);
  agentpb::LogsRequest req;
  req.set_alloc_id("a7");
  req.set_follow(true);
  EXPECT_EQ(
      ReadLogs(agent_->listen(), req, [](const std::string&) { return false; }),
      "out\n");
  req.set_stream(agentpb::STDERR);
  EXPECT_EQ(
      ReadLogs(agent_->listen(), req, [](const std::string&) { return false; }),
      "err\n");
}

TEST_P(AgentE2ETest, LogsOfUnknownAllocIsNotFound) {
  auto stub = agentpb::AgentLogs::NewStub(grpc::CreateChannel(
      agent_->listen(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  agentpb::LogsRequest req;
  req.set_alloc_id("nope");
  auto reader = stub->Logs(&ctx, req);
  agentpb::LogChunk chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status s;
  // The server may not be up yet right after registration.
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext c2;
    c2.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto r = stub->Logs(&c2, req);
    while (r->Read(&chunk)) {
    }
    s = r->Finish();
    return s.error_code() != grpc::StatusCode::UNAVAILABLE;
  }));
  reader->Finish().ok();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "nope"));
}

// The same source builds agent_e2e_test (process runtime) and, as root,
// agent_linux_e2e_test (linux runtime).
#ifndef BERTH_AGENT_E2E_RUNTIME
#define BERTH_AGENT_E2E_RUNTIME "process"
#endif
INSTANTIATE_TEST_SUITE_P(Runtime, AgentE2ETest,
                         ::testing::Values(BERTH_AGENT_E2E_RUNTIME));

}  // namespace
}  // namespace berth::e2e
