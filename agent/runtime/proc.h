// Thin wrappers over per-process kernel interfaces used by the process-based
// runtimes: pidfds, /proc/<pid>/stat, wait statuses. Each returns an error
// naming the pid and the failing call. Stateless and thread-safe.
#ifndef BERTH_AGENT_RUNTIME_PROC_H_
#define BERTH_AGENT_RUNTIME_PROC_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/runtime/runtime.h"

namespace berth::agent {

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int Release();
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// pidfd_open(2): a descriptor that becomes readable when `pid` exits.
absl::StatusOr<Fd> OpenPidfd(pid_t pid);
// Waits until the pidfd is readable (true) or `timeout` passes (false).
absl::StatusOr<bool> WaitReadable(int fd, absl::Duration timeout);
// Field 22 of /proc/<pid>/stat: start time in clock ticks since boot.
absl::StatusOr<uint64_t> ProcStartTicks(pid_t pid);
// Whether `pid` is alive (not a zombie) and started at `start_ticks`.
bool SameLiveProcess(pid_t pid, uint64_t start_ticks);
// CPU time, resident memory and peak resident memory of one process.
absl::StatusOr<Usage> ProcessUsage(pid_t pid);
// Translates a waitpid status into exited / killed.
ExitStatus DecodeWaitStatus(int wstatus);

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_PROC_H_
