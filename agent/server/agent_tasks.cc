// Agent: carrying out the actions on tasks (launch, stop, exit, forget),
// their logs and health checks. See agent.h; this file only splits the
// class's definition so each file reads in one sitting.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/server/agent.h"
#include "agent/server/alloc_convert.h"

namespace berth::agent {
namespace {

// How long an exited task's pipes may take to reach end-of-file before the
// pump lets go of them anyway (a grandchild that kept them open, or a FIFO
// re-attached after a restart, which never signals end-of-file).
constexpr absl::Duration kDrainTimeout = absl::Seconds(5);

void Log(const std::string& msg) {
  std::cerr << "berth-agent: " << msg << "\n";
}

}  // namespace

void Agent::Save(const AllocRecord& record) {
  records_[record.alloc_id] = record;
  dirty_.insert(record.alloc_id);
  if (absl::Status s = store_->Put(record); !s.ok()) {
    Log(absl::StrCat("persist ", record.alloc_id, ": ", s.ToString()));
  }
}

void Agent::Launch(const std::string& id) {
  const Desired& d = desired_.at(id);
  // A replaced attempt: release the old task and its pipes first.
  runtime_->Cleanup(id).IgnoreError();
  pump_->Detach(id).IgnoreError();
  health_->Forget(id);
  draining_.erase(id);
  adopted_.erase(id);
  usage_.erase(id);

  AllocRecord r;
  r.alloc_id = id;
  r.job = d.spec.job();
  r.spec = d.spec.SerializeAsString();
  r.attempt = d.spec.attempt();
  r.state = AllocState::kStarting;
  // Persisted before the launch: a crash in between leaves a record without
  // a task, which the next start launches again.
  Save(r);

  const std::string alloc_dir = absl::StrCat(options_.data_dir, "/allocs/", id);
  absl::StatusOr<TaskSpec> task_or = ToTaskSpec(d.spec, alloc_dir + "/sandbox");
  absl::Status runnable = CheckRunnable(d.spec, options_.info);
  if (runnable.ok()) runnable = task_or.status();
  TaskSpec task = task_or.ok() ? std::move(*task_or) : TaskSpec{};
  absl::StatusOr<TaskLogFds> fds =
      runnable.ok()
          ? pump_->AttachFifo(id, LogDir(id), FifoDir(id), options_.log_limits)
          : absl::StatusOr<TaskLogFds>(runnable);
  absl::StatusOr<TaskRecord> launched =
      fds.ok() ? absl::UnknownError("not launched") : fds.status();
  if (fds.ok()) {
    task.stdout_fd = fds->stdout_fd.get();
    task.stderr_fd = fds->stderr_fd.get();
    launched = runtime_->Launch(task);
    // Drop our copies of the write ends so the pump sees end-of-file once
    // the task is gone.
    *fds = TaskLogFds{};
  }
  const absl::Time now = options_.clock->Now();
  if (!launched.ok()) {
    pump_->Detach(id).IgnoreError();
    r.SetExit(ExitStatus::Failed(std::string(launched.status().message())));
    r.finish_time = now;
    Save(r);
    return;
  }
  SetLogsLive(id, true);
  r.task = *launched;
  r.state = AllocState::kRunning;
  r.start_time = now;
  Save(r);
  WatchHealth(id, d.spec);
}

void Agent::WatchHealth(const std::string& id,
                        const agentpb::AllocationSpec& spec) {
  if (!spec.has_health() || !ValidateHealthCheck(spec).ok()) {
    health_->Forget(id);
    return;
  }
  const std::string sandbox =
      absl::StrCat(options_.data_dir, "/allocs/", id, "/sandbox");
  absl::StatusOr<TaskSpec> task = ToTaskSpec(spec, sandbox);
  health_->Watch(
      id,
      MakeProbeTarget(spec, task.ok() ? task->env : std::vector<std::string>{},
                      sandbox));
}

void Agent::FillHealth(const AllocRecord& rec,
                       agentpb::AllocationStatus& st) const {
  if (rec.state != AllocState::kRunning) return;
  agentpb::AllocationSpec spec;
  spec.ParseFromString(rec.spec);
  if (!spec.has_health()) {
    st.set_healthy(true);
    st.set_healthy_since_unix_ms(st.start_unix_ms());
    return;
  }
  std::optional<HealthState> h = health_->Get(rec.alloc_id);
  if (!h.has_value()) return;
  st.set_healthy(h->healthy);
  if (h->healthy) {
    st.set_healthy_since_unix_ms(absl::ToUnixMillis(h->healthy_since));
  }
  st.set_health_output(h->output);
}

void Agent::StartStop(const std::string& id) {
  if (stops_.count(id) > 0) return;
  absl::Duration grace = absl::Seconds(5);
  if (auto it = desired_.find(id); it != desired_.end()) {
    grace = KillTimeout(it->second.spec);
  } else {
    agentpb::AllocationSpec spec;
    if (spec.ParseFromString(records_[id].spec)) grace = KillTimeout(spec);
  }
  stop_requested_.insert(id);
  auto done = std::make_shared<std::atomic<bool>>(false);
  Runtime* rt = runtime_.get();
  StopJob job;
  job.done = done;
  job.thread = std::thread([this, rt, id, grace, done] {
    absl::StatusOr<ExitStatus> st = rt->Stop(id, grace);
    if (!st.ok()) Log(absl::StrCat("stop ", id, ": ", st.status().ToString()));
    done->store(true);
    Wake();  // the loop records the exit now
  });
  stops_[id] = std::move(job);
}

void Agent::JoinFinishedStops() {
  for (auto it = stops_.begin(); it != stops_.end();) {
    if (it->second.done->load()) {
      it->second.thread.join();
      it = stops_.erase(it);
    } else {
      ++it;
    }
  }
}

void Agent::RecordExit(const std::string& id, const ExitStatus& exit) {
  AllocRecord r = records_.at(id);
  r.SetExit(exit);
  if (adopted_.count(id) > 0 && exit.kind == ExitStatus::Kind::kFailed) {
    // Not our child any more: its exit status went to init.
    if (stop_requested_.count(id) > 0) {
      r.state = AllocState::kKilled;
      r.exit_reason = "stopped by the agent; exit status unknown (adopted)";
    } else {
      r.state = AllocState::kLost;
    }
  }
  stop_requested_.erase(id);
  health_->Forget(id);
  r.finish_time = options_.clock->Now();
  if (absl::StatusOr<Usage> u = runtime_->GetUsage(id); u.ok()) usage_[id] = *u;
  Save(r);
  // Release cgroups now; the record keeps what the scheduler needs.
  if (absl::Status s = runtime_->Cleanup(id); !s.ok()) {
    Log(absl::StrCat("cleanup ", id, ": ", s.ToString()));
  }
  draining_.insert(id);
}

void Agent::MarkStopped(const std::string& id) {
  const Desired& d = desired_.at(id);
  AllocRecord r;
  r.alloc_id = id;
  r.job = d.spec.job();
  r.spec = d.spec.SerializeAsString();
  r.attempt = d.spec.attempt();
  r.state = AllocState::kKilled;
  r.exit_reason = "stopped before it started";
  r.finish_time = options_.clock->Now();
  Save(r);
}

void Agent::Forget(const std::string& id) {
  runtime_->Cleanup(id).IgnoreError();
  pump_->Detach(id).IgnoreError();
  health_->Forget(id);
  SetLogsLive(id, false);
  draining_.erase(id);
  adopted_.erase(id);
  stop_requested_.erase(id);
  usage_.erase(id);
  dirty_.erase(id);
  records_.erase(id);
  if (absl::StatusOr<bool> s = store_->Delete(id); !s.ok()) {
    Log(absl::StrCat("forget ", id, ": ", s.status().ToString()));
  }
  std::error_code ec;
  std::filesystem::remove_all(absl::StrCat(options_.data_dir, "/allocs/", id),
                              ec);
}

void Agent::DetachDrained() {
  const absl::Time now = options_.clock->Now();
  for (auto it = draining_.begin(); it != draining_.end();) {
    const std::string& id = *it;
    absl::StatusOr<LogPumpStats> st = pump_->Stats(id);
    const AllocRecord& r = records_.at(id);
    bool done = !st.ok() || st->drained || now - r.finish_time > kDrainTimeout;
    if (!done) {
      ++it;
      continue;
    }
    pump_->Detach(id).IgnoreError();
    SetLogsLive(id, false);
    it = draining_.erase(it);
  }
}

}  // namespace berth::agent
