// Launching a task process, separate from isolating it: Spawn() clones the
// child (optionally into new pid/mount/uts/ipc/net namespaces), lets the
// caller isolate it (e.g. move it into a cgroup) while the child is blocked
// on a pipe, then releases it to set itself up and exec.
//
// Child setup, in order: new session, stdin=/dev/null and stdout/stderr to
// files, private mounts, hostname, loopback up, rootfs with read-only binds
// and pivot_root, a fresh /proc, chdir, setgid/setuid, exec. Any failure is
// reported back through a close-on-exec pipe and becomes the error of
// Spawn(), e.g. "exec /bin/nope: No such file or directory"; the child is
// reaped in that case. Namespaces need root (CAP_SYS_ADMIN).
//
// Thread safety: Spawn may be called from several threads at once. The child
// runs only async-signal-safe system calls between clone and exec; every
// string it needs is prepared beforehand.
#ifndef BERTH_AGENT_RUNTIME_NAMESPACES_H_
#define BERTH_AGENT_RUNTIME_NAMESPACES_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/runtime/runtime.h"

namespace berth::agent {

struct ChildConfig {
  int clone_flags = 0;  // CLONE_NEWPID | CLONE_NEWNS | ...; 0 = plain fork
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string sandbox_dir;  // host path; the working directory
  std::string hostname;     // set when clone_flags has CLONE_NEWUTS
  bool mount_proc = false;  // needs CLONE_NEWNS (and CLONE_NEWPID to matter)
  std::string rootfs;       // needs CLONE_NEWNS
  std::vector<BindMount> binds;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string stdout_path;
  std::string stderr_path;
  int stdout_fd = -1;  // used instead of stdout_path when >= 0
  int stderr_fd = -1;
  // Open cgroup `tasks` files the child moves itself into (writes "0") before
  // anything else: see Cgroup::OpenSelfJoin.
  std::vector<int> join_fds;
};

// The config LinuxRuntime uses for a spec: pid, mount, uts and ipc
// namespaces (plus net if asked), a fresh /proc.
ChildConfig NamespacedChild(const TaskSpec& spec);
// The config ProcessRuntime uses: no namespaces, only a new session.
ChildConfig PlainChild(const TaskSpec& spec);

// Returns the child's pid (in the caller's pid namespace) once it has
// exec'd. `isolate` runs in the parent before the child does anything; if it
// fails the child is killed and its error returned.
absl::StatusOr<pid_t> Spawn(const ChildConfig& config,
                            absl::FunctionRef<absl::Status(pid_t)> isolate);

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_NAMESPACES_H_
