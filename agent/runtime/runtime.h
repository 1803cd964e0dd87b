// Runtime: how the agent runs one task per allocation.
//
// Three implementations share this interface:
//   * LinuxRuntime   (linux_runtime.h): namespaces + cgroups; needs root.
//   * ProcessRuntime (process_runtime.h): plain fork/exec, no isolation.
//   * SimRuntime     (sim_runtime.h): no processes, for scale tests.
//
// A task is named by its allocation id. The lifecycle is
//   Launch -> (Signal | Usage | Poll | Wait)* -> [Stop] -> Cleanup.
// Launch returns a TaskRecord; the agent persists it so that after a restart
// a fresh Runtime can Adopt() the still-running task. Cleanup releases every
// resource (processes, cgroups) and forgets the task; it is required even
// after the task has exited.
//
// Thread safety: every implementation is safe to call from many threads.
// Wait and Stop block without holding the runtime's lock, so one thread per
// task may wait while others launch. Cleanup of a task concurrently with a
// Wait on the same task is a caller error (the Wait returns NotFound).
#ifndef BERTH_AGENT_RUNTIME_RUNTIME_H_
#define BERTH_AGENT_RUNTIME_RUNTIME_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::agent {

// Zero means "no limit" for every field.
struct Resources {
  int64_t cpu_limit_millicores = 0;    // hard cap (CFS quota)
  int64_t cpu_request_millicores = 0;  // relative weight (cpu.shares)
  int64_t memory_bytes = 0;            // hard limit; exceeding it OOM-kills
  int64_t pids_max = 0;                // processes + threads in the task
};

// A host path made visible inside the task's rootfs.
struct BindMount {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the rootfs
  bool read_only = true;
};

struct TaskSpec {
  std::string alloc_id;  // [A-Za-z0-9._-]{1,128}; names the task + cgroup
  std::vector<std::string> argv;  // argv[0] is resolved against PATH
  std::vector<std::string> env;   // "KEY=VALUE"; nothing is inherited
  // Per-allocation directory, created (0755) if missing; the task's working
  // directory. With a rootfs it is bind-mounted read-write at kSandboxMount.
  std::string sandbox_dir;
  std::optional<uid_t> uid;  // unset: keep the agent's
  std::optional<gid_t> gid;
  std::string hostname;  // empty: alloc_id (linux runtime only)
  Resources resources;
  std::string rootfs;              // empty: share the host filesystem
  std::vector<BindMount> binds;    // only with rootfs
  bool new_net_namespace = false;  // only loopback inside
  std::string stdout_path;         // empty: <sandbox_dir>/stdout
  std::string stderr_path;         // empty: <sandbox_dir>/stderr
  // When >= 0, the task's stdout/stderr is this descriptor (e.g. a LogPump
  // pipe) instead of the file above. Borrowed: Launch duplicates it into
  // the child and never closes the caller's copy.
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Where the sandbox appears inside a rootfs.
inline constexpr char kSandboxMount[] = "/sandbox";

// Checks a spec for mistakes any runtime would reject; names the field.
absl::Status ValidateTaskSpec(const TaskSpec& spec);
// The spec with defaults filled in (hostname, stdout/stderr paths).
TaskSpec WithDefaults(TaskSpec spec);

struct ExitStatus {
  enum class Kind { kExited, kKilled, kOomKilled, kFailed };
  Kind kind = Kind::kFailed;
  int code = 0;        // kExited: exit code
  int signal = 0;      // kKilled (and kOomKilled when known): the signal
  std::string reason;  // kFailed / kOomKilled: why

