// The agent's loop is event-driven: an allocation written to lockd is
// launched when its watch event arrives, and a task exit is reported when
// the runtime says so, with the agent's (simulated) clock never advanced
// and its safety tick an hour long. Nothing but events can run the loop.
//
// A real single-replica berth-lockd runs in this process on 127.0.0.1 (port
// chosen from the pid); the agent uses the sim runtime. Tests wait on
// conditions (watch callbacks) with deadlines, never on time.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/runtime/sim_runtime.h"
#include "agent/server/agent.h"
#include "agent/server/alloc_convert.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/watch.h"
#include "lockservice/lockd/lockd.h"

namespace berth::agent {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(60);

// The latest status of every allocation, fed by a watch on /berth/status/.
class StatusBoard {
 public:
  explicit StatusBoard(lock::Client* client) {
    lock::WatchOptions wo;
    wo.prefix = true;
    auto w =
        lock::Watch::Start(client, "/berth/status/", wo,
                           [this](absl::StatusOr<lock::WatchBatch> b) {
                             if (!b.ok()) return;
                             absl::MutexLock l(&mu_);
                             for (const lock::WatchEvent& ev : b->events) {
                               agentpb::AllocationStatus st;
                               if (ev.type == lock::WatchEvent::Type::kPut &&
                                   st.ParseFromString(ev.kv.value)) {
                                 latest_[st.alloc_id()] = st;
                               }
                             }
                           });
    EXPECT_TRUE(w.ok()) << w.status();
    if (w.ok()) watch_ = std::move(*w);
  }

  // Waits until `id` is reported in `state`; returns that status.
  std::optional<agentpb::AllocationStatus> WaitFor(const std::string& id,
                                                   agentpb::AllocState state) {
    absl::MutexLock l(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = latest_.find(id);
      return it != latest_.end() && it->second.state() == state;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&reached), kDeadline)) {
      return std::nullopt;
    }
    return latest_[id];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, agentpb::AllocationStatus> latest_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<lock::Watch> watch_;
};

class AgentEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "berth-agent-events-XXXXXX")
            .string();
    dir_ = mkdtemp(tmpl.data());
    const std::string addr =
        absl::StrCat("127.0.0.1:", 31000 + getpid() % 9000);
    lockd::LockdOptions lo;
    lo.id = 1;
    lo.listen = addr;
    lo.peers = {{1, addr}};
    lo.data_dir = dir_ + "/lockd";
    std::filesystem::create_directories(lo.data_dir);
    auto l = lockd::Lockd::Start(lo);
    ASSERT_TRUE(l.ok()) << l.status();
    lockd_ = std::move(*l);
    lock::ClientOptions co;
    co.request_timeout = kDeadline;
    auto c = lock::Client::Connect({addr}, co);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    // The agent's clock never moves, so its registration must not need a
    // retry: wait until lockd takes writes first.
    ASSERT_TRUE(client_->kv().Put("/ready", "1").ok());
    board_ = std::make_unique<StatusBoard>(client_.get());

    AgentOptions o;
    o.node = "n1";
    o.data_dir = dir_ + "/agent";
    std::filesystem::create_directories(o.data_dir + "/allocs");
    o.info.set_name("n1");
    o.info.set_cpu_millicores(4000);
    o.info.set_memory_bytes(8LL << 30);
    o.info.set_pids(4096);
    o.clock = &clock_;
    // Neither timer can fire while the test runs: only events drive it.
    o.safety_interval = absl::Hours(1);
    o.usage_interval = absl::Hours(1);
    o.capture_logs = capture_logs_;
    auto store = AllocStore::Open(o.data_dir + "/agent.db");
    ASSERT_TRUE(store.ok()) << store.status();
    auto a = Agent::Create(std::move(o),
                           std::make_unique<SimRuntime>(&clock_, &machine_),
                           std::move(*store), client_.get());
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
  }

  void TearDown() override {
    agent_.reset();
    board_.reset();
    client_.reset();
    if (lockd_ != nullptr) lockd_->Shutdown();
    lockd_.reset();
    std::filesystem::remove_all(dir_);
  }

  void WriteAlloc(const std::string& id) {
    agentpb::AllocationSpec spec;
    spec.set_alloc_id(id);
    spec.set_job("j");
    spec.add_command("sim");
    spec.set_attempt(1);
    ASSERT_TRUE(
        client_->kv()
            .Put(absl::StrCat(AllocPrefix("n1"), id), spec.SerializeAsString())
            .ok());
  }

  bool FifosExist(const std::string& id) const {
    return std::filesystem::exists(
        absl::StrCat(dir_, "/agent/allocs/", id, "/fifo/stdout"));
  }

  bool capture_logs_ = true;
  std::string dir_;
  SimClock clock_;
  SimMachine machine_;
  std::unique_ptr<lockd::Lockd> lockd_;
  std::unique_ptr<lock::Client> client_;
  std::unique_ptr<StatusBoard> board_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentEventsTest, LaunchesOnWatchEventAndReportsExitWithoutClockAdvance) {
  const absl::Time start = clock_.Now();
  // The first one may come from the agent's initial read of its prefix; it
  // is RUNNING only once that read is done and the watch is open.
  WriteAlloc("a1");
  ASSERT_TRUE(board_->WaitFor("a1", agentpb::RUNNING).has_value());
  EXPECT_TRUE(FifosExist("a1"));
  // This one can only arrive as a watch event.
  WriteAlloc("a2");
  std::optional<agentpb::AllocationStatus> st =
      board_->WaitFor("a2", agentpb::RUNNING);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(machine_.Running("a2"));
  EXPECT_EQ(st->start_unix_ms(), absl::ToUnixMillis(start));
  // A task exit wakes the loop through the runtime's exit listener.
  ASSERT_TRUE(machine_.Exit("a2", 3).ok());
  st = board_->WaitFor("a2", agentpb::EXITED);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->exit_code(), 3);
  EXPECT_EQ(clock_.Now(), start);  // nothing advanced the clock
}

// berth-agent-swarm's agents capture no output: a simulated task writes
// nothing, and thousands of them per process must not hold FIFOs and
// descriptors. The task still runs and its exit is still reported.
class AgentWithoutLogCaptureTest : public AgentEventsTest {
 protected:
  void SetUp() override {
    capture_logs_ = false;
    AgentEventsTest::SetUp();
  }
};

TEST_F(AgentWithoutLogCaptureTest, RunsTasksWithoutFifos) {
  WriteAlloc("a1");
  ASSERT_TRUE(board_->WaitFor("a1", agentpb::RUNNING).has_value());
  EXPECT_TRUE(machine_.Running("a1"));
  EXPECT_FALSE(FifosExist("a1"));
  ASSERT_TRUE(machine_.Exit("a1", 0).ok());
  std::optional<agentpb::AllocationStatus> st =
      board_->WaitFor("a1", agentpb::EXITED);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->exit_code(), 0);
}

}  // namespace
}  // namespace berth::agent
