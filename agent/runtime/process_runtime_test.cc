#include "agent/runtime/process_runtime.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/runtime/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::Contains;
using testing::Dead;
using ::testing::HasSubstr;
using testing::kDeadline;
using testing::ReadPids;
using testing::Slurp;

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TaskSpec Spec(const std::string& id, std::vector<std::string> argv) {
    TaskSpec s;
    s.alloc_id = id;
    s.argv = std::move(argv);
    s.env = {"PATH=/usr/bin:/bin"};
    s.sandbox_dir = dir_ + "/" + id;
    return s;
  }
  std::string Out(const std::string& id) {
    return Slurp(dir_ + "/" + id + "/stdout");
  }

  std::string dir_;
  std::unique_ptr<ProcessRuntime> rt_ = ProcessRuntime::Create();
};

TEST_F(ProcessRuntimeTest, ReportsExitCodes) {
  ASSERT_TRUE(rt_->Launch(Spec("t", {"/bin/true"})).ok());
  ASSERT_TRUE(rt_->Launch(Spec("three", {"sh", "-c", "exit 3"})).ok());
  EXPECT_EQ(*rt_->Wait("t", kDeadline), ExitStatus::Exited(0));
  EXPECT_EQ(*rt_->Wait("three", kDeadline), ExitStatus::Exited(3));
  EXPECT_EQ(**rt_->Poll("three"), ExitStatus::Exited(3));
  EXPECT_TRUE(rt_->Cleanup("t").ok());
  EXPECT_TRUE(rt_->Cleanup("three").ok());
  EXPECT_TRUE(absl::IsNotFound(rt_->Poll("t").status()));
}

TEST_F(ProcessRuntimeTest, CapturesStdoutStderrWithEnvAndWorkdir) {
  TaskSpec s = Spec("io", {"sh", "-c", "echo $GREETING; pwd; echo oops >&2"});
  s.env.push_back("GREETING=hello");
  ASSERT_TRUE(rt_->Launch(s).ok());
  EXPECT_EQ(*rt_->Wait("io", kDeadline), ExitStatus::Exited(0));
  EXPECT_EQ(Out("io"), "hello\n" + s.sandbox_dir + "\n");
  EXPECT_EQ(Slurp(s.sandbox_dir + "/stderr"), "oops\n");
}

TEST_F(ProcessRuntimeTest, ExecFailureIsAClearError) {
  absl::StatusOr<TaskRecord> r = rt_->Launch(Spec("nope", {"/bin/nope"}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("exec /bin/nope: No such file or directory"));
  r = rt_->Launch(Spec("nope2", {"no-such-program-anywhere"}));
  EXPECT_THAT(r.status().message(),
              HasSubstr("exec no-such-program-anywhere: No such file"));
  EXPECT_TRUE(absl::IsNotFound(rt_->Poll("nope").status()));
}

TEST_F(ProcessRuntimeTest, SignalKillsTheTask) {
  ASSERT_TRUE(rt_->Launch(Spec("s", {"sleep", "100"})).ok());
  EXPECT_EQ(*rt_->Poll("s"), std::nullopt);
  EXPECT_TRUE(
      absl::IsDeadlineExceeded(rt_->Wait("s", absl::ZeroDuration()).status()));
  ASSERT_TRUE(rt_->Signal("s", SIGUSR1).ok());
  EXPECT_EQ(*rt_->Wait("s", kDeadline), ExitStatus::Killed(SIGUSR1));
  EXPECT_TRUE(absl::IsFailedPrecondition(rt_->Signal("s", SIGKILL)));
}

TEST_F(ProcessRuntimeTest, StopWithSigtermWhenTheTaskComplies) {
  ASSERT_TRUE(rt_->Launch(Spec("s", {"sleep", "100"})).ok());
  EXPECT_EQ(*rt_->Stop("s", kDeadline), ExitStatus::Killed(SIGTERM));
}

TEST_F(ProcessRuntimeTest, StopEscalatesToSigkillAndKillsTheGroup) {
  // The shell ignores SIGTERM; its background child is in its group.
  ASSERT_TRUE(rt_->Launch(Spec("stubborn",
                               {"sh", "-c",
                                "trap '' TERM; sleep 100 & echo $$; echo $!; "
                                "while :; do sleep 1; done"}))
                  .ok());
  std::vector<pid_t> pids = ReadPids(dir_ + "/stubborn/stdout", 2);
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_EQ(*rt_->Stop("stubborn", absl::Milliseconds(100)),
            ExitStatus::Killed(SIGKILL));
  EXPECT_TRUE(testing::WaitFor([&] { return Dead(pids[1]); }));
}

TEST_F(ProcessRuntimeTest, UsageOfARunningTask) {
  ASSERT_TRUE(rt_->Launch(Spec("u", {"sleep", "100"})).ok());
  absl::StatusOr<Usage> u;
  // Right after exec the new image may not have faulted in any page yet.
  EXPECT_TRUE(testing::WaitFor([&] {
    u = rt_->GetUsage("u");
    return u.ok() && u->memory_bytes > 0;
  })) << u.status();
  EXPECT_EQ(u->pids, 1u);
  ASSERT_TRUE(rt_->Cleanup("u").ok());
}

TEST_F(ProcessRuntimeTest, SaysWhichLimitsItCannotEnforce) {
  TaskSpec s = Spec("x", {"true"});
  s.resources.memory_bytes = 1 << 20;
  s.resources.pids_max = 10;
  std::vector<std::string> w = rt_->Unenforced(s);
  EXPECT_THAT(w, Contains(HasSubstr("memory limit is not enforced")));
  EXPECT_THAT(w, Contains(HasSubstr("pids limit is not enforced")));
  TaskSpec rootfs = s;
  rootfs.rootfs = "/";
  EXPECT_THAT(rt_->Launch(rootfs).status().message(), HasSubstr("rootfs"));
}

TEST_F(ProcessRuntimeTest, ConcurrentLaunchesFromManyThreads) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<ExitStatus>> exits(kThreads,
                                                absl::UnknownError("unset"));
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::string id = "c" + std::to_string(i);
      absl::StatusOr<TaskRecord> r =
          rt_->Launch(Spec(id, {"sh", "-c", "exit " + std::to_string(i)}));
      exits[i] = r.ok() ? rt_->Wait(id, kDeadline) : r.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(exits[i].ok()) << exits[i].status();
    EXPECT_EQ(*exits[i], ExitStatus::Exited(i));
  }
}

