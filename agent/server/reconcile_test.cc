// Table-style tests of the agent's decision function. Local state comes
// from a SimRuntime (tasks launched, exited, adopted after a restart), so
// the inputs are what the agent would really observe.
#include "agent/server/reconcile.h"

#include <map>
#include <string>
#include <vector>

#include "agent/runtime/sim_runtime.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Kind = Action::Kind;

agentpb::AllocationSpec Spec(
    const std::string& id, int64_t attempt = 1,
    agentpb::DesiredState desired = agentpb::DESIRED_RUN) {
  agentpb::AllocationSpec s;
  s.set_alloc_id(id);
  s.set_job("web");
  s.add_command("server");
  s.set_attempt(attempt);
  s.set_desired(desired);
  return s;
}

Action A(Kind kind, const std::string& id) { return Action{kind, id, {}}; }
Action Exit(const std::string& id, ExitStatus status) {
  return Action{Kind::kRecordExit, id, status};
}

class ReconcileTest : public ::testing::Test {
 protected:
  ReconcileTest() : clock_(absl::FromUnixSeconds(1000)), rt_(&clock_, &m_) {}

  // Launches `id` in the simulated runtime and records it as running.
  void Running(const std::string& id, int64_t attempt = 1) {
    TaskSpec t;
    t.alloc_id = id;
    t.argv = {"server"};
    t.sandbox_dir = "/sandbox/" + id;
    absl::StatusOr<TaskRecord> task = rt_.Launch(t);
    ASSERT_TRUE(task.ok()) << task.status();
    AllocRecord r;
    r.alloc_id = id;
    r.state = AllocState::kRunning;
    r.attempt = attempt;
    r.task = *task;
    records_[id] = r;
  }

  // What the agent passes to Reconcile: each record plus a runtime Poll.
  std::map<std::string, LocalAlloc> Observe(Runtime& rt) {
    std::map<std::string, LocalAlloc> out;
    for (const auto& [id, r] : records_) {
      LocalAlloc l;
      l.record = r;
      absl::StatusOr<std::optional<ExitStatus>> exit = rt.Poll(id);
      l.in_runtime = exit.ok();
      if (exit.ok()) l.exit = *exit;
      l.stopping = stopping_.count(id) > 0;
      out[id] = l;
    }
    return out;
  }
  std::map<std::string, LocalAlloc> Observe() { return Observe(rt_); }

  SimClock clock_;
  SimMachine m_;
  SimRuntime rt_;
  std::map<std::string, AllocRecord> records_;
  std::map<std::string, bool> stopping_;
  std::map<std::string, agentpb::AllocationSpec> desired_;
};

TEST_F(ReconcileTest, NewRunAllocIsLaunchedAndNewStopAllocIsMarked) {
  desired_["a1"] = Spec("a1");
  desired_["a2"] = Spec("a2", 1, agentpb::DESIRED_STOP);
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(A(Kind::kLaunch, "a1"), A(Kind::kMarkStopped, "a2")));
}

TEST_F(ReconcileTest, RunningAllocMatchingItsSpecNeedsNothing) {
  Running("a1");
  desired_["a1"] = Spec("a1");
  EXPECT_THAT(Reconcile(desired_, true, Observe()), IsEmpty());
}

TEST_F(ReconcileTest, DesiredStopStopsOnceThenRecordsTheExit) {
  Running("a1");
  desired_["a1"] = Spec("a1", 1, agentpb::DESIRED_STOP);
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(A(Kind::kStop, "a1")));

  // While the stop is in flight nothing new is decided.
  stopping_["a1"] = true;
  EXPECT_THAT(Reconcile(desired_, true, Observe()), IsEmpty());

  absl::StatusOr<ExitStatus> st = rt_.Stop("a1", absl::ZeroDuration());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(Exit("a1", *st)));
}

