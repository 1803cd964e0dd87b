// berth-agent against a real 3-replica berth-lockd with the process runtime
// (issue #4, done-when 2, 4 and 5): lockd outages longer than the session
// TTL, and a chatty task against the log cap. Every wait is a condition
// poll with a deadline.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lockservice/client/kv.h"
#include "proto/agent.grpc.pb.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using agentpb::AllocationStatus;

constexpr int kReplicas = 3;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Bytes under `dir`: the larger of apparent size and allocated blocks.
uint64_t DiskUse(const std::string& dir) {
  uint64_t apparent = 0, blocks = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    struct stat st;
    if (stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    apparent += st.st_size;
    blocks += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return std::max(apparent, blocks);
}

class AgentClusterE2ETest : public ::testing::Test {
 protected:
  void StartAll(std::vector<std::string> agent_flags) {
    cluster_ = std::make_unique<LockdCluster>(kReplicas);
    ASSERT_TRUE(cluster_->StartAll().ok());
    ASSERT_NE(cluster_->AwaitLeader(), 0u);
    absl::StatusOr<std::unique_ptr<lock::Client>> c =
        lock::Client::Connect(cluster_->Endpoints());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    writer_ = std::make_unique<AllocWriter>(client_.get());
    const std::string data = cluster_->dir() + "/agent-n1";
    std::filesystem::create_directories(data);
    agent_flags.insert(agent_flags.end(), {"--session-ttl-s", "2"});
    agent_ = std::make_unique<AgentProcess>("n1", cluster_->EndpointsFlag(),
                                            cluster_->NextAddress(), data,
                                            "process", agent_flags);
    ASSERT_TRUE(agent_->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return writer_->Node("n1").has_value(); }))
        << "the agent never registered /berth/nodes/n1";
  }

  void TearDown() override {
    if (agent_ != nullptr) {
      kill(agent_->pid(), SIGCONT);
      agent_->Kill9();
    }
    // The process runtime's tasks outlive the agent by design.
    for (pid_t p : leftover_) {
      if (ProcessAlive(p)) kill(p, SIGKILL);
    }
  }

  std::string AgentLog() const {
    return ReadFile(absl::StrCat(agent_->data_dir(), "/../agent-n1-1.log"));
  }

  AllocationStatus AwaitState(const std::string& id, agentpb::AllocState state,
                              absl::Duration timeout = absl::Seconds(30)) {
    std::optional<AllocationStatus> last;
    WaitFor(
        [&] {
          last = writer_->Status(id);
          return last.has_value() && last->state() == state;
        },
        timeout);
    return last.value_or(AllocationStatus());
  }

  std::unique_ptr<LockdCluster> cluster_;
  std::unique_ptr<lock::Client> client_;
  std::unique_ptr<AllocWriter> writer_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<pid_t> leftover_;  // killed in TearDown
};

TEST_F(AgentClusterE2ETest, AllocWrittenIntoLockdRunsAndReportsStatus) {
  StartAll({});
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("c1", "exit 5")).ok());
  AllocationStatus st = AwaitState("c1", agentpb::EXITED);
  ASSERT_EQ(st.state(), agentpb::EXITED) << st.DebugString();
  EXPECT_EQ(st.exit_code(), 5);
  EXPECT_EQ(st.node(), "n1");
  EXPECT_GT(st.observed_revision(), 0);
}

TEST_F(AgentClusterE2ETest, LockdOutageLongerThanTtlKeepsTasksThenReconciles) {
  StartAll({});
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("keep", "exec sleep 1000")).ok());
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("gone", "exec sleep 1000")).ok());
  const pid_t keep = AwaitState("keep", agentpb::RUNNING).pid();
  const pid_t gone = AwaitState("gone", agentpb::RUNNING).pid();
  ASSERT_GT(keep, 0);
  ASSERT_GT(gone, 0);
  leftover_ = {keep, gone};
  client_.reset();  // its session-less connections would only retry

  // Every replica down: the agent's session outlives its TTL and is lost.
  for (uint64_t id = 1; id <= kReplicas; ++id) cluster_->Kill9(id);
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(AgentLog(), "session lost"); },
              absl::Seconds(60)))
      << AgentLog();
  EXPECT_TRUE(ProcessAlive(keep));
  EXPECT_TRUE(ProcessAlive(gone));
  EXPECT_EQ(kill(agent_->pid(), 0), 0) << "the agent died with lockd";

  // The scheduler moves "gone" away while the agent still cannot reach
  // lockd (it is paused across the restart, so it sees no gap).
  ASSERT_EQ(kill(agent_->pid(), SIGSTOP), 0);
  for (uint64_t id = 1; id <= kReplicas; ++id) {
    ASSERT_TRUE(cluster_->Start(id).ok());
  }
  ASSERT_NE(cluster_->AwaitLeader(), 0u);
  absl::StatusOr<std::unique_ptr<lock::Client>> c =
      lock::Client::Connect(cluster_->Endpoints());
  ASSERT_TRUE(c.ok()) << c.status();
  client_ = std::move(*c);
  writer_ = std::make_unique<AllocWriter>(client_.get());
  ASSERT_TRUE(WaitFor([&] { return writer_->Delete("n1", "gone").ok(); }));
  ASSERT_EQ(kill(agent_->pid(), SIGCONT), 0);

  // Re-registered under a new lease; the removed allocation is stopped, the
  // other one keeps its process.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = AgentLog();
        size_t first = log.find("registered /berth/nodes/n1");
        return first != std::string::npos &&
               log.find("registered /berth/nodes/n1", first + 1) !=
                   std::string::npos &&
               writer_->Node("n1").has_value();
      },
      absl::Seconds(60)))
      << AgentLog();
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(gone); }))
      << "the moved allocation kept running";
  EXPECT_TRUE(ProcessAlive(keep));
  AllocationStatus st = AwaitState("keep", agentpb::RUNNING);
  EXPECT_EQ(st.pid(), keep);
}

