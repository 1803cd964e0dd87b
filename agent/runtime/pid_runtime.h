// PidRuntime: the bookkeeping shared by runtimes whose tasks are real
// processes (LinuxRuntime, ProcessRuntime): the task table, reaping, waiting
// on pidfds, stop escalation and adoption. Subclasses launch the process and
// supply the isolation-specific hooks below.
//
// Thread safety: one mutex guards the task table and every hook call; Wait
// and Stop wait on a duplicated pidfd with the mutex released.
#ifndef BERTH_AGENT_RUNTIME_PID_RUNTIME_H_
#define BERTH_AGENT_RUNTIME_PID_RUNTIME_H_

#include <sys/resource.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "agent/runtime/cgroup.h"
#include "agent/runtime/enter.h"
#include "agent/runtime/exit_notifier.h"
#include "agent/runtime/proc.h"
#include "agent/runtime/runtime.h"
#include "common/clock.h"

namespace berth::agent {

class PidRuntime : public Runtime {
 public:
  explicit PidRuntime(Clock* clock) : clock_(clock) {}

  absl::Status Signal(const std::string& id, int sig) override;
  absl::StatusOr<std::optional<ExitStatus>> Poll(
      const std::string& id) override;
  absl::StatusOr<ExitStatus> Wait(const std::string& id,
                                  absl::Duration timeout) override;
  absl::StatusOr<Usage> GetUsage(const std::string& id) override;
  absl::StatusOr<ExitStatus> Stop(const std::string& id,
                                  absl::Duration grace) override;
  absl::Status Cleanup(const std::string& id) override;
  absl::Status Adopt(const TaskRecord& record) override;
  absl::Status SetExitListener(
      std::function<void(const std::string& id)> listener) override;
  absl::StatusOr<pid_t> Exec(const std::string& id,
                             const ExecSpec& spec) override;

 protected:
  struct Task {
    TaskRecord record;
    Fd pidfd;
    bool child = false;     // launched by us, so waitable
    bool stopping = false;  // Stop() sent the signals
    std::optional<ExitStatus> exit;
    std::optional<Usage> final_usage;  // from wait4, process runtime
    std::unique_ptr<Cgroup> cgroup;    // linux runtime only
    uint64_t oom_kills_at_start = 0;
  };

  // Sends `sig` to every process of the task.
  virtual absl::Status SignalAll(Task& task, int sig) = 0;
  // Turns the main process's raw exit into the task's status (OOM
  // detection) and kills what is left of the task.
  virtual ExitStatus OnExit(Task& task, ExitStatus raw) = 0;
  virtual absl::StatusOr<Usage> TaskUsage(Task& task) = 0;
  // Releases per-task resources; the task has exited.
  virtual absl::Status Release(Task& task) = 0;
  // Re-acquires per-task resources for an adopted task.
  virtual absl::Status AdoptResources(Task& task) = 0;
  // Starts `config` (user, env and command filled in) inside the live task;
  // the default joins no namespaces or cgroups (the process runtime).
  virtual absl::StatusOr<pid_t> SpawnInTask(Task& task, EnterConfig config);

  // Registers a freshly launched child; fills in start time and pidfd.
  absl::StatusOr<TaskRecord> AddChild(std::unique_ptr<Task> task);
  // AlreadyExists if `id` is taken by a task not yet cleaned up.
  absl::Status CheckFree(const std::string& id);

 private:
  absl::StatusOr<Task*> Find(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the exit if the main process is gone; never blocks.
  void Reap(Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  // Watches the pidfd of every live task while a listener is set.
  std::unique_ptr<ExitNotifier> notifier_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_PID_RUNTIME_H_
