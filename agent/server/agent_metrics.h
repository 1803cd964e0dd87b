// AgentMetrics: berth-agent's Prometheus metrics (docs/metrics.md).
//
// Thread safety: ObserveLaunch and ObserveExit from any thread;
// PublishTasks from the agent's loop thread (it reads the loop's records).
#ifndef BERTH_AGENT_SERVER_AGENT_METRICS_H_
#define BERTH_AGENT_SERVER_AGENT_METRICS_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "agent/store/alloc_record.h"
#include "common/metrics/registry.h"

namespace berth::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(metrics::Registry* registry);

  // One runtime Launch call that succeeded, and how long it took.
  void ObserveLaunch(absl::Duration took) { launch_->ObserveDuration(took); }
  // A task's final state, once per exit.
  void ObserveExit(AllocState state);
  // Sets the per-state gauge from the agent's records.
  void PublishTasks(const std::map<std::string, AllocRecord>& records);

 private:
  metrics::Family<metrics::Gauge>* tasks_;
  metrics::Histogram* launch_;
  metrics::Counter* oom_kills_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_AGENT_METRICS_H_
