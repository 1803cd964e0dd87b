// Entering a running task: a process that joins the task's mount, pid,
// network, uts and ipc namespaces (setns on /proc/<task pid>/ns/*) and its
// cgroups, for `berth alloc exec` and exec health probes. Like Spawn
// (namespaces.h) it separates launching from isolating: `isolate` (moving
// the process into the task's cgroups) runs while the process waits.
//
// Joining a pid namespace only places the caller's children in it, so the
// spawned helper joins the namespaces, forks the command and waits for it,
// exiting with its status (128+N when the command was killed by signal N).
// The command dies with the helper (PR_SET_PDEATHSIG), so killing the
// helper ends the exec; it also dies with the task, whose pid namespace
// ends with its init.
//
// Thread safety: SpawnInside may be called from several threads at once;
// the helper runs only async-signal-safe calls.
#ifndef BERTH_AGENT_RUNTIME_ENTER_H_
#define BERTH_AGENT_RUNTIME_ENTER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace berth::agent {

struct EnterConfig {
  // Join this process's namespaces; 0 joins none (the process runtime).
  pid_t target_pid = 0;
  std::vector<std::string> argv;  // argv[0] resolved against env's PATH
  std::vector<std::string> env;   // "KEY=VALUE"; nothing else is inherited
  // Working directory: the first of these that exists (inside the task's
  // mount namespace), e.g. its sandbox, then "/".
  std::vector<std::string> workdirs;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  // Borrowed descriptors for the command's 0, 1 and 2; all required.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // stdin_fd is a terminal: it becomes the controlling terminal of the
  // command's new session.
  bool tty = false;
};

// Returns the helper's pid (a child of the caller, to be waited for) once
// the command has exec'd; setup and exec failures are errors naming the
// step ("join the task's mnt namespace: ...", "exec /bin/nope: ...").
absl::StatusOr<pid_t> SpawnInside(
    const EnterConfig& config, absl::FunctionRef<absl::Status(pid_t)> isolate);

// What a command run inside task process `pid` inherits from it: its uid,
// gid and initial environment (/proc/<pid>/status and environ).
struct ProcIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<std::string> env;
};
absl::StatusOr<ProcIdentity> ReadProcIdentity(pid_t pid);

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_ENTER_H_
