// The one berth-agent of the scheduler workloads: a real process in the
// root namespace (it reaches the replicas through the bridge; the nemesis
// injects no agent faults), with the `process` runtime, so tasks are plain
// fork/exec'd processes on this machine. It is started with
// --stop-tasks-on-exit, and Stop (SIGTERM) ends every task it ran.
//
// Thread safety: none; one owner.
#ifndef BERTH_TESTS_NEMESIS_AGENT_HOST_H_
#define BERTH_TESTS_NEMESIS_AGENT_HOST_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tests/e2e/subprocess.h"

namespace berth::nemesis {

class AgentHost {
 public:
  AgentHost(std::string bin, std::string lockd_flag, std::string listen,
            std::string work_dir)
      : bin_(std::move(bin)),
        lockd_flag_(std::move(lockd_flag)),
        listen_(std::move(listen)),
        work_dir_(std::move(work_dir)) {}
  ~AgentHost() { Stop(); }

  absl::Status Start();
  // SIGTERM, so the agent stops its tasks; SIGKILL after 30 s.
  void Stop();
  pid_t pid() const { return proc_ ? proc_->pid() : 0; }
  bool Running() {
    return proc_ && !proc_->Wait(absl::ZeroDuration()).has_value();
  }
  static constexpr char kNode[] = "nem-agent";

 private:
  const std::string bin_, lockd_flag_, listen_, work_dir_;
  std::unique_ptr<e2e::Subprocess> proc_;
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_AGENT_HOST_H_
