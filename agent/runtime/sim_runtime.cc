#include "agent/runtime/sim_runtime.h"

#include <signal.h>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

absl::Status NoTask(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no task ", id));
}

}  // namespace

absl::Status SimMachine::Finish(const std::string& id, ExitStatus status) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = procs_.find(id);
    if (it == procs_.end()) return NoTask(id);
    if (it->second.exit.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", id, " has already ", it->second.exit->ToString()));
    }
    it->second.exit = std::move(status);
  }
  std::lock_guard<std::mutex> l(listener_mu_);
  if (listener_) listener_(id);
  return absl::OkStatus();
}

void SimMachine::SetExitListener(
    std::function<void(const std::string&)> listener) {
  std::lock_guard<std::mutex> l(listener_mu_);
  listener_ = std::move(listener);
}

absl::Status SimMachine::Exit(const std::string& id, int code) {
  return Finish(id, ExitStatus::Exited(code));
}

absl::Status SimMachine::OomKill(const std::string& id) {
  ExitStatus s = ExitStatus::OomKilled("simulated OOM kill");
  s.signal = SIGKILL;
  return Finish(id, s);
}

absl::Status SimMachine::Crash(const std::string& id,
                               const std::string& reason) {
  return Finish(id, ExitStatus::Failed(reason));
}

absl::Status SimMachine::SetUsage(const std::string& id, const Usage& usage) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = procs_.find(id);
  if (it == procs_.end()) return NoTask(id);
  it->second.usage = usage;
  return absl::OkStatus();
}

absl::Status SimMachine::IgnoreSignal(const std::string& id, int sig) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = procs_.find(id);
  if (it == procs_.end()) return NoTask(id);
  it->second.ignored.insert(sig);
  return absl::OkStatus();
}

void SimMachine::FailNextLaunch(const std::string& id, absl::Status error) {
  std::lock_guard<std::mutex> l(mu_);
  launch_errors_[id] = std::move(error);
}

bool SimMachine::Running(const std::string& id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = procs_.find(id);
  return it != procs_.end() && !it->second.exit.has_value();
}

size_t SimMachine::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return procs_.size();
}

absl::Status SimRuntime::CheckKnown(const std::string& id) const {
  std::lock_guard<std::mutex> l(mu_);
  return known_.count(id) > 0 ? absl::OkStatus() : NoTask(id);
}

absl::StatusOr<TaskRecord> SimRuntime::Launch(const TaskSpec& spec) {
  if (absl::Status s = ValidateTaskSpec(spec); !s.ok()) return s;
  TaskRecord record;
  {
    std::lock_guard<std::mutex> l(machine_->mu_);
    if (machine_->procs_.count(spec.alloc_id) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("task ", spec.alloc_id, " already exists"));
    }
    auto err = machine_->launch_errors_.find(spec.alloc_id);
    if (err != machine_->launch_errors_.end()) {
      absl::Status s = std::move(err->second);
      machine_->launch_errors_.erase(err);
      return s;
    }
    SimMachine::Process& p = machine_->procs_[spec.alloc_id];
    p.spec = WithDefaults(spec);
    p.pid = machine_->next_pid_++;
    p.started_at = clock_->Now();
    record.alloc_id = spec.alloc_id;
    record.pid = p.pid;
    record.start_ticks = static_cast<uint64_t>(p.pid);
    record.cgroup = absl::StrCat("sim/", spec.alloc_id);
    record.started_at = p.started_at;
  }
  std::lock_guard<std::mutex> l(mu_);
  known_.insert(spec.alloc_id);
  return record;
}

