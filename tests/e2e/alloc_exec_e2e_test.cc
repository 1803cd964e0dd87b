// berth alloc exec end to end (issue #17 item 1): a real lockd, two real
// schedulers and a real agent, driven through the berth CLI, which reaches
// the agent only through the scheduler. Built twice: on the process runtime
// (label e2e) and on the linux runtime (label root), where the command
// must land in the task's cgroup and namespaces. Waits poll conditions with
// deadlines.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"
#include "tests/e2e/subprocess.h"

#ifndef BERTH_AGENT_E2E_RUNTIME
#define BERTH_AGENT_E2E_RUNTIME "process"
#endif

namespace berth::e2e {
namespace {

constexpr char kRuntime[] = BERTH_AGENT_E2E_RUNTIME;

bool Linux() { return std::string(kRuntime) == "linux"; }

class AllocExecE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    if (Linux() && geteuid() != 0)
      GTEST_SKIP() << "the linux runtime needs root";
    ASSERT_NO_FATAL_FAILURE(StartCluster(1));
    cgroup_parent_ = absl::StrCat("berth-e2e-exec-", getpid());
    const std::string data = absl::StrCat(lockd_->dir(), "/agent-n1");
    std::filesystem::create_directories(data);
    agents_.push_back(std::make_unique<AgentProcess>(
        "n1", lockd_->EndpointsFlag(), lockd_->NextAddress(), data, kRuntime,
        std::vector<std::string>{"--cpu", "4000m", "--memory", "4GiB",
                                 "--cgroup-parent", cgroup_parent_,
                                 "--stop-tasks-on-exit"}));
    ASSERT_TRUE(agents_.back()->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Node("n1").has_value(); }))
        << "n1 never registered";
    ASSERT_TRUE(SubmitUntilAccepted("sleeper", R"(
job: sleeper
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["sleep", "600"]
  resources: {cpu: 10m, memory: 64MiB}
  kill_timeout: 1s
)"));
    ASSERT_TRUE(WaitFor([&] {
      absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("sleeper");
      if (!r.ok()) return false;
      for (const auto& v : RunningAllocs(*r)) id_ = v.alloc().id();
      return !id_.empty();
    })) << "the task never ran";
  }

  RunResult Exec(const std::vector<std::string>& cmd) {
    std::vector<std::string> args = {"alloc", "exec", id_, "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return scheds_->Cli(args);
  }
  // The same through sh, so that stdin or a terminal can be arranged.
  RunResult Shell(const std::string& line) {
    return RunToExit({"/bin/sh", "-c", line},
                     absl::StrCat(lockd_->dir(), "/shell-", ++shells_));
  }
  std::string Berth() {
    return absl::StrCat(BerthCliBinary(), " --scheduler ", scheds_->Flag());
  }

  std::string id_;
  std::string cgroup_parent_;
  int shells_ = 0;
};

TEST_F(AllocExecE2ETest, PassesTheExitCodeAndSeparatesStdoutFromStderr) {
  RunResult seven = Exec({"sh", "-c", "exit 7"});
  EXPECT_EQ(seven.exit_code, 7) << seven.err;
  RunResult both = Exec({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(both.out, "out\n");
  EXPECT_EQ(both.err, "err\n");
  // It runs with the task's environment, in its sandbox.
  RunResult env = Exec({"sh", "-c", "echo $BERTH_ALLOC_ID; pwd"});
  EXPECT_TRUE(absl::StartsWith(env.out, absl::StrCat(id_, "\n"))) << env.out;
  EXPECT_TRUE(absl::StrContains(env.out, absl::StrCat(id_, "/sandbox")))
      << env.out;
  // -i forwards stdin, and its end.
  RunResult cat = Shell(absl::StrCat("printf 'hello\\nworld\\n' | ", Berth(),
                                     " alloc exec -i ", id_, " -- cat"));
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out, "hello\nworld\n");
}

TEST_F(AllocExecE2ETest, ErrorsNameTheProblem) {
  RunResult missing = Exec({"/no/such/program"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(missing.err, "exec /no/such/program"))
      << missing.err;
  RunResult no_alloc = scheds_->Cli({"alloc", "exec", "nope", "--", "true"});
  EXPECT_EQ(no_alloc.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_alloc.err, "allocation nope does not exist"))
      << no_alloc.err;
  RunResult no_cmd = scheds_->Cli({"alloc", "exec", id_});
  EXPECT_EQ(no_cmd.exit_code, 2) << no_cmd.err;
  RunResult no_tty = Shell(
      absl::StrCat(Berth(), " alloc exec -t ", id_, " -- true < /dev/null"));
  EXPECT_EQ(no_tty.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(no_tty.err, "needs a terminal")) << no_tty.err;
}

// -it under script(1), which gives berth a terminal on stdin: the command
// sees a terminal too, and keys typed reach it.
TEST_F(AllocExecE2ETest, TtyRunsTheCommandOnATerminal) {
  RunResult r = Shell(absl::StrCat(
      "printf 'echo typed-$((6*7))\\nexit 3\\n' | script -qec '", Berth(),
      " alloc exec -it ", id_, " -- sh -c \"tty; exec sh\"' /dev/null"));
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "/dev/pts/")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "typed-42")) << r.out;
}

