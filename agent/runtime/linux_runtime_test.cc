// Root-only: these tests create namespaces and cgroups for real. Every
// cgroup lives under "berth-test-<pid>", which TearDown removes (killing
// leftovers) even when a test fails.
#include "agent/runtime/linux_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/cgroup.h"
#include "agent/runtime/namespaces.h"
#include "agent/runtime/proc.h"
#include "agent/runtime/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using testing::Dead;
using ::testing::HasSubstr;
using testing::kDeadline;
using testing::Slurp;

class LinuxRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "the linux runtime needs root for namespaces and "
                      "cgroups; run as root (CI does)";
    }
    dir_ = testing::MakeTempDir();
    parent_ = absl::StrCat("berth-test-", getpid());
    absl::StatusOr<std::unique_ptr<LinuxRuntime>> rt =
        LinuxRuntime::Create({.cgroup_parent = parent_});
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
  }
  void TearDown() override {
    if (parent_.empty()) return;
    rt_.reset();
    EXPECT_TRUE(Cgroup::DestroyTree(parent_).ok());
    std::filesystem::remove_all(dir_);
  }

  TaskSpec Spec(const std::string& id, const std::string& script) {
    TaskSpec s;
    s.alloc_id = id;
    s.argv = {"sh", "-c", script};
    s.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    s.sandbox_dir = dir_ + "/" + id;
    return s;
  }
  std::string Out(const std::string& id, const std::string& f = "stdout") {
    return Slurp(dir_ + "/" + id + "/" + f);
  }
  std::unique_ptr<Cgroup> Group(const std::string& id) {
    absl::StatusOr<std::unique_ptr<Cgroup>> cg =
        Cgroup::Open(parent_ + "/" + id);
    EXPECT_TRUE(cg.ok()) << cg.status();
    return cg.ok() ? std::move(*cg) : nullptr;
  }

  std::string dir_;
  std::string parent_;
  std::unique_ptr<LinuxRuntime> rt_;
};

TEST_F(LinuxRuntimeTest, TaskIsPidOneWithItsOwnProcAndHostname) {
  ASSERT_TRUE(rt_->Launch(Spec("web-7",
                               "echo $$; cat /proc/sys/kernel/"
                               "hostname; tr '\\0' ' ' "
                               "</proc/1/cmdline; echo"))
                  .ok());
  EXPECT_EQ(*rt_->Wait("web-7", kDeadline), ExitStatus::Exited(0));
  EXPECT_THAT(Out("web-7"), ::testing::StartsWith("1\nweb-7\nsh -c "));
  ASSERT_TRUE(rt_->Cleanup("web-7").ok());
}

// The child sets its credentials with raw system calls (it shares the
// agent's memory until exec; namespaces.cc): the task runs as the given
// user and group, with no supplementary group left from the agent.
TEST_F(LinuxRuntimeTest, RunsAsTheGivenUserAndGroupOnly) {
  TaskSpec s = Spec("as-nobody", "id -u; id -g; id -G");
  s.uid = 65534;
  s.gid = 65534;
  ASSERT_TRUE(rt_->Launch(s).ok());
  EXPECT_EQ(*rt_->Wait("as-nobody", kDeadline), ExitStatus::Exited(0));
  EXPECT_EQ(Out("as-nobody"), "65534\n65534\n65534\n");
  ASSERT_TRUE(rt_->Cleanup("as-nobody").ok());
}

