// ProcessRuntime: plain fork/exec with no isolation, for unprivileged
// development. Each task leads its own session and process group; signals
// and stop go to the whole process group. It cannot enforce resource
// limits, hostname, rootfs or network isolation, and a child that calls
// setsid() itself escapes stop; Unenforced() lists what a spec asks for that
// this runtime ignores. Usage covers the main process only.
//
// Thread safety: see PidRuntime.
#ifndef BERTH_AGENT_RUNTIME_PROCESS_RUNTIME_H_
#define BERTH_AGENT_RUNTIME_PROCESS_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/pid_runtime.h"

namespace berth::agent {

class ProcessRuntime : public PidRuntime {
 public:
  static std::unique_ptr<ProcessRuntime> Create(Clock* clock = Clock::Real());

  absl::StatusOr<TaskRecord> Launch(const TaskSpec& spec) override;
  std::vector<std::string> Unenforced(const TaskSpec& spec) const override;

 protected:
  absl::Status SignalAll(Task& task, int sig) override;
  ExitStatus OnExit(Task& task, ExitStatus raw) override;
  absl::StatusOr<Usage> TaskUsage(Task& task) override;
  absl::Status Release(Task& task) override;
  absl::Status AdoptResources(Task& task) override;

 private:
  explicit ProcessRuntime(Clock* clock) : PidRuntime(clock) {}
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_PROCESS_RUNTIME_H_