// The linux runtime's own tests exist only in the linux build (label root),
// so that the process build reports no skipped tests.
#ifdef BERTH_AGENT_E2E_LINUX
TEST_F(AllocExecE2ETest, LinuxRunsInsideTheTasksCgroupAndNamespaces) {
  RunResult cg = Exec({"cat", "/proc/self/cgroup"});
  ASSERT_EQ(cg.exit_code, 0) << cg.err;
  const std::string group = absl::StrCat("/", cgroup_parent_, "/", id_);
  for (const char* controller : {"memory", "pids", "cpu"}) {
    bool found = false;
    for (absl::string_view line : absl::StrSplit(cg.out, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ':');
      std::vector<absl::string_view> names =
          absl::StrSplit(f.size() == 3 ? f[1] : "", ',');
      if (f.size() == 3 &&
          std::find(names.begin(), names.end(), controller) != names.end()) {
        EXPECT_EQ(f[2], group) << line;
        found = true;
      }
    }
    EXPECT_TRUE(found) << controller << " missing from\n" << cg.out;
  }
  RunResult host = Exec({"hostname"});
  EXPECT_EQ(host.out, absl::StrCat(id_, "\n")) << host.err;
  // The task's pid namespace: its sleep is pid 1, and the host's processes
  // are invisible.
  RunResult ls = Exec({"ls", "/proc"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  std::vector<int> pids;
  for (absl::string_view w :
       absl::StrSplit(ls.out, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(w, &pid)) pids.push_back(pid);
  }
  EXPECT_TRUE(std::find(pids.begin(), pids.end(), 1) != pids.end()) << ls.out;
  EXPECT_LE(pids.size(), 3u) << ls.out;
  RunResult init = Exec({"cat", "/proc/1/cmdline"});
  EXPECT_TRUE(absl::StartsWith(init.out, std::string("sleep\0", 6)))
      << init.out;
  // The task's ipc namespace (uts and mnt are shown by hostname and /proc).
  RunResult ipc = Exec({"sh", "-c", "readlink /proc/self/ns/ipc"});
  RunResult task_ipc = Exec({"readlink", "/proc/1/ns/ipc"});
  EXPECT_EQ(ipc.out, task_ipc.out);
}

// Exec health probes run inside the task too: this probe passes only where
// /proc/1 is the task's own sleep, not the host's init. The probe is charged
// to the task's cgroup, so its CPU share and timeout leave room for a sh and
// a grep on a busy CI machine (10m and 400ms timed out there).
TEST_F(AllocExecE2ETest, LinuxExecProbesRunInsideTheTask) {
  ASSERT_TRUE(SubmitUntilAccepted("probed", R"(
job: probed
kind: service
replicas: 1
task:
  command: ["sleep", "600"]
  resources: {cpu: 200m, memory: 64MiB}
  health: {exec: ["sh", "-c", "grep -q sleep /proc/1/cmdline"], interval: 2s, timeout: 2s}
  kill_timeout: 1s
)"));
  std::string output;
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status("probed");
    if (!r.ok()) return false;
    for (const auto& v : RunningAllocs(*r)) {
      output = v.status().health_output();
      if (v.status().healthy()) return true;
    }
    return false;
  })) << "the probe never passed inside the task: "
      << output;
}
#endif  // BERTH_AGENT_E2E_LINUX

}  // namespace
}  // namespace berth::e2e
