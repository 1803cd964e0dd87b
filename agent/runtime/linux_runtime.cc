#include "agent/runtime/linux_runtime.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/runtime/namespaces.h"

namespace berth::agent {
namespace {

// Stragglers get this long to die once the main process has exited.
constexpr absl::Duration kLeftoverKillTimeout = absl::Seconds(10);

absl::Status MakeSandbox(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("create sandbox ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

LinuxRuntime::LinuxRuntime(Options options)
    : PidRuntime(options.clock), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<LinuxRuntime>> LinuxRuntime::Create(
    Options options) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the linux runtime needs root (namespaces and cgroups); use the "
        "process runtime instead");
  }
  if (options.cgroup_parent.empty()) {
    return absl::InvalidArgumentError("linux runtime: empty cgroup_parent");
  }
  if (absl::StatusOr<CgroupVersion> v = Cgroup::Init(); !v.ok()) {
    return v.status();
  }
  return std::unique_ptr<LinuxRuntime>(new LinuxRuntime(std::move(options)));
}

absl::StatusOr<TaskRecord> LinuxRuntime::Launch(const TaskSpec& spec) {
  if (absl::Status s = ValidateTaskSpec(spec); !s.ok()) return s;
  if (absl::Status s = CheckFree(spec.alloc_id); !s.ok()) return s;
  if (absl::Status s = MakeSandbox(spec.sandbox_dir); !s.ok()) return s;
  auto task = std::make_unique<Task>();
  task->record.alloc_id = spec.alloc_id;
  task->record.cgroup =
      absl::StrCat(options_.cgroup_parent, "/", spec.alloc_id);
  absl::StatusOr<std::unique_ptr<Cgroup>> cg =
      Cgroup::Create(task->record.cgroup, spec.resources);
  if (!cg.ok()) return cg.status();
  task->cgroup = std::move(*cg);

  ChildConfig child = NamespacedChild(spec);
  // On v1 the child joins its groups itself (Cgroup::OpenSelfJoin), which
  // takes about 12 ms less per launch than attaching it from here.
  absl::StatusOr<std::vector<Fd>> join = task->cgroup->OpenSelfJoin();
  if (join.ok()) {
    for (const Fd& fd : *join) child.join_fds.push_back(fd.get());
  }
  absl::StatusOr<pid_t> pid = Spawn(child, [&](pid_t child_pid) {
    return join.ok() ? absl::OkStatus() : task->cgroup->Attach(child_pid);
  });
  if (!pid.ok()) {
    task->cgroup->KillAll(kLeftoverKillTimeout).IgnoreError();
    task->cgroup->Destroy().IgnoreError();
    return pid.status();
  }
  task->record.pid = *pid;
  return AddChild(std::move(task));
}

absl::StatusOr<pid_t> LinuxRuntime::SpawnInTask(Task& task,
                                                EnterConfig config) {
  config.target_pid = task.record.pid;
  // Joined before the command starts, so its limits hold for it too.
  return SpawnInside(config,
                     [&](pid_t helper) { return task.cgroup->Attach(helper); });
}

std::vector<std::string> LinuxRuntime::Unenforced(const TaskSpec& spec) const {
  return {};  // everything in TaskSpec is enforced
}

absl::Status LinuxRuntime::SignalAll(Task& task, int sig) {
  if (sig == SIGKILL) return task.cgroup->KillAll(kLeftoverKillTimeout);
  return task.cgroup->Signal(sig);
}

ExitStatus LinuxRuntime::OnExit(Task& task, ExitStatus raw) {
  // The namespace is gone with its init; this catches anything else.
  task.cgroup->KillAll(kLeftoverKillTimeout).IgnoreError();
  absl::StatusOr<CgroupStats> stats = task.cgroup->Stats();
  if (!stats.ok()) return raw;
  bool oom = false;
  if (stats->oom_kills.has_value()) {
    oom = *stats->oom_kills > task.oom_kills_at_start;
  } else {
    oom = stats->memory_failcnt > 0 && raw.kind == ExitStatus::Kind::kKilled &&
          raw.signal == SIGKILL && !task.stopping;
  }
  if (!oom) return raw;
  ExitStatus s = ExitStatus::OomKilled(absl::StrCat(
      "memory limit reached, peak ", stats->usage.memory_peak_bytes,
      " bytes; main process ", raw.ToString()));
  s.code = raw.code;
  s.signal = raw.signal;
  return s;
}

absl::StatusOr<Usage> LinuxRuntime::TaskUsage(Task& task) {
  absl::StatusOr<CgroupStats> stats = task.cgroup->Stats();
  if (!stats.ok()) return stats.status();
  return stats->usage;
}

absl::Status LinuxRuntime::Release(Task& task) {
  if (task.cgroup == nullptr) return absl::OkStatus();
  if (absl::Status s = task.cgroup->KillAll(kLeftoverKillTimeout); !s.ok()) {
    return s;
  }
  return task.cgroup->Destroy();
}

absl::Status LinuxRuntime::AdoptResources(Task& task) {
  if (task.record.cgroup.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("adopt ", task.record.alloc_id, ": record has no cgroup"));
  }
  absl::StatusOr<std::unique_ptr<Cgroup>> cg = Cgroup::Open(task.record.cgroup);
  if (!cg.ok()) return cg.status();
  task.cgroup = std::move(*cg);
  // OOM kills before the restart are part of this task's life too, so the
  // baseline stays 0.
  return absl::OkStatus();
}

}  // namespace berth::agent
