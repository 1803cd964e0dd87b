// Root end-to-end tests of berth-agent with the linux runtime (issue #4,
// done-when 1, 2 and 7): a real 3-replica berth-lockd, a real agent
// process, real tasks in namespaces and cgroups (v1 on this machine). The
// test reads the cgroup files directly to judge limits from outside. Every
// wait is a condition poll with a deadline.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using agentpb::AllocationStatus;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t ReadInt(const std::string& path) {
  int64_t v = -1;
  std::string s = ReadFile(path);
  absl::SimpleAtoi(absl::StripAsciiWhitespace(s), &v);
  return v;
}

class AgentRootE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the linux runtime needs root";
    cluster_ = std::make_unique<LockdCluster>(3);
    ASSERT_TRUE(cluster_->StartAll().ok());
    ASSERT_NE(cluster_->AwaitLeader(), 0u);
    absl::StatusOr<std::unique_ptr<lock::Client>> c =
        lock::Client::Connect(cluster_->Endpoints());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    writer_ = std::make_unique<AllocWriter>(client_.get());
    parent_ = absl::StrCat("berth-root-e2e-", getpid());
    const std::string data = cluster_->dir() + "/agent-n1";
    std::filesystem::create_directories(data);
    agent_ = std::make_unique<AgentProcess>(
        "n1", cluster_->EndpointsFlag(), cluster_->NextAddress(), data, "linux",
        std::vector<std::string>{"--session-ttl-s", "3", "--cgroup-parent",
                                 parent_, "--usage-interval-s", "1"});
    ASSERT_TRUE(agent_->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return writer_->Node("n1").has_value(); }))
        << "the agent never registered /berth/nodes/n1";
  }

  void TearDown() override {
    if (agent_ != nullptr) agent_->Kill9();
    for (const char* ctl : {"cpu", "cpuacct", "memory", "pids"}) {
      std::error_code ec;
      std::filesystem::path dir =
          std::filesystem::path("/sys/fs/cgroup") / ctl / parent_;
      for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
        if (child.is_directory()) rmdir(child.path().c_str());
      }
      rmdir(dir.c_str());
    }
  }

  std::string CgroupFile(const std::string& controller, const std::string& id,
                         const std::string& file) const {
    return absl::StrCat("/sys/fs/cgroup/", controller, "/", parent_, "/", id,
                        "/", file);
  }

  std::vector<pid_t> CgroupPids(const std::string& id) const {
    std::vector<pid_t> out;
    for (absl::string_view l :
         absl::StrSplit(ReadFile(CgroupFile("pids", id, "cgroup.procs")), '\n',
                        absl::SkipEmpty())) {
      int pid;
      if (absl::SimpleAtoi(l, &pid)) out.push_back(pid);
    }
    return out;
  }

  std::optional<AllocationStatus> AwaitStatus(
      const std::string& id,
      const std::function<bool(const AllocationStatus&)>& pred,
      absl::Duration timeout = absl::Seconds(30)) {
    std::optional<AllocationStatus> last;
    WaitFor(
        [&] {
          last = writer_->Status(id);
          return last.has_value() && pred(*last);
        },
        timeout);
    return last;
  }
  AllocationStatus AwaitState(const std::string& id,
                              agentpb::AllocState state) {
    return AwaitStatus(
               id,
               [&](const AllocationStatus& s) { return s.state() == state; })
        .value_or(AllocationStatus());
  }
  void Stop(agentpb::AllocationSpec spec) {
    spec.set_desired(agentpb::DESIRED_STOP);
    ASSERT_TRUE(writer_->Put("n1", spec).ok());
  }

  std::unique_ptr<LockdCluster> cluster_;
  std::unique_ptr<lock::Client> client_;
  std::unique_ptr<AllocWriter> writer_;
  std::unique_ptr<AgentProcess> agent_;
  std::string parent_;
};

TEST_F(AgentRootE2ETest, MemoryHogIsReportedOomKilled) {
  agentpb::AllocationSpec spec =
      ShellSpec("oom",
                "exec python3 -c 'x = []\nwhile True: x.append(bytearray(1 << "
                "20))'");
  spec.mutable_resources()->set_memory_bytes(32 << 20);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  AllocationStatus st = AwaitState("oom", agentpb::OOM_KILLED);
  ASSERT_EQ(st.state(), agentpb::OOM_KILLED) << st.DebugString();
  EXPECT_TRUE(absl::StrContains(st.reason(), "memory limit")) << st.reason();
  EXPECT_GT(st.finish_unix_ms(), 0);
}