TEST_F(ReconcileTest, ExitedTaskIsRecordedAndNotRestarted) {
  Running("a1");
  desired_["a1"] = Spec("a1");
  ASSERT_TRUE(m_.Exit("a1", 3).ok());
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(Exit("a1", ExitStatus::Exited(3))));

  // Once recorded, the terminal record stays terminal: no relaunch.
  records_["a1"].SetExit(ExitStatus::Exited(3));
  EXPECT_THAT(Reconcile(desired_, true, Observe()), IsEmpty());
}

TEST_F(ReconcileTest, OomKillIsRecordedAsSuch) {
  Running("a1");
  desired_["a1"] = Spec("a1");
  ASSERT_TRUE(m_.OomKill("a1").ok());
  std::vector<Action> got = Reconcile(desired_, true, Observe());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, Kind::kRecordExit);
  ASSERT_TRUE(got[0].exit.has_value());
  EXPECT_EQ(got[0].exit->kind, ExitStatus::Kind::kOomKilled);
}

TEST_F(ReconcileTest, AllocMovedElsewhereIsStoppedThenForgotten) {
  Running("a1");
  Running("a2");
  desired_["a2"] = Spec("a2");
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(A(Kind::kStop, "a1")));

  ASSERT_TRUE(rt_.Stop("a1", absl::ZeroDuration()).ok());
  std::vector<Action> got = Reconcile(desired_, true, Observe());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, Kind::kRecordExit);
  EXPECT_EQ(got[1], A(Kind::kForget, "a1"));
}

TEST_F(ReconcileTest, HigherAttemptReplacesTheTask) {
  Running("a1", /*attempt=*/1);
  desired_["a1"] = Spec("a1", /*attempt=*/2);
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(A(Kind::kStop, "a1")));

  ASSERT_TRUE(m_.Exit("a1", 0).ok());
  EXPECT_THAT(
      Reconcile(desired_, true, Observe()),
      ElementsAre(Exit("a1", ExitStatus::Exited(0)), A(Kind::kLaunch, "a1")));
}

TEST_F(ReconcileTest, UnknownDesiredStateOnlyRecordsExits) {
  Running("a1");
  Running("a2");
  ASSERT_TRUE(m_.Exit("a2", 1).ok());
  // Lockd unreachable at start: a1 is not stopped although no spec names it.
  EXPECT_THAT(Reconcile({}, false, Observe()),
              ElementsAre(Exit("a2", ExitStatus::Exited(1))));
}

TEST_F(ReconcileTest, RecordWithoutTaskFromACrashMidLaunchIsLaunched) {
  AllocRecord r;
  r.alloc_id = "a1";
  r.state = AllocState::kStarting;
  r.attempt = 1;
  records_["a1"] = r;
  desired_["a1"] = Spec("a1");
  EXPECT_THAT(Reconcile(desired_, true, Observe()),
              ElementsAre(A(Kind::kLaunch, "a1")));
}

TEST_F(ReconcileTest, AdoptedLiveTaskIsKeptAndDeadOneRecorded) {
  Running("a1");
  Running("a2");
  desired_["a1"] = Spec("a1");
  desired_["a2"] = Spec("a2");

  // The agent restarts: a fresh runtime on the same machine adopts both
  // tasks; a2 died while the agent was down.
  SimRuntime restarted(&clock_, &m_);
  ASSERT_TRUE(m_.Crash("a2", "segfault").ok());
  for (const auto& [id, r] : records_) {
    ASSERT_TRUE(restarted.Adopt(*r.task).ok());
  }
  std::vector<Action> got = Reconcile(desired_, true, Observe(restarted));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, Kind::kRecordExit);
  EXPECT_EQ(got[0].alloc_id, "a2");
  EXPECT_TRUE(m_.Running("a1"));
}

TEST_F(ReconcileTest, ActionsNameTheirAllocation) {
  EXPECT_EQ(ToString(Exit("a1", ExitStatus::Exited(3))),
            "record_exit(a1, exited(3))");
  EXPECT_EQ(ToString(A(Kind::kForget, "a9")), "forget(a9)");
}

}  // namespace
}  // namespace berth::agent
