// SimRuntime: a Runtime with no processes, for scale tests that run
// thousands of agents in one process.
//
// A SimMachine stands for the host: it holds the simulated "processes" and
// outlives any one SimRuntime, so a test can restart the agent (new
// SimRuntime on the same machine) and Adopt() its tasks. The test decides
// how tasks end (Exit, OomKill, Crash) and what they use (SetUsage). Time
// comes from the injected Clock: Wait and Stop sleep on it, so with a
// SimClock another thread (or a clock whose SleepUntil jumps ahead) moves
// them along. A Wait returns early only if the task had already exited; an
// exit decided during the wait is seen when the wait's deadline arrives.
//
// Thread safety: SimMachine has one mutex; SimRuntime keeps its own set of
// known tasks under a second one and never calls out while holding it.
#ifndef BERTH_AGENT_RUNTIME_SIM_RUNTIME_H_
#define BERTH_AGENT_RUNTIME_SIM_RUNTIME_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/runtime/runtime.h"
#include "common/clock.h"

namespace berth::agent {

class SimMachine {
 public:
  // Test controls. NotFound for unknown ids, FailedPrecondition if the task
  // has already exited.
  absl::Status Exit(const std::string& id, int code);
  absl::Status OomKill(const std::string& id);
  absl::Status Crash(const std::string& id, const std::string& reason);
  absl::Status SetUsage(const std::string& id, const Usage& usage);
  // The task survives `sig` (as a shell with `trap '' TERM` would).
  absl::Status IgnoreSignal(const std::string& id, int sig);
  // The next Launch of `id` fails with `error` (e.g. a missing binary).
  void FailNextLaunch(const std::string& id, absl::Status error);

  bool Running(const std::string& id) const;
  size_t size() const;  // tasks not yet cleaned up

 private:
  friend class SimRuntime;
  // The current SimRuntime's exit listener (see Runtime::SetExitListener).
  void SetExitListener(std::function<void(const std::string&)> listener);
  struct Process {
    TaskSpec spec;
    pid_t pid = 0;
    std::optional<ExitStatus> exit;
    std::set<int> ignored;
    Usage usage;
    absl::Time started_at;
  };
  absl::Status Finish(const std::string& id, ExitStatus status);

  mutable std::mutex mu_;
  std::map<std::string, Process> procs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> launch_errors_ ABSL_GUARDED_BY(mu_);
  pid_t next_pid_ ABSL_GUARDED_BY(mu_) = 1000;
  // Held while the listener runs, so that clearing it waits for a call in
  // progress. Never taken with mu_ held.
  std::mutex listener_mu_;
  std::function<void(const std::string&)> listener_
      ABSL_GUARDED_BY(listener_mu_);
};

class SimRuntime : public Runtime {
 public:
  // Both borrowed; they must outlive the runtime.
  SimRuntime(Clock* clock, SimMachine* machine)
      : clock_(clock), machine_(machine) {}

  absl::StatusOr<TaskRecord> Launch(const TaskSpec& spec) override;
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
  std::vector<std::string> Unenforced(const TaskSpec& spec) const override;

 private:
  absl::Status CheckKnown(const std::string& id) const;

  Clock* const clock_;
  SimMachine* const machine_;
  mutable std::mutex mu_;
  std::set<std::string> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_SIM_RUNTIME_H_