absl::Status SimRuntime::Signal(const std::string& id, int sig) {
  if (absl::Status s = CheckKnown(id); !s.ok()) return s;
  std::lock_guard<std::mutex> l(machine_->mu_);
  auto it = machine_->procs_.find(id);
  if (it == machine_->procs_.end()) return NoTask(id);
  SimMachine::Process& p = it->second;
  if (p.exit.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", id, " has already ", p.exit->ToString()));
  }
  const bool catchable = sig != SIGKILL && sig != SIGSTOP;
  if (sig == 0 || (catchable && p.ignored.count(sig) > 0)) {
    return absl::OkStatus();
  }
  p.exit = ExitStatus::Killed(sig);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ExitStatus>> SimRuntime::Poll(
    const std::string& id) {
  if (absl::Status s = CheckKnown(id); !s.ok()) return s;
  std::lock_guard<std::mutex> l(machine_->mu_);
  auto it = machine_->procs_.find(id);
  if (it == machine_->procs_.end()) return NoTask(id);
  return it->second.exit;
}

absl::StatusOr<ExitStatus> SimRuntime::Wait(const std::string& id,
                                            absl::Duration timeout) {
  absl::StatusOr<std::optional<ExitStatus>> exit = Poll(id);
  if (!exit.ok()) return exit.status();
  if (!exit->has_value() && timeout > absl::ZeroDuration()) {
    clock_->SleepUntil(clock_->Monotonic() + timeout);
    exit = Poll(id);
    if (!exit.ok()) return exit.status();
  }
  if (exit->has_value()) return **exit;
  return absl::DeadlineExceededError(absl::StrCat(
      "task ", id, " still running after ", absl::FormatDuration(timeout)));
}

absl::StatusOr<Usage> SimRuntime::GetUsage(const std::string& id) {
  if (absl::Status s = CheckKnown(id); !s.ok()) return s;
  std::lock_guard<std::mutex> l(machine_->mu_);
  auto it = machine_->procs_.find(id);
  if (it == machine_->procs_.end()) return NoTask(id);
  return it->second.usage;
}

absl::StatusOr<ExitStatus> SimRuntime::Stop(const std::string& id,
                                            absl::Duration grace) {
  absl::StatusOr<std::optional<ExitStatus>> exit = Poll(id);
  if (!exit.ok()) return exit.status();
  if (exit->has_value()) return **exit;
  if (grace > absl::ZeroDuration()) {
    if (absl::Status s = Signal(id, SIGTERM); !s.ok()) return s;
    absl::StatusOr<ExitStatus> done = Wait(id, grace);
    if (!absl::IsDeadlineExceeded(done.status())) return done;
  }
  // FailedPrecondition here means it exited on its own meanwhile.
  absl::Status killed = Signal(id, SIGKILL);
  if (!killed.ok() && !absl::IsFailedPrecondition(killed)) return killed;
  return Wait(id, absl::ZeroDuration());
}

absl::Status SimRuntime::Cleanup(const std::string& id) {
  absl::StatusOr<ExitStatus> exit = Stop(id, absl::ZeroDuration());
  if (!exit.ok()) return exit.status();
  {
    std::lock_guard<std::mutex> l(machine_->mu_);
    machine_->procs_.erase(id);
  }
  std::lock_guard<std::mutex> l(mu_);
  known_.erase(id);
  return absl::OkStatus();
}

absl::Status SimRuntime::Adopt(const TaskRecord& record) {
  {
    std::lock_guard<std::mutex> l(machine_->mu_);
    auto it = machine_->procs_.find(record.alloc_id);
    if (it == machine_->procs_.end()) {
      // Gone while the agent was down: adopt it as exited, like the real
      // runtimes do, so that the agent can report and clean it up.
      SimMachine::Process& p = machine_->procs_[record.alloc_id];
      p.pid = record.pid;
      p.started_at = record.started_at;
      p.exit = ExitStatus::Failed(
          "exited after the agent restarted; exit status unknown");
    } else if (it->second.pid != record.pid) {
      return absl::FailedPreconditionError(absl::StrCat(
          "adopt ", record.alloc_id, ": record names pid ", record.pid,
          " but the task runs as pid ", it->second.pid));
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!known_.insert(record.alloc_id).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("task ", record.alloc_id, " already exists"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SimRuntime::Unenforced(const TaskSpec& spec) const {
  return {};  // limits are simulated, not enforced; nothing runs
}

absl::Status SimRuntime::SetExitListener(
    std::function<void(const std::string& id)> listener) {
  machine_->SetExitListener(std::move(listener));
  return absl::OkStatus();
}

}  // namespace berth::agent