TEST_F(AgentRootE2ETest, ForkBombIsHeldByPidsLimitWhileTheAgentServes) {
  agentpb::AllocationSpec bomb =
      ShellSpec("bomb", "b() { b | b & }; b; exec sleep 1000", 1000);
  bomb.mutable_resources()->set_pids_max(32);
  ASSERT_TRUE(writer_->Put("n1", bomb).ok());
  ASSERT_EQ(AwaitState("bomb", agentpb::RUNNING).state(), agentpb::RUNNING);
  // The limit is hit: forks were refused (pids.events counts them).
  const std::string events = CgroupFile("pids", "bomb", "pids.events");
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(ReadFile(events), "max ") &&
           !absl::StrContains(ReadFile(events), "max 0");
  })) << ReadFile(events);
  EXPECT_LE(ReadInt(CgroupFile("pids", "bomb", "pids.current")), 32);

  // The agent keeps serving: usage samples of the bomb arrive, capped by
  // the limit, and a new allocation runs.
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  std::optional<AllocationStatus> st =
      AwaitStatus("bomb", [&](const AllocationStatus& s) {
        return s.report_unix_ms() > now_ms && s.usage().pids() > 1;
      });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state(), agentpb::RUNNING);
  EXPECT_LE(st->usage().pids(), 32u) << st->DebugString();
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("calm", "exec sleep 1000")).ok());
  EXPECT_EQ(AwaitState("calm", agentpb::RUNNING).state(), agentpb::RUNNING);
  EXPECT_TRUE(writer_->Node("n1").has_value());

  Stop(bomb);
  EXPECT_EQ(AwaitState("bomb", agentpb::KILLED).state(), agentpb::KILLED);
  EXPECT_FALSE(std::filesystem::exists(CgroupFile("pids", "bomb", "")))
      << "the bomb's cgroup survived its stop";
  Stop(ShellSpec("calm", ""));
  EXPECT_EQ(AwaitState("calm", agentpb::KILLED).state(), agentpb::KILLED);
}

TEST_F(AgentRootE2ETest, BusyLoopAt200mUsesAboutAFifthOfACore) {
  agentpb::AllocationSpec spec = ShellSpec("spin", "while :; do :; done");
  spec.mutable_resources()->set_cpu_limit_millicores(200);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  ASSERT_EQ(AwaitState("spin", agentpb::RUNNING).state(), agentpb::RUNNING);
  const std::string usage = CgroupFile("cpuacct", "spin", "cpuacct.usage");
  const int64_t cpu0 = ReadInt(usage);
  const absl::Time t0 = absl::Now();
  ASSERT_GE(cpu0, 0) << usage;
  // Wait for 0.6 s of CPU; at 0.2 cores that is about 3 s of wall time.
  int64_t cpu1 = cpu0;
  ASSERT_TRUE(WaitFor(
      [&] {
        cpu1 = ReadInt(usage);
        return cpu1 - cpu0 >= 600'000'000;
      },
      absl::Seconds(60)));
  const double cores = static_cast<double>(cpu1 - cpu0) /
                       absl::ToDoubleNanoseconds(absl::Now() - t0);
  std::cout << "busy loop at 200m: " << cores << " cores over "
            << absl::Now() - t0 << "\n";
  EXPECT_LT(cores, 0.35);
  EXPECT_EQ(ReadInt(CgroupFile("cpu", "spin", "cpu.cfs_quota_us")) * 1000 /
                ReadInt(CgroupFile("cpu", "spin", "cpu.cfs_period_us")),
            200);
  // The agent reports the same counter.
  std::optional<AllocationStatus> st = AwaitStatus(
      "spin", [](const AllocationStatus& s) { return s.usage().cpu_ns() > 0; });
  ASSERT_TRUE(st.has_value());
  Stop(spec);
  EXPECT_EQ(AwaitState("spin", agentpb::KILLED).state(), agentpb::KILLED);
}

