#include "agent/runtime/pid_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

// How long SIGKILL may take to empty a task before Stop gives up.
constexpr absl::Duration kKillTimeout = absl::Seconds(30);

Usage FromRusage(const struct rusage& ru) {
  Usage u;
  auto ns = [](const struct timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000ull +
           static_cast<uint64_t>(tv.tv_usec) * 1000ull;
  };
  u.cpu_ns = ns(ru.ru_utime) + ns(ru.ru_stime);
  u.memory_peak_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  return u;
}

}  // namespace

absl::StatusOr<PidRuntime::Task*> PidRuntime::Find(const std::string& id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) {
    return absl::NotFoundError(absl::StrCat("no task ", id));
  }
  return it->second.get();
}

absl::Status PidRuntime::CheckFree(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  if (tasks_.count(id) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("task ", id, " already exists; Cleanup it first"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskRecord> PidRuntime::AddChild(std::unique_ptr<Task> task) {
  const pid_t pid = task->record.pid;
  task->child = true;
  task->record.started_at = clock_->Now();
  absl::StatusOr<uint64_t> ticks = ProcStartTicks(pid);
  absl::StatusOr<Fd> fd = OpenPidfd(pid);
  std::lock_guard<std::mutex> l(mu_);
  absl::Status error;
  if (!ticks.ok()) error = ticks.status();
  if (!fd.ok()) error = fd.status();
  if (tasks_.count(task->record.alloc_id) > 0) {
    error = absl::AlreadyExistsError(
        absl::StrCat("task ", task->record.alloc_id, " already exists"));
  }
  if (!error.ok()) {
    SignalAll(*task, SIGKILL).IgnoreError();
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    Release(*task).IgnoreError();
    return error;
  }
  task->record.start_ticks = *ticks;
  task->pidfd = std::move(*fd);
  TaskRecord record = task->record;
  if (notifier_ != nullptr) {
    notifier_->Watch(record.alloc_id, task->pidfd.get()).IgnoreError();
  }
  tasks_[record.alloc_id] = std::move(task);
  return record;
}

void PidRuntime::Reap(Task& task) {
  if (task.exit.has_value()) return;
  std::optional<ExitStatus> raw;
  if (task.child) {
    int wstatus = 0;
    struct rusage ru;
    pid_t r = wait4(task.record.pid, &wstatus, WNOHANG, &ru);
    if (r == task.record.pid) {
      raw = DecodeWaitStatus(wstatus);
      task.final_usage = FromRusage(ru);
    } else if (r < 0 && errno == ECHILD) {
      raw = ExitStatus::Failed("reaped elsewhere; exit status unknown");
    }
  } else if (!SameLiveProcess(task.record.pid, task.record.start_ticks)) {
    // Not our child: the kernel gives its status to its real parent.
    raw = ExitStatus::Failed(
        "exited after the agent restarted; exit status unknown");
  }
  if (raw.has_value()) {
    task.exit = OnExit(task, *raw);
    task.pidfd = Fd();
  }
}

absl::Status PidRuntime::Signal(const std::string& id, int sig) {
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<Task*> t = Find(id);
  if (!t.ok()) return t.status();
  Reap(**t);
  if ((*t)->exit.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", id, " has already ", (*t)->exit->ToString()));
  }
  if (kill((*t)->record.pid, sig) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("kill task ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> PidRuntime::Exec(const std::string& id,
                                       const ExecSpec& spec) {
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<Task*> t = Find(id);
  if (!t.ok()) return t.status();
  Reap(**t);
  if ((*t)->exit.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", id, " has already ", (*t)->exit->ToString()));
  }
  absl::StatusOr<ProcIdentity> who = ReadProcIdentity((*t)->record.pid);
  if (!who.ok()) return who.status();
  EnterConfig c;
  c.argv = spec.argv;
  c.uid = who->uid;
  c.gid = who->gid;
  // The task's environment, with the caller's entries replacing same keys.
  std::map<std::string, std::string> env;
  const std::vector<std::string>* const layers[] = {&who->env, &spec.env};
  for (const std::vector<std::string>* from : layers) {
    for (const std::string& kv : *from) {
      size_t eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv;
    }
  }
  for (auto& [k, kv] : env) c.env.push_back(std::move(kv));
  c.workdirs = spec.workdirs;
  c.workdirs.push_back("/");
  c.stdin_fd = spec.stdin_fd;
  c.stdout_fd = spec.stdout_fd;
  c.stderr_fd = spec.stderr_fd;
  c.tty = spec.tty;
  return SpawnInTask(**t, std::move(c));
}

absl::StatusOr<pid_t> PidRuntime::SpawnInTask(Task&, EnterConfig config) {
  return SpawnInside(config, [](pid_t) { return absl::OkStatus(); });
}

absl::StatusOr<std::optional<ExitStatus>> PidRuntime::Poll(
    const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<Task*> t = Find(id);
  if (!t.ok()) return t.status();
  Reap(**t);
  return (*t)->exit;
}

absl::StatusOr<ExitStatus> PidRuntime::Wait(const std::string& id,
                                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    Fd watch;
    {
      std::lock_guard<std::mutex> l(mu_);
      absl::StatusOr<Task*> t = Find(id);
      if (!t.ok()) return t.status();
      Reap(**t);
      if ((*t)->exit.has_value()) return *(*t)->exit;
      // Our own copy, so a concurrent Cleanup cannot close it under us.
      watch = Fd(fcntl((*t)->pidfd.get(), F_DUPFD_CLOEXEC, 0));
      if (!watch.valid()) return absl::ErrnoToStatus(errno, "dup pidfd");
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "task ", id, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::StatusOr<bool> ready = WaitReadable(watch.get(), left);
    if (!ready.ok()) return ready.status();
  }
}

absl::StatusOr<Usage> PidRuntime::GetUsage(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<Task*> t = Find(id);
  if (!t.ok()) return t.status();
  Reap(**t);
  return TaskUsage(**t);
}

absl::StatusOr<ExitStatus> PidRuntime::Stop(const std::string& id,
                                            absl::Duration grace) {
  {
    std::lock_guard<std::mutex> l(mu_);
    absl::StatusOr<Task*> t = Find(id);
    if (!t.ok()) return t.status();
    Reap(**t);
    if ((*t)->exit.has_value()) return *(*t)->exit;
    (*t)->stopping = true;
    if (grace > absl::ZeroDuration()) {
      if (absl::Status s = SignalAll(**t, SIGTERM); !s.ok()) return s;
    }
  }
  absl::StatusOr<ExitStatus> exit = Wait(id, grace);
  if (!absl::IsDeadlineExceeded(exit.status())) return exit;
  {
    std::lock_guard<std::mutex> l(mu_);
    absl::StatusOr<Task*> t = Find(id);
    if (!t.ok()) return t.status();
    if (absl::Status s = SignalAll(**t, SIGKILL); !s.ok()) return s;
  }
  return Wait(id, kKillTimeout);
}

absl::Status PidRuntime::Cleanup(const std::string& id) {
  absl::StatusOr<ExitStatus> exit = Stop(id, absl::ZeroDuration());
  if (!exit.ok()) return exit.status();
  std::lock_guard<std::mutex> l(mu_);
  absl::StatusOr<Task*> t = Find(id);
  if (!t.ok()) return t.status();
  if (absl::Status s = Release(**t); !s.ok()) return s;
  if (notifier_ != nullptr) notifier_->Unwatch(id);
  tasks_.erase(id);
  return absl::OkStatus();
}

absl::Status PidRuntime::Adopt(const TaskRecord& record) {
  if (record.alloc_id.empty() || record.pid <= 0) {
    return absl::InvalidArgumentError(
        "adopt: record needs an alloc_id and a pid");
  }
  auto task = std::make_unique<Task>();
  task->record = record;
  if (SameLiveProcess(record.pid, record.start_ticks)) {
    absl::StatusOr<Fd> fd = OpenPidfd(record.pid);
    // The pidfd pins this pid; re-check it still names the same process.
    if (fd.ok() && SameLiveProcess(record.pid, record.start_ticks)) {
      task->pidfd = std::move(*fd);
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (tasks_.count(record.alloc_id) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("task ", record.alloc_id, " already exists"));
  }
  if (absl::Status s = AdoptResources(*task); !s.ok()) return s;
  Reap(*task);
  if (notifier_ != nullptr && task->pidfd.valid()) {
    notifier_->Watch(record.alloc_id, task->pidfd.get()).IgnoreError();
  }
  tasks_[record.alloc_id] = std::move(task);
  return absl::OkStatus();
}

absl::Status PidRuntime::SetExitListener(
    std::function<void(const std::string& id)> listener) {
  std::unique_ptr<ExitNotifier> fresh;
  if (listener) {
    absl::StatusOr<std::unique_ptr<ExitNotifier>> n =
        ExitNotifier::Create(std::move(listener));
    if (!n.ok()) return n.status();
    fresh = std::move(*n);
  }
  std::unique_ptr<ExitNotifier> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    old = std::move(notifier_);
    notifier_ = std::move(fresh);
    for (auto& [id, task] : tasks_) {
      if (notifier_ == nullptr || task->exit.has_value()) continue;
      if (!task->pidfd.valid()) continue;
      notifier_->Watch(id, task->pidfd.get()).IgnoreError();
    }
  }
  old.reset();  // joins its thread outside our lock
  return absl::OkStatus();
}

}  // namespace berth::agent
