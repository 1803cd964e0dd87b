// Agent: carrying out the actions on tasks (launch, stop, exit, forget),
// their logs and health checks. See agent.h; this file only splits the
// class's definition so each file reads in one sitting.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/server/agent.h"
#include "agent/server/alloc_convert.h"
#include "agent/server/log_retention.h"

namespace berth::agent {
namespace {

// How long an exited task's pipes may take to reach end-of-file before the
// pump lets go of them anyway (a grandchild that kept them open, or a FIFO
// re-attached after a restart, which never signals end-of-file).
constexpr absl::Duration kDrainTimeout = absl::Seconds(5);
constexpr absl::Duration kLogSweepEvery = absl::Minutes(1);

// Launches of one burst in flight at once. More than the cores: a launch
// is mostly kernel waits, not CPU.
constexpr int kLaunchThreads = 4;

void Log(const std::string& msg) {
  std::cerr << "berth-agent: " << msg << "\n";
}

}  // namespace

void Agent::Save(const AllocRecord& record) {
  records_[record.alloc_id] = record;
  dirty_.insert(record.alloc_id);
  unsaved_[record.alloc_id] = record;
  undeleted_.erase(record.alloc_id);  // the put replaces it anyway
}

void Agent::FlushSaves() {
  if (unsaved_.empty() && undeleted_.empty() && unsaved_meta_.empty()) return;
  AllocStore::Batch b;
  b.puts.reserve(unsaved_.size());
  for (auto& [id, r] : unsaved_) b.puts.push_back(std::move(r));
  unsaved_.clear();
  b.deletes.assign(undeleted_.begin(), undeleted_.end());
  undeleted_.clear();
  b.metas.assign(unsaved_meta_.begin(), unsaved_meta_.end());
  unsaved_meta_.clear();
  if (absl::Status s = store_->Write(b); !s.ok()) {
    Log(absl::StrCat("persist ", b.puts.size(), " allocation records, ",
                     b.deletes.size(),
                     " deletions and the desired state: ", s.ToString()));
  }
}

void Agent::LaunchAll(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  for (const std::string& id : ids) PrepareLaunch(id);
  // Persisted before the launches: a crash in between leaves records
  // without tasks, which the next start launches again.
  FlushSaves();
  std::vector<PendingLaunch> batch(ids.size());
  // A launch mostly waits on the kernel (log files and FIFOs, cgroup
  // directories, namespaces, the child's exec), so a burst is started by a
  // few threads at once, each task as soon as its own files exist: made
  // one after another on this thread, the files alone held a burst of 500
  // back for about two seconds (ext4 inode allocation). Runtimes are
  // thread-safe.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < batch.size(); i = next++) {
      PendingLaunch& p = batch[i];
      p = ReadyLaunch(ids[i]);
      if (!p.fds.ok()) continue;
      p.task.stdout_fd = p.fds->stdout_fd.get();
      p.task.stderr_fd = p.fds->stderr_fd.get();
      const absl::Time start = options_.clock->Monotonic();
      p.launched = runtime_->Launch(p.task);
      p.at = options_.clock->Now();
      if (metrics_ != nullptr && p.launched.ok()) {
        metrics_->ObserveLaunch(options_.clock->Monotonic() - start);
      }
      // Drop our copies of the write ends so the pump sees end-of-file
      // once the task is gone.
      *p.fds = TaskLogFds{};
    }
  };
  const size_t helpers =
      std::min(batch.size(), static_cast<size_t>(kLaunchThreads)) - 1;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  for (PendingLaunch& p : batch) FinishLaunch(p);
}

void Agent::PrepareLaunch(const std::string& id) {
  const Desired& d = desired_.at(id);
  // A replaced attempt: release the old task and its pipes first.
  runtime_->Cleanup(id).IgnoreError();
  pump_->Detach(id).IgnoreError();
  health_->Forget(id);
  draining_.erase(id);
  adopted_.erase(id);
  usage_.erase(id);
  cpu_millicores_.erase(id);

  AllocRecord r;
  r.alloc_id = id;
  r.job = d.spec.job();
  r.spec = d.spec.SerializeAsString();
  r.attempt = d.spec.attempt();
  r.state = AllocState::kStarting;
  Save(r);
}

