#include "agent/runtime/process_runtime.h"

#include <signal.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/runtime/namespaces.h"

namespace berth::agent {

std::unique_ptr<ProcessRuntime> ProcessRuntime::Create(Clock* clock) {
  return std::unique_ptr<ProcessRuntime>(new ProcessRuntime(clock));
}

absl::StatusOr<TaskRecord> ProcessRuntime::Launch(const TaskSpec& spec) {
  if (absl::Status s = ValidateTaskSpec(spec); !s.ok()) return s;
  if (!spec.rootfs.empty()) {
    return absl::InvalidArgumentError(
        "task spec: rootfs: the process runtime cannot change the root "
        "filesystem");
  }
  if (absl::Status s = CheckFree(spec.alloc_id); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(spec.sandbox_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("create sandbox ", spec.sandbox_dir, ": ", ec.message()));
  }
  absl::StatusOr<pid_t> pid =
      Spawn(PlainChild(spec), [](pid_t) { return absl::OkStatus(); });
  if (!pid.ok()) return pid.status();
  auto task = std::make_unique<Task>();
  task->record.alloc_id = spec.alloc_id;
  task->record.pid = *pid;
  return AddChild(std::move(task));
}

std::vector<std::string> ProcessRuntime::Unenforced(
    const TaskSpec& spec) const {
  std::vector<std::string> out;
  const Resources& r = spec.resources;
  if (r.cpu_limit_millicores > 0 || r.cpu_request_millicores > 0) {
    out.push_back("cpu limit/request is not enforced by the process runtime");
  }
  if (r.memory_bytes > 0) {
    out.push_back(
        "memory limit is not enforced by the process runtime (no OOM "
        "detection either)");
  }
  if (r.pids_max > 0) {
    out.push_back("pids limit is not enforced by the process runtime");
  }
  if (!spec.hostname.empty()) {
    out.push_back("hostname is not set by the process runtime");
  }
  if (spec.new_net_namespace) {
    out.push_back("network isolation is not provided by the process runtime");
  }
  out.push_back(
      "processes that start their own session escape stop in the process "
      "runtime");
  return out;
}

absl::Status ProcessRuntime::SignalAll(Task& task, int sig) {
  // The task leads its own process group (setsid in the child).
  if (kill(-task.record.pid, sig) < 0 && errno != ESRCH) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("signal process group of ", task.record.alloc_id));
  }
  return absl::OkStatus();
}

ExitStatus ProcessRuntime::OnExit(Task& task, ExitStatus raw) {
  // The group id stays reserved while members live, so this cannot hit an
  // unrelated process.
  kill(-task.record.pid, SIGKILL);
  return raw;
}

absl::StatusOr<Usage> ProcessRuntime::TaskUsage(Task& task) {
  if (task.final_usage.has_value()) return *task.final_usage;
  if (task.exit.has_value()) return Usage{};  // adopted, exited
  return ProcessUsage(task.record.pid);
}

absl::Status ProcessRuntime::Release(Task& task) { return absl::OkStatus(); }

absl::Status ProcessRuntime::AdoptResources(Task& task) {
  return absl::OkStatus();
}

}  // namespace berth::agent