TEST_F(ProcessRuntimeTest, FreshRuntimeAdoptsARunningTask) {
  absl::StatusOr<TaskRecord> rec = rt_->Launch(Spec("a", {"sleep", "100"}));
  ASSERT_TRUE(rec.ok());
  auto restarted = ProcessRuntime::Create();
  ASSERT_TRUE(restarted->Adopt(*rec).ok());
  EXPECT_EQ(*restarted->Poll("a"), std::nullopt);
  absl::StatusOr<ExitStatus> exit = restarted->Stop("a", kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  // Only the real parent learns the exit code.
  EXPECT_EQ(exit->kind, ExitStatus::Kind::kFailed);
  EXPECT_TRUE(Dead(rec->pid));
  // A stale record (pid reused or gone) is adopted as already exited.
  TaskRecord stale = *rec;
  stale.alloc_id = "stale";
  stale.start_ticks += 1;
  ASSERT_TRUE(restarted->Adopt(stale).ok());
  EXPECT_TRUE((*restarted->Poll("stale")).has_value());
  EXPECT_TRUE(absl::IsAlreadyExists(restarted->Adopt(*rec)));
}

// The agent reacts to exits through the listener instead of polling.
TEST_F(ProcessRuntimeTest, ExitListenerHearsChildAndAdoptedTaskExits) {
  absl::Mutex mu;
  std::vector<std::string> heard;
  auto listen = [&](const std::string& id) {
    absl::MutexLock l(&mu);
    heard.push_back(id);
  };
  auto heard_of = [&](const std::string& id) {
    absl::MutexLock l(&mu);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return std::find(heard.begin(), heard.end(), id) != heard.end();
    };
    return mu.AwaitWithTimeout(absl::Condition(&has), kDeadline);
  };
  ASSERT_TRUE(rt_->SetExitListener(listen).ok());
  // A child that exits on its own, with nobody waiting on it.
  ASSERT_TRUE(rt_->Launch(Spec("quick", {"sh", "-c", "exit 4"})).ok());
  EXPECT_TRUE(heard_of("quick"));
  EXPECT_EQ(**rt_->Poll("quick"), ExitStatus::Exited(4));
  // A task adopted by a fresh runtime (not its child) is heard too.
  absl::StatusOr<TaskRecord> rec = rt_->Launch(Spec("long", {"sleep", "100"}));
  ASSERT_TRUE(rec.ok());
  auto restarted = ProcessRuntime::Create();
  ASSERT_TRUE(restarted->SetExitListener(listen).ok());
  ASSERT_TRUE(restarted->Adopt(*rec).ok());
  ASSERT_EQ(kill(rec->pid, SIGKILL), 0);
  EXPECT_TRUE(heard_of("long"));
  // An empty listener stops the notifications, and once set no listener
  // call is running: both runtimes drop theirs before `mu` and `heard` go
  // (rt_ heard "long" too, as its parent, and could still be calling).
  ASSERT_TRUE(restarted->SetExitListener(nullptr).ok());
  ASSERT_TRUE(rt_->SetExitListener(nullptr).ok());
  ASSERT_TRUE(rt_->Cleanup("long").ok());
  ASSERT_TRUE(rt_->Cleanup("quick").ok());
}

}  // namespace
}  // namespace berth::agent