// A restarted agent resumes its watch from the revision it had applied;
// if that history was compacted meanwhile it falls back to a full read.
TEST_F(AgentClusterE2ETest, RestartResumesTheWatchOrResyncsIfCompacted) {
  StartAll({});
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("r1", "exec sleep 1000")).ok());
  ASSERT_TRUE(writer_->Put("n1", ShellSpec("r2", "exec sleep 1000")).ok());
  const pid_t r1 = AwaitState("r1", agentpb::RUNNING).pid();
  const pid_t r2 = AwaitState("r2", agentpb::RUNNING).pid();
  ASSERT_GT(r1, 0);
  ASSERT_GT(r2, 0);
  leftover_ = {r1, r2};

  // Resume: the delete made while the agent was down arrives as a watch
  // event.
  agent_->Kill9();
  ASSERT_TRUE(writer_->Delete("n1", "r1").ok());
  ASSERT_TRUE(agent_->Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(r1); }));
  std::string log =
      ReadFile(absl::StrCat(agent_->data_dir(), "/../agent-n1-2.log"));
  EXPECT_TRUE(absl::StrContains(log, "resuming watch of /berth/allocs/n1/"))
      << log;
  EXPECT_TRUE(ProcessAlive(r2));

  // Compacted: the resumed watch fails and the agent reads the prefix.
  agent_->Kill9();
  ASSERT_TRUE(writer_->Delete("n1", "r2").ok());
  absl::StatusOr<lock::PutResult> put = client_->kv().Put("/e2e/bump", "x");
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(client_->kv().Compact(put->revision).ok());
  ASSERT_TRUE(agent_->Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(r2); }));
  log = ReadFile(absl::StrCat(agent_->data_dir(), "/../agent-n1-3.log"));
  EXPECT_TRUE(absl::StrContains(log, "resyncing from a full read")) << log;
}

TEST_F(AgentClusterE2ETest, ChattyTaskNeverExceedsTheLogCap) {
  // 1 MiB files, 2 old ones kept: at most 3 MiB per stream.
  constexpr uint64_t kCapPerStream = 3 << 20;
  StartAll({"--log-max-bytes", "1MiB", "--log-max-files", "2"});
  ASSERT_TRUE(
      writer_
          ->Put("n1", ShellSpec("chatty",
                                "yes 0123456789abcdef0123456789abcdef | "
                                "head -c 100000000; echo done >&2"))
          .ok());
  const std::string logs = agent_->data_dir() + "/allocs/chatty/logs";
  uint64_t max_use = 0;
  int samples = 0;
  std::optional<AllocationStatus> st;
  ASSERT_TRUE(WaitFor(
      [&] {
        max_use = std::max(max_use, DiskUse(logs));
        ++samples;
        st = writer_->Status("chatty");
        return st.has_value() && st->state() == agentpb::EXITED;
      },
      absl::Seconds(120)));
  EXPECT_EQ(st->exit_code(), 0) << st->DebugString();
  max_use = std::max(max_use, DiskUse(logs));
  std::cout << "chatty task: max log dir use " << max_use << " bytes over "
            << samples << " samples\n";
  EXPECT_GT(max_use, 0u);
  EXPECT_LE(max_use, 2 * kCapPerStream);

  // All 100 MB went through the pump: reading from offset 0 skips what was
  // rotated away.
  auto stub = agentpb::AgentLogs::NewStub(grpc::CreateChannel(
      agent_->listen(), grpc::InsecureChannelCredentials()));
  agentpb::LogChunk first;
  agentpb::LogChunk last;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    agentpb::LogsRequest req;
    req.set_alloc_id("chatty");
    auto reader = stub->Logs(&ctx, req);
    agentpb::LogChunk chunk;
    bool any = false;
    while (reader->Read(&chunk)) {
      if (!any) first = chunk;
      last = chunk;
      any = true;
    }
    return reader->Finish().ok() && any;
  }));
  EXPECT_EQ(last.next_offset(), 100'000'000u);
  EXPECT_GE(first.skipped(), 100'000'000u - kCapPerStream);
}

}  // namespace
}  // namespace berth::e2e