  static ExitStatus Exited(int code);
  static ExitStatus Killed(int signal);
  static ExitStatus OomKilled(std::string reason);
  static ExitStatus Failed(std::string reason);
  bool ok() const { return kind == Kind::kExited && code == 0; }
  std::string ToString() const;  // "exited(3)", "killed(SIGKILL)", ...
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

struct Usage {
  uint64_t cpu_ns = 0;             // cumulative CPU time
  uint64_t memory_bytes = 0;       // current
  uint64_t memory_peak_bytes = 0;  // high-water mark
  uint64_t pids = 0;               // live processes/threads
};

// What the agent must persist to re-adopt a live task after it restarts.
struct TaskRecord {
  std::string alloc_id;
  pid_t pid = 0;  // in the agent's pid namespace
  // Process start time in clock ticks since boot (/proc/<pid>/stat field
  // 22); together with pid it identifies the process despite pid reuse.
  uint64_t start_ticks = 0;
  std::string cgroup;     // relative to each controller's root; may be empty
  absl::Time started_at;  // wall clock, for people
};

// A command run inside a running task (berth alloc exec, exec probes).
struct ExecSpec {
  std::vector<std::string> argv;  // argv[0] resolved against PATH
  // "KEY=VALUE", over the task's own initial environment.
  std::vector<std::string> env;
  // Working directory: the first that exists inside the task, then "/".
  std::vector<std::string> workdirs;
  // Borrowed descriptors for the command's 0, 1 and 2; all required.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool tty = false;  // stdin_fd is a terminal (controlling terminal)
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Starts the task. It is running (past exec) when this returns OK; exec
  // failures come back as errors ("exec /bin/nope: No such file ...").
  virtual absl::StatusOr<TaskRecord> Launch(const TaskSpec& spec) = 0;
  // Sends `sig` to the task's main process.
  virtual absl::Status Signal(const std::string& id, int sig) = 0;
  // The exit status if the task has exited, nullopt while it runs.
  virtual absl::StatusOr<std::optional<ExitStatus>> Poll(
      const std::string& id) = 0;
  // Blocks until the task exits (returns its status) or `timeout` passes
  // (DeadlineExceeded).
  virtual absl::StatusOr<ExitStatus> Wait(const std::string& id,
                                          absl::Duration timeout) = 0;
  virtual absl::StatusOr<Usage> GetUsage(const std::string& id) = 0;
  // SIGTERM to every process of the task, then SIGKILL to all of them once
  // `grace` has passed. Returns the exit status.
  virtual absl::StatusOr<ExitStatus> Stop(const std::string& id,
                                          absl::Duration grace) = 0;
  // Kills whatever is left, releases resources and forgets the task.
  virtual absl::Status Cleanup(const std::string& id) = 0;
  // Takes over a task launched by an earlier instance (agent restart). If
  // the process is gone, the task is adopted as already exited.
  virtual absl::Status Adopt(const TaskRecord& record) = 0;

  // Calls `listener(id)` soon after task `id`'s main process exits (on a
  // runtime thread, with no runtime lock held), so that the caller can Poll
  // at once instead of on a timer. It may be called more than once per
  // task. Replaces an earlier listener; an empty one stops notifications,
  // and once that call returns no listener call is running. Tasks launched
  // or adopted before the first listener was set are watched from then on.
  virtual absl::Status SetExitListener(
      std::function<void(const std::string& id)> listener) = 0;

  // Starts `spec` inside running task `id`: in its namespaces and cgroups
  // (linux runtime), as its user, with its environment. Returns a child of
  // the calling process, to be waited for with waitpid; its exit status is
  // the command's (128+N when killed by signal N). FailedPrecondition once
  // the task has exited; Unimplemented where tasks are not processes.
  virtual absl::StatusOr<pid_t> Exec(const std::string& id,
                                     const ExecSpec& spec) {
    return absl::UnimplementedError("this runtime cannot exec into tasks");
  }

  // Parts of `spec` this runtime accepts but cannot enforce, one sentence
  // each ("memory limit is not enforced by the process runtime").
  virtual std::vector<std::string> Unenforced(const TaskSpec& spec) const = 0;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_RUNTIME_H_
