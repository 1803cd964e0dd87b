// LinuxRuntime: each task runs as PID 1 of its own pid, mount, uts and ipc
// namespaces (net optional) inside a cgroup "<cgroup_parent>/<alloc_id>"
// that carries its cpu, memory and pids limits. Needs root.
//
// Policy on top of the thin wrappers (cgroup.h, namespaces.h):
//   * the child joins its cgroup before it execs, so nothing escapes limits;
//   * stop = SIGTERM to every process in the cgroup, SIGKILL to all after the
//     grace period. The task is PID 1 of its namespace, so (like any
//     container init) it ignores signals it has no handler for, except
//     SIGKILL;
//   * when the main process exits the kernel kills the rest of its pid
//     namespace; the cgroup is emptied as well, catching anything that
//     escaped;
//   * an OOM kill anywhere in the cgroup during the task's life (the
//     memory.oom_control oom_kill counter, or memory.failcnt plus SIGKILL on
//     kernels before 4.13) makes the task oom_killed.
//
// Thread safety: see PidRuntime.
#ifndef BERTH_AGENT_RUNTIME_LINUX_RUNTIME_H_
#define BERTH_AGENT_RUNTIME_LINUX_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/pid_runtime.h"

namespace berth::agent {

class LinuxRuntime : public PidRuntime {
 public:
  struct Options {
    std::string cgroup_parent = "berth";  // relative to controller roots
    Clock* clock = Clock::Real();
  };
  // FailedPrecondition unless running as root with cgroups available.
  static absl::StatusOr<std::unique_ptr<LinuxRuntime>> Create(Options options);

  absl::StatusOr<TaskRecord> Launch(const TaskSpec& spec) override;
  std::vector<std::string> Unenforced(const TaskSpec& spec) const override;

 protected:
  absl::Status SignalAll(Task& task, int sig) override;
  ExitStatus OnExit(Task& task, ExitStatus raw) override;
  absl::StatusOr<Usage> TaskUsage(Task& task) override;
  absl::Status Release(Task& task) override;
  absl::Status AdoptResources(Task& task) override;
  // Joins the task's namespaces and cgroup.
  absl::StatusOr<pid_t> SpawnInTask(Task& task, EnterConfig config) override;

 private:
  explicit LinuxRuntime(Options options);
  Options options_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_LINUX_RUNTIME_H_
