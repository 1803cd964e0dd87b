#include "agent/server/agent_metrics.h"

namespace berth::agent {
namespace {

constexpr AllocState kStates[] = {AllocState::kPending, AllocState::kStarting,
                                  AllocState::kRunning, AllocState::kExited,
                                  AllocState::kFailed,  AllocState::kOomKilled,
                                  AllocState::kKilled,  AllocState::kLost};

}  // namespace

AgentMetrics::AgentMetrics(metrics::Registry* r) {
  tasks_ = r->AddGauge("berth_agent_tasks",
                       "Allocations this agent holds a record of, by state "
                       "(terminal ones until the scheduler lets go of them).",
                       {"state"});
  // Every state is listed from the start, 0 until something is in it.
  for (AllocState s : kStates) {
    tasks_->With({std::string(AllocStateName(s))});
  }
  launch_ = r->AddHistogram("berth_agent_task_launch_duration_seconds",
                            "One successful runtime launch: sandbox, cgroup, "
                            "namespaces and the task's exec.",
                            metrics::LatencyBuckets())
                ->Get();
  oom_kills_ = r->AddCounter("berth_agent_oom_kills_total",
                             "Tasks the kernel killed for exceeding their "
                             "memory limit.")
                   ->Get();
}

void AgentMetrics::ObserveExit(AllocState state) {
  if (state == AllocState::kOomKilled) oom_kills_->Inc();
}

void AgentMetrics::PublishTasks(
    const std::map<std::string, AllocRecord>& records) {
  std::map<AllocState, int> counts;
  for (const auto& [id, r] : records) ++counts[r.state];
  for (AllocState s : kStates) {
    tasks_->With({std::string(AllocStateName(s))})->Set(counts[s]);
  }
}

}  // namespace berth::agent
