#include "agent/runtime/sim_runtime.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

// A simulated clock whose sleepers jump straight to their deadline, so that
// single-threaded tests can drive Wait and Stop.
class JumpClock : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  absl::Time Monotonic() const override { return now_; }
  void SleepUntil(absl::Time deadline) override {
    if (deadline > now_) now_ = deadline;
  }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TaskSpec Spec(const std::string& id) {
  TaskSpec s;
  s.alloc_id = id;
  s.argv = {"server"};
  s.sandbox_dir = "/sim/" + id;
  return s;
}

class SimRuntimeTest : public ::testing::Test {
 protected:
  JumpClock clock_;
  SimMachine machine_;
  SimRuntime rt_{&clock_, &machine_};
};

TEST_F(SimRuntimeTest, TaskRunsUntilTheTestDecidesItsExit) {
  ASSERT_TRUE(rt_.Launch(Spec("a")).ok());
  EXPECT_EQ(*rt_.Poll("a"), std::nullopt);
  ASSERT_TRUE(machine_.Exit("a", 3).ok());
  EXPECT_EQ(**rt_.Poll("a"), ExitStatus::Exited(3));
  EXPECT_EQ(*rt_.Wait("a", absl::Seconds(1)), ExitStatus::Exited(3));
}

TEST_F(SimRuntimeTest, WaitTimesOutOnTheInjectedClock) {
  ASSERT_TRUE(rt_.Launch(Spec("a")).ok());
  absl::Time before = clock_.Monotonic();
  absl::StatusOr<ExitStatus> r = rt_.Wait("a", absl::Minutes(5));
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_EQ(clock_.Monotonic() - before, absl::Minutes(5));
}

TEST_F(SimRuntimeTest, StopEscalatesWhenSigtermIsIgnored) {
  ASSERT_TRUE(rt_.Launch(Spec("polite")).ok());
  ASSERT_TRUE(rt_.Launch(Spec("stubborn")).ok());
  ASSERT_TRUE(machine_.IgnoreSignal("stubborn", SIGTERM).ok());
  absl::Time t0 = clock_.Monotonic();
  EXPECT_EQ(*rt_.Stop("polite", absl::Seconds(10)),
            ExitStatus::Killed(SIGTERM));
  EXPECT_EQ(clock_.Monotonic(), t0);  // no grace needed
  EXPECT_EQ(*rt_.Stop("stubborn", absl::Seconds(10)),
            ExitStatus::Killed(SIGKILL));
  EXPECT_EQ(clock_.Monotonic() - t0, absl::Seconds(10));
}

TEST_F(SimRuntimeTest, OomAndUsageComeFromTheMachine) {
  ASSERT_TRUE(rt_.Launch(Spec("a")).ok());
  Usage u;
  u.cpu_ns = 5;
  u.memory_bytes = 7;
  ASSERT_TRUE(machine_.SetUsage("a", u).ok());
  EXPECT_EQ(rt_.GetUsage("a")->memory_bytes, 7u);
  ASSERT_TRUE(machine_.OomKill("a").ok());
  EXPECT_EQ((*rt_.Poll("a"))->kind, ExitStatus::Kind::kOomKilled);
  EXPECT_TRUE(absl::IsFailedPrecondition(rt_.Signal("a", SIGTERM)));
}

TEST_F(SimRuntimeTest, LaunchErrorsAndDuplicates) {
  machine_.FailNextLaunch("a", absl::NotFoundError("exec nope: missing"));
  EXPECT_THAT(rt_.Launch(Spec("a")).status().message(), HasSubstr("nope"));
  ASSERT_TRUE(rt_.Launch(Spec("a")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(rt_.Launch(Spec("a")).status()));
  TaskSpec bad = Spec("b");
  bad.argv.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(rt_.Launch(bad).status()));
  EXPECT_TRUE(absl::IsNotFound(rt_.Poll("missing").status()));
}

TEST_F(SimRuntimeTest, CleanupKillsAndForgets) {
  ASSERT_TRUE(rt_.Launch(Spec("a")).ok());
  ASSERT_TRUE(rt_.Cleanup("a").ok());
  EXPECT_EQ(machine_.size(), 0u);
  EXPECT_TRUE(absl::IsNotFound(rt_.Poll("a").status()));
  EXPECT_TRUE(rt_.Launch(Spec("a")).ok());  // the id is free again
}

TEST_F(SimRuntimeTest, RestartedAgentAdoptsLiveAndDeadTasks) {
  absl::StatusOr<TaskRecord> live = rt_.Launch(Spec("live"));
  absl::StatusOr<TaskRecord> dead = rt_.Launch(Spec("dead"));
  ASSERT_TRUE(live.ok() && dead.ok());
  ASSERT_TRUE(rt_.Cleanup("dead").ok());  // vanished while "down"

  SimRuntime restarted(&clock_, &machine_);
  EXPECT_TRUE(absl::IsNotFound(restarted.Poll("live").status()));
  ASSERT_TRUE(restarted.Adopt(*live).ok());
  ASSERT_TRUE(restarted.Adopt(*dead).ok());
  EXPECT_EQ(*restarted.Poll("live"), std::nullopt);
  EXPECT_EQ((*restarted.Poll("dead"))->kind, ExitStatus::Kind::kFailed);
  ASSERT_TRUE(machine_.Exit("live", 0).ok());
  EXPECT_TRUE(restarted.Wait("live", absl::ZeroDuration())->ok());
  TaskRecord wrong = *live;
  wrong.pid += 1;
  SimRuntime third(&clock_, &machine_);
  EXPECT_TRUE(absl::IsFailedPrecondition(third.Adopt(wrong)));
}

TEST_F(SimRuntimeTest, ThousandsOfAgentsShareOneProcess) {
  constexpr int kAgents = 2000;
  std::vector<std::unique_ptr<SimMachine>> machines;
  std::vector<std::unique_ptr<SimRuntime>> agents;
  for (int i = 0; i < kAgents; ++i) {
    machines.push_back(std::make_unique<SimMachine>());
    agents.push_back(
        std::make_unique<SimRuntime>(&clock_, machines.back().get()));
    ASSERT_TRUE(agents.back()->Launch(Spec(absl::StrCat("t", i))).ok());
  }
  for (int i = 0; i < kAgents; i += 2) {
    ASSERT_TRUE(machines[i]->Exit(absl::StrCat("t", i), i % 7).ok());
  }
  int running = 0;
  for (int i = 0; i < kAgents; ++i) {
    std::optional<ExitStatus> e = *agents[i]->Poll(absl::StrCat("t", i));
    if (!e.has_value()) {
      ++running;
    } else {
      EXPECT_EQ(*e, ExitStatus::Exited(i % 7));
    }
  }
  EXPECT_EQ(running, kAgents / 2);
}

}  // namespace
}  // namespace berth::agent