TEST_F(LinuxRuntimeTest, CgroupLimitsAreWritten) {
  TaskSpec s = Spec("limits", "exec sleep 100");
  s.resources = {.cpu_limit_millicores = 500,
                 .cpu_request_millicores = 250,
                 .memory_bytes = 64 << 20,
                 .pids_max = 32};
  absl::StatusOr<TaskRecord> rec = rt_->Launch(s);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->cgroup, parent_ + "/limits");
  std::unique_ptr<Cgroup> cg = Group("limits");
  ASSERT_NE(cg, nullptr);
  EXPECT_EQ(*cg->Read("cpu", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(*cg->Read("cpu", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(*cg->Read("cpu", "cpu.shares"), "256");
  EXPECT_EQ(*cg->Read("memory", "memory.limit_in_bytes"),
            absl::StrCat(64 << 20));
  EXPECT_EQ(*cg->Read("pids", "pids.max"), "32");
  // The kernel files themselves, not only libcgroup's view.
  EXPECT_EQ(Slurp(*cg->Dir("pids") + "/pids.max"), "32\n");
  std::vector<pid_t> procs = *cg->Procs();
  EXPECT_THAT(procs, ::testing::ElementsAre(rec->pid));
  // The task joined the group itself (Cgroup::OpenSelfJoin): in every
  // controller, as the kernel sees it.
  std::map<std::string, std::string> where;  // controller -> group
  for (absl::string_view line :
       absl::StrSplit(Slurp(absl::StrCat("/proc/", rec->pid, "/cgroup")), '\n',
                      absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    for (absl::string_view c : absl::StrSplit(f[1], ','))
      where[std::string(c)] = f[2];
  }
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) {
    EXPECT_EQ(where[c], "/" + rec->cgroup) << c;
  }
  // Limits can change while the task runs; lowering memory works too.
  ASSERT_TRUE(
      cg->Update({.cpu_limit_millicores = 2000, .memory_bytes = 48 << 20})
          .ok());
  EXPECT_EQ(*cg->Read("cpu", "cpu.cfs_quota_us"), "200000");
  EXPECT_EQ(*cg->Read("cpu", "cpu.shares"), "1024");
  EXPECT_EQ(*cg->Read("memory", "memory.limit_in_bytes"),
            absl::StrCat(48 << 20));
  EXPECT_EQ(*cg->Read("pids", "pids.max"), "max");
  EXPECT_EQ(*rt_->Stop("limits", absl::Milliseconds(100)),
            ExitStatus::Killed(SIGKILL));  // PID 1 ignores SIGTERM
  ASSERT_TRUE(rt_->Cleanup("limits").ok());
}

TEST_F(LinuxRuntimeTest, PidsLimitStopsForks) {
  TaskSpec s = Spec("forky",
                    "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do "
                    "sleep 100 & done; echo spawned");
  s.resources.pids_max = 6;
  ASSERT_TRUE(rt_->Launch(s).ok());
  std::unique_ptr<Cgroup> cg = Group("forky");
  ASSERT_NE(cg, nullptr);
  ASSERT_TRUE(testing::WaitFor([&] {
    return !Out("forky", "stderr").empty() || !Out("forky").empty();
  }));
  absl::StatusOr<ExitStatus> exit = rt_->Wait("forky", kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_THAT(Out("forky", "stderr"), HasSubstr("fork"));
  // pids.events counts forks refused at the limit.
  EXPECT_THAT(Slurp(*cg->Dir("pids") + "/pids.events"),
              ::testing::Not(HasSubstr("max 0")));
  ASSERT_TRUE(rt_->Cleanup("forky").ok());
}

TEST_F(LinuxRuntimeTest, MemoryLimitIsReportedAsOomKill) {
  TaskSpec s = Spec("hog", "x=$(head -c 200M /dev/zero | tr '\\0' a)");
  s.resources.memory_bytes = 32 << 20;
  ASSERT_TRUE(rt_->Launch(s).ok());
  absl::StatusOr<ExitStatus> exit = rt_->Wait("hog", kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->kind, ExitStatus::Kind::kOomKilled) << exit->ToString();
  std::cout << "hog: " << exit->ToString() << "\n";
  EXPECT_LE(rt_->GetUsage("hog")->memory_peak_bytes, 32u << 20);
  ASSERT_TRUE(rt_->Cleanup("hog").ok());
}

TEST_F(LinuxRuntimeTest, StopKillsGrandchildrenAndDaemons) {
  ASSERT_TRUE(rt_->Launch(Spec("tree",
                               "trap '' TERM; sleep 100 & "
                               "(setsid sh -c 'trap \"\" TERM; sleep 100' &); "
                               "echo up; while :; do sleep 1; done"))
                  .ok());
  std::unique_ptr<Cgroup> cg = Group("tree");
  ASSERT_NE(cg, nullptr);
  std::vector<pid_t> procs;
  // sh, its sleep, the daemon sh and its sleep (+ the loop's sleep).
  ASSERT_TRUE(testing::WaitFor([&] {
    procs = *cg->Procs();
    return procs.size() >= 4;
  }));
  EXPECT_EQ(*rt_->Stop("tree", absl::Milliseconds(100)),
            ExitStatus::Killed(SIGKILL));
  EXPECT_TRUE(cg->Procs()->empty());
  for (pid_t p : procs) EXPECT_TRUE(Dead(p)) << p;
  ASSERT_TRUE(rt_->Cleanup("tree").ok());
}

TEST_F(LinuxRuntimeTest, StopIsGracefulWhenTheTaskHandlesSigterm) {
  ASSERT_TRUE(rt_->Launch(Spec("graceful",
                               "trap 'exit 7' TERM; echo up; "
                               "while :; do sleep 1; done"))
                  .ok());
  ASSERT_TRUE(testing::WaitFor([&] { return Out("graceful") == "up\n"; }));
  // SIGTERM reaches the sleep too, so the shell's trap runs at once.
  EXPECT_EQ(*rt_->Stop("graceful", kDeadline), ExitStatus::Exited(7));
  ASSERT_TRUE(rt_->Cleanup("graceful").ok());
}

// The child joins its cgroups itself; if it cannot, Spawn fails with the
// step named and the child never runs the command.
TEST_F(LinuxRuntimeTest, SpawnReportsACgroupJoinThatFails) {
  const std::string marker = dir_ + "/ran";
  TaskSpec spec = Spec("join", "touch " + marker);
  std::filesystem::create_directories(spec.sandbox_dir);
  ChildConfig c = PlainChild(spec);
  Fd read_only(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(read_only.valid());
  c.join_fds = {read_only.get()};
  absl::StatusOr<pid_t> pid = Spawn(c, [](pid_t) { return absl::OkStatus(); });
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(pid.status().message(), HasSubstr("join its cgroup"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(LinuxRuntimeTest, UsageAfterBurningCpu) {
  ASSERT_TRUE(rt_->Launch(Spec("burn",
                               "i=0; while [ $i -lt 300000 ]; do "
                               "i=$((i+1)); done"))
                  .ok());
  EXPECT_EQ(*rt_->Wait("burn", kDeadline), ExitStatus::Exited(0));
  absl::StatusOr<Usage> u = rt_->GetUsage("burn");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_GT(u->cpu_ns, 0u);
  EXPECT_GT(u->memory_peak_bytes, 0u);
  EXPECT_EQ(u->pids, 0u);  // everything is gone
  ASSERT_TRUE(rt_->Cleanup("burn").ok());
}

TEST_F(LinuxRuntimeTest, ExecFailureIsClearAndLeavesNoCgroup) {
  TaskSpec s = Spec("nope", "");
  s.argv = {"/bin/nope"};
  absl::StatusOr<TaskRecord> r = rt_->Launch(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("exec /bin/nope: No such file or directory"));
  EXPECT_TRUE(absl::IsNotFound(Cgroup::Open(parent_ + "/nope").status()));
}

TEST_F(LinuxRuntimeTest, CleanupRemovesTheCgroup) {
  ASSERT_TRUE(rt_->Launch(Spec("c", "exec sleep 100")).ok());
  std::unique_ptr<Cgroup> cg = Group("c");
  ASSERT_NE(cg, nullptr);
  std::vector<std::string> dirs;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) {
    dirs.push_back(*cg->Dir(c));
    EXPECT_TRUE(std::filesystem::exists(dirs.back())) << dirs.back();
  }
  ASSERT_TRUE(rt_->Cleanup("c").ok());
  for (const std::string& d : dirs) {
    EXPECT_FALSE(std::filesystem::exists(d)) << d;
  }
}

TEST_F(LinuxRuntimeTest, FreshRuntimeAdoptsARunningTask) {
  absl::StatusOr<TaskRecord> rec = rt_->Launch(Spec("keep", "exec sleep 100"));
  ASSERT_TRUE(rec.ok()) << rec.status();
  rt_.reset();  // the agent "restarts"; the task keeps running
  absl::StatusOr<std::unique_ptr<LinuxRuntime>> fresh =
      LinuxRuntime::Create({.cgroup_parent = parent_});
  ASSERT_TRUE(fresh.ok());
  rt_ = std::move(*fresh);
  ASSERT_TRUE(rt_->Adopt(*rec).ok());
  EXPECT_EQ(*rt_->Poll("keep"), std::nullopt);
  EXPECT_EQ(rt_->GetUsage("keep")->pids, 1u);
  absl::StatusOr<ExitStatus> exit = rt_->Stop("keep", absl::Milliseconds(50));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->kind, ExitStatus::Kind::kFailed);  // code unknown
  EXPECT_TRUE(Dead(rec->pid));
  ASSERT_TRUE(rt_->Cleanup("keep").ok());
  EXPECT_TRUE(absl::IsNotFound(Cgroup::Open(rec->cgroup).status()));
  waitpid(rec->pid, nullptr, 0);  // this process was the real parent
}

TEST_F(LinuxRuntimeTest, RootfsWithReadOnlyBinds) {
  // A minimal rootfs: the host's /usr, read-only, plus merged-/usr links.
  std::string root = dir_ + "/rootfs";
  std::filesystem::create_directories(root);
  for (const char* l : {"bin", "lib", "lib64", "sbin"}) {
    std::filesystem::create_directory_symlink(std::string("usr/") + l,
                                              root + "/" + l);
  }
  TaskSpec s =
      Spec("jail", "pwd; echo hi > note; ls /; touch /usr/x || echo ro");
  s.rootfs = root;
  s.binds = {{.source = "/usr", .target = "/usr", .read_only = true}};
  ASSERT_TRUE(rt_->Launch(s).ok());
  EXPECT_EQ(*rt_->Wait("jail", kDeadline), ExitStatus::Exited(0));
  EXPECT_EQ(Out("jail"),
            "/sandbox\nbin\nlib\nlib64\nproc\nsandbox\nsbin\n"
            "usr\nro\n");
  EXPECT_THAT(Out("jail", "stderr"), HasSubstr("Read-only file system"));
  EXPECT_EQ(Out("jail", "note"), "hi\n");  // the sandbox is the host dir
  ASSERT_TRUE(rt_->Cleanup("jail").ok());
}

TEST_F(LinuxRuntimeTest, NetworkNamespaceHasOnlyLoopback) {
  TaskSpec s = Spec("net", "tail -n +3 /proc/net/dev | cut -d: -f1");
  s.new_net_namespace = true;
  ASSERT_TRUE(rt_->Launch(s).ok());
  EXPECT_EQ(*rt_->Wait("net", kDeadline), ExitStatus::Exited(0));
  EXPECT_EQ(Out("net"), "    lo\n");
  ASSERT_TRUE(rt_->Cleanup("net").ok());
}

TEST_F(LinuxRuntimeTest, DestroyTreeSweepsForgottenTasks) {
  absl::StatusOr<TaskRecord> rec = rt_->Launch(Spec("lost", "exec sleep 100"));
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(Cgroup::DestroyTree(parent_).ok());
  EXPECT_TRUE(absl::IsNotFound(Cgroup::Open(rec->cgroup).status()));
  EXPECT_TRUE(Dead(rec->pid));
}

}  // namespace
}  // namespace berth::agent
