// Thin wrapper over one task cgroup, through libcgroup. Policy (when to
// kill, what an OOM means) lives in LinuxRuntime.
//
// The group has the same relative path (e.g. "berth/<alloc>") in every
// controller it uses:
//   cgroup v1 (TESTED here, by linux_runtime_test): cpu (cfs_quota_us /
//     cfs_period_us from the cpu limit, shares from the request), cpuacct
//     (usage), memory (limit_in_bytes, plus memsw.limit_in_bytes when the
//     kernel has swap accounting; oom_kill counter from oom_control, failcnt)
//     and pids (max, current).
//   cgroup v2 (detected when /sys/fs/cgroup is cgroup2; UNTESTED, no v2 host
//     was available): the same libcgroup calls with cpu.max, cpu.weight,
//     memory.max, memory.swap.max, pids.max; readback from cpu.stat
//     usage_usec, memory.current, memory.peak, memory.events oom_kill. It
//     relies on libcgroup enabling the controllers in the parent's
//     cgroup.subtree_control.
//
// Thread safety: a Cgroup is thread-compatible; libcgroup's global init is
// done once, thread-safely, by Create/Open.
#ifndef BERTH_AGENT_RUNTIME_CGROUP_H_
#define BERTH_AGENT_RUNTIME_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/runtime/proc.h"
#include "agent/runtime/runtime.h"

struct cgroup;

namespace berth::agent {

enum class CgroupVersion { kV1, kV2 };

struct CgroupStats {
  Usage usage;
  // Processes the kernel OOM-killed in this group; nullopt on kernels older
  // than 4.13, which lack the counter.
  std::optional<uint64_t> oom_kills;
  uint64_t memory_failcnt = 0;  // times the limit was hit (v1 only)
};

class Cgroup {
 public:
  // Initializes libcgroup (once) and reports the hierarchy in use.
  static absl::StatusOr<CgroupVersion> Init();
  // Creates `path` (and missing parents) with `limits` applied.
  static absl::StatusOr<std::unique_ptr<Cgroup>> Create(
      const std::string& path, const Resources& limits);
  // Opens an existing group, e.g. to re-adopt a task. NotFound if absent.
  static absl::StatusOr<std::unique_ptr<Cgroup>> Open(const std::string& path);
  // Deletes `path` and every group below it, killing what runs there. For
  // sweeping a parent (tests, agent start-up); a no-op if absent.
  static absl::Status DestroyTree(const std::string& path);

  ~Cgroup();
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  const std::string& path() const { return path_; }
  CgroupVersion version() const { return version_; }

  absl::Status Update(const Resources& limits);
  absl::Status Attach(pid_t pid);
  // The files a process writes "0" to in order to move itself into this
  // group: cgroup v1's `tasks`, one per controller. Moving only the calling
  // thread is cheap; Attach, which moves a whole other process, write-locks
  // the kernel's global threadgroup semaphore and waits out an RCU grace
  // period (8-14 ms on an idle host here, 30 us for the self-move). A freshly
  // cloned, single-threaded child moves itself whole. Unimplemented on v2,
  // which moves threads only in threaded groups.
  absl::StatusOr<std::vector<Fd>> OpenSelfJoin();
  absl::StatusOr<CgroupStats> Stats();
  absl::StatusOr<std::vector<pid_t>> Procs();
  // One `sig` to every process in the group.
  absl::Status Signal(int sig);
  // SIGKILL until the group is empty (new forks race the first rounds).
  absl::Status KillAll(absl::Duration timeout);
  // Removes the (empty) group. FailedPrecondition if processes remain.
  absl::Status Destroy();
  // Raw value of one control file, e.g. ("memory", "memory.limit_in_bytes").
  absl::StatusOr<std::string> Read(const std::string& controller,
                                   const std::string& file);
  // Host directory of this group under `controller`.
  absl::StatusOr<std::string> Dir(const std::string& controller);

 private:
  Cgroup(std::string path, CgroupVersion version);
  // A libcgroup handle naming this group with our controllers attached.
  struct cgroup* NewHandle(bool with_limits, const Resources& limits,
                           absl::Status* status);

  std::string path_;
  CgroupVersion version_;
  bool destroyed_ = false;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_CGROUP_H_