TEST_F(AgentRootE2ETest, TaskIsPidOneWithItsOwnHostname) {
  ASSERT_TRUE(writer_
                  ->Put("n1", ShellSpec("who",
                                        "echo pid=$$; echo host=$(hostname); "
                                        "echo procs=$(ls /proc | grep -c "
                                        "'^[0-9]')"))
                  .ok());
  AllocationStatus st = AwaitState("who", agentpb::EXITED);
  ASSERT_EQ(st.state(), agentpb::EXITED) << st.DebugString();
  EXPECT_EQ(st.exit_code(), 0);
  const std::string log = agent_->data_dir() + "/allocs/who/logs/stdout.log";
  std::string out;
  ASSERT_TRUE(WaitFor([&] {
    out = ReadFile(log);
    return absl::StrContains(out, "procs=");
  })) << out;
  EXPECT_TRUE(absl::StrContains(out, "pid=1\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "host=who\n")) << out;
  // Its own /proc: the shell, the command substitution's subshell, ls and
  // grep at most.
  int procs = 0;
  size_t at = out.find("procs=");
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripAsciiWhitespace(out.substr(at + 6)), &procs));
  EXPECT_LE(procs, 5) << out;
}

TEST_F(AgentRootE2ETest, StopLeavesNoProcessGrandchildrenIncluded) {
  agentpb::AllocationSpec spec =
      ShellSpec("tree",
                "(sleep 1000 &); setsid sleep 1000 & sh -c 'sleep 1000 & "
                "wait' & exec sleep 1000",
                500);
  ASSERT_TRUE(writer_->Put("n1", spec).ok());
  ASSERT_EQ(AwaitState("tree", agentpb::RUNNING).state(), agentpb::RUNNING);
  std::vector<pid_t> pids;
  ASSERT_TRUE(WaitFor([&] {
    pids = CgroupPids("tree");
    return pids.size() >= 5;
  })) << pids.size();
  for (pid_t p : pids) EXPECT_TRUE(ProcessAlive(p)) << p;
  Stop(spec);
  EXPECT_EQ(AwaitState("tree", agentpb::KILLED).state(), agentpb::KILLED);
  for (pid_t p : pids) {
    EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(p); })) << p << " lived";
  }
}

TEST_F(AgentRootE2ETest, BadInputIsFailedWithAReasonAndTheAgentGoesOn) {
  struct Case {
    std::string id;
    std::function<void(agentpb::AllocationSpec&)> spoil;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"bad-user", [](auto& s) { s.set_user("no-such-user-berth"); },
       "user \"no-such-user-berth\" is not known"},
      {"bad-uid", [](auto& s) { s.set_user("54321"); },
       "user \"54321\" is not known"},
      {"bad-cmd", [](auto& s) { s.clear_command(); }, "command is empty"},
      {"bad-rootfs", [](auto& s) { s.set_rootfs("/nonexistent/berth-root"); },
       "rootfs \"/nonexistent/berth-root\" is not an existing"},
      {"bad-mem",
       [](auto& s) { s.mutable_resources()->set_memory_bytes(1LL << 60); },
       "resources.memory_bytes = 1152921504606846976 exceeds the node's"},
      {"bad-cpu",
       [](auto& s) { s.mutable_resources()->set_cpu_limit_millicores(-5); },
       "resources.cpu_limit_millicores is negative"},
      {"bad-pids",
       [](auto& s) { s.mutable_resources()->set_pids_max(1LL << 40); },
       "resources.pids_max = 1099511627776 exceeds"},
  };
  for (Case& c : cases) {
    agentpb::AllocationSpec spec = ShellSpec(c.id, "exec sleep 1000");
    c.spoil(spec);
    ASSERT_TRUE(writer_->Put("n1", spec).ok());
  }
  for (const Case& c : cases) {
    AllocationStatus st = AwaitState(c.id, agentpb::FAILED);
    EXPECT_EQ(st.state(), agentpb::FAILED) << c.id << ": " << st.DebugString();
    EXPECT_TRUE(absl::StrContains(st.reason(), c.reason))
        << c.id << ": " << st.reason();
  }
  EXPECT_EQ(kill(agent_->pid(), 0), 0) << "the agent died";
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("good", "exit 7")).ok());
  AllocationStatus st = AwaitState("good", agentpb::EXITED);
  EXPECT_EQ(st.exit_code(), 7) << st.DebugString();
}

}  // namespace
}  // namespace berth::e2e
