// LogPump: captures the stdout/stderr of every task on the agent into
// size-capped, rotated files (layout in log_files.h).
//
// One pump thread serves all allocations: it waits on every attached pipe
// with epoll and copies what arrives through a single fixed buffer, so
// memory stays bounded however fast tasks write. A task that writes faster
// than the disk absorbs blocks on its full pipe (back-pressure); nothing is
// queued in the agent.
//
// Usage:
//   auto fds = pump->Attach(alloc_id, dir, limits);
//   // hand fds->stdout_fd / stderr_fd to the child as fds 1 and 2, then
//   // close the agent's copies (drop the TaskLogFds) so that the pump sees
//   // end-of-file when the task and all its children are gone.
//   pump->WaitDrained(alloc_id, deadline);  // after the task exited
//   pump->Detach(alloc_id);
//
// A stream whose pipe reaches end-of-file is closed by the pump; a write
// error (disk full) drops the data, counts it and keeps draining the pipe so
// the task never stalls on the agent's disk.
//
// Thread safety: all methods may be called from any thread. The destructor
// stops the pump thread and closes every pipe and file.
#ifndef BERTH_AGENT_LOGS_LOG_PUMP_H_
#define BERTH_AGENT_LOGS_LOG_PUMP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/logs/log_files.h"
#include "agent/logs/rotating_file.h"
#include "agent/runtime/proc.h"

namespace berth::agent {

// Write ends of the pipes for one task; blocking, close-on-exec (dup2 them
// onto 1 and 2 in the child, which clears close-on-exec there).
struct TaskLogFds {
  Fd stdout_fd;
  Fd stderr_fd;
};

struct LogPumpStats {
  uint64_t stdout_bytes = 0;  // stored (logical end offset)
  uint64_t stderr_bytes = 0;
  uint64_t dropped_bytes = 0;  // read from the pipe but not stored
  bool drained = false;        // both pipes reached end-of-file
  std::string last_error;      // most recent write error, if any
};

class LogPump {
 public:
  static absl::StatusOr<std::unique_ptr<LogPump>> Create();
  ~LogPump();
  LogPump(const LogPump&) = delete;
  LogPump& operator=(const LogPump&) = delete;

  // Creates `dir` if needed, opens (continuing) its log files and returns
  // fresh pipe write ends. AlreadyExists if `alloc_id` is attached.
  absl::StatusOr<TaskLogFds> Attach(const std::string& alloc_id,
                                    const std::string& dir,
                                    const LogLimits& limits);

  // Like Attach, but through the named FIFOs <fifo_dir>/{stdout,stderr}
  // (created if missing). The write ends are opened read-write, so the task
  // itself holds the FIFO open for reading: when no agent reads (it crashed
  // or is restarting) its writes fill the FIFO and then block, instead of
  // failing with EPIPE. A restarted agent calls Reattach.
  absl::StatusOr<TaskLogFds> AttachFifo(const std::string& alloc_id,
                                        const std::string& dir,
                                        const std::string& fifo_dir,
                                        const LogLimits& limits);

  // Reads the FIFOs of a task attached by an earlier agent (one that is
  // adopted after a restart) into the same files, continuing them. Caveat:
  // the kernel signals end-of-file on a FIFO only to readers that were open
  // before the last writer opened, so a re-attached task never reports
  // `drained`; the caller detaches it after a timeout once the task exited
  // (Detach copies what is left).
  absl::Status Reattach(const std::string& alloc_id, const std::string& dir,
                        const std::string& fifo_dir, const LogLimits& limits);

  // Copies whatever is already in the pipes, then closes them and the files.
  // Writers still alive get EPIPE. NotFound if `alloc_id` is not attached.
  absl::Status Detach(const std::string& alloc_id);

  // Blocks until both pipes of `alloc_id` reached end-of-file and all their
  // data is stored; DeadlineExceeded at `deadline`.
  absl::Status WaitDrained(const std::string& alloc_id, absl::Time deadline);

  absl::StatusOr<LogPumpStats> Stats(const std::string& alloc_id);

 private:
  struct Stream {
    Fd read_fd;  // invalid once end-of-file was seen
    std::unique_ptr<RotatingFile> file;
  };
  struct Task {
    std::string alloc_id;
    Stream streams[2];
    uint64_t dropped = 0;
    std::string last_error;
  };

  // `fifo_dir` empty: anonymous pipes. `hand_out`: return write ends.
  absl::StatusOr<TaskLogFds> AttachImpl(const std::string& alloc_id,
                                        const std::string& dir,
                                        const std::string& fifo_dir,
                                        const LogLimits& limits, bool hand_out);
  LogPump(Fd epoll, Fd wake)
      : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  void Run();
  // Reads from one stream until the pipe is empty, at EOF or `budget` bytes
  // were copied (so one chatty task cannot starve the others).
  void Pump(Task& task, int which, size_t budget)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseStream(Task& task, int which) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static bool Drained(const Task& task);

  const Fd epoll_;
  const Fd wake_;  // eventfd: tells the thread to stop
  std::thread thread_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;
  // Keyed by serial, so an epoll event for a detached task finds nothing.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Task>> tasks_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> by_id_ ABSL_GUARDED_BY(mu_);
  // Only the pump thread uses it (under mu_).
  char buf_[64 << 10] ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_LOGS_LOG_PUMP_H_