Agent::PendingLaunch Agent::ReadyLaunch(const std::string& id) const {
  const Desired& d = desired_.at(id);
  PendingLaunch p;
  p.id = id;
  const std::string alloc_dir = absl::StrCat(options_.data_dir, "/allocs/", id);
  UnmarkForgotten(absl::StrCat(options_.data_dir, "/allocs"), id);
  absl::StatusOr<TaskSpec> task_or = ToTaskSpec(d.spec, alloc_dir + "/sandbox");
  absl::Status runnable = CheckRunnable(d.spec, options_.info);
  if (runnable.ok()) runnable = task_or.status();
  if (task_or.ok()) p.task = std::move(*task_or);
  if (!runnable.ok()) {
    p.fds = runnable;
  } else if (options_.capture_logs) {
    p.fds = pump_->AttachFifo(id, LogDir(id), FifoDir(id), options_.log_limits);
  } else {
    p.fds = TaskLogFds();
  }
  if (!p.fds.ok()) p.launched = p.fds.status();
  p.at = options_.clock->Now();
  return p;
}

void Agent::FinishLaunch(PendingLaunch& p) {
  const std::string& id = p.id;
  AllocRecord r = records_.at(id);
  if (!p.launched.ok()) {
    pump_->Detach(id).IgnoreError();
    r.SetExit(ExitStatus::Failed(std::string(p.launched.status().message())));
    r.finish_time = p.at;
    Save(r);
    return;
  }
  SetLogsLive(id, true);
  r.task = *p.launched;
  r.state = AllocState::kRunning;
  r.start_time = p.at;
  Save(r);
  WatchHealth(id, desired_.at(id).spec);
}

absl::StatusOr<pid_t> Agent::Exec(const std::string& id, ExecSpec spec) const {
  // The host path serves a task without a rootfs; inside one the sandbox is
  // mounted at kSandboxMount.
  spec.workdirs = {absl::StrCat(options_.data_dir, "/allocs/", id, "/sandbox"),
                   kSandboxMount};
  // Asked first: Exec's own NotFound may be the command's (exec: ENOENT).
  if (absl::IsNotFound(runtime_->Poll(id).status())) {
    return absl::NotFoundError(
        absl::StrCat("allocation ", id, " has no task on this node"));
  }
  return runtime_->Exec(id, spec);
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
  ProbeTarget target = MakeProbeTarget(
      spec, task.ok() ? task->env : std::vector<std::string>{}, sandbox);
  target.alloc_id = id;
  health_->Watch(id, std::move(target));
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
  if (metrics_ != nullptr) metrics_->ObserveExit(r.state);
  r.finish_time = options_.clock->Now();
  if (absl::StatusOr<Usage> u = runtime_->GetUsage(id); u.ok()) usage_[id] = *u;
  cpu_millicores_.erase(id);  // an exited task uses none
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
  cpu_millicores_.erase(id);
  dirty_.erase(id);
  records_.erase(id);
  unsaved_.erase(id);  // a queued write must not bring the record back
  // Deleted with the tick's other writes (FlushSaves), not in a transaction
  // and fsync of its own per task. A crash before the flush leaves the
  // record, and the next start forgets it again.
  undeleted_.insert(id);
  if (!options_.fifo_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(FifoDir(id), ec);
  }
  const std::string allocs = absl::StrCat(options_.data_dir, "/allocs");
  if (!options_.capture_logs) {  // no logs to keep
    std::error_code ec;
    std::filesystem::remove_all(absl::StrCat(allocs, "/", id), ec);
    return;
  }
  // Its logs stay readable for a while (berth job logs of a finished task).
  const absl::Time now = options_.clock->Now();
  if (absl::Status s = MarkForgotten(allocs, id, now, options_.log_retention);
      !s.ok()) {
    Log(s.ToString());
  }
  // The sweep lists every allocation directory; at most once a minute.
  if (now >= next_log_sweep_) {
    SweepForgotten(allocs, now, options_.log_retention);
    next_log_sweep_ = now + kLogSweepEvery;
  }
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
