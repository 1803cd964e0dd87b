// Test support for the cron engine: a scheduler leader as the scheduler
// process runs one (a ClusterState mirror fed by a Store watch, plus a
// CronEngine), record builders, and a seeded whole-system simulation with
// simulated agents, leader kills and clock steps, judged from outside by
// reading the store's full history.
//
// Thread safety: single-threaded; everything runs on the caller's thread.
#ifndef BERTH_SCHEDULER_CRON_CRON_SIM_H_
#define BERTH_SCHEDULER_CRON_CRON_SIM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/agent.pb.h"
#include "proto/job.pb.h"
#include "scheduler/cron/engine.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/mem_store.h"

namespace berth::cron::sim {

// One scheduler replica while it is leader. Borrows `store`.
class Leader {
 public:
  Leader(sched::MemStore* store, std::string id, int64_t token,
         EngineOptions options = {});

  // Loads the mirror, opens the watch and syncs the engine.
  absl::Status Start(absl::Time now);
  // Applies pending watch events; tells the engine about job changes.
  absl::Status Pump(absl::Time now);
  // Pump, engine Step, Pump.
  absl::StatusOr<absl::Time> Step(absl::Time now);
  // Steps until the engine is quiescent (at most `max_rounds`).
  absl::Status Settle(absl::Time now, int max_rounds = 10000);

  // Cuts this replica off from lockd's watch (a partitioned or paused
  // leader): its mirror goes stale, its commits still reach the store.
  void Partition() { partitioned_ = true; }

  sched::ClusterState& state() { return state_; }
  CronEngine& engine() { return engine_; }
  const sched::Fence& fence() const { return fence_; }

 private:
  sched::MemStore* store_;
  sched::Fence fence_;
  sched::ClusterState state_;
  std::unique_ptr<sched::StoreWatch> watch_;
  CronEngine engine_;
  bool partitioned_ = false;
};

struct CronJobArgs {
  std::string ns = "default";
  std::string name;
  std::string schedule;
  std::string timezone = "UTC";
  jobpb::CronPolicy::Concurrency concurrency = jobpb::CronPolicy::ALLOW;
  jobpb::CronPolicy::CatchUp catch_up = jobpb::CronPolicy::ALL;
  int64_t starting_deadline_ms = 0;
  int32_t successful_history = 3;
  int32_t failed_history = 1;
  int64_t timeout_ms = 0;
  int64_t submit_unix_ms = 0;
  bool suspend = false;    // the spec's cron.suspend
  bool suspended = false;  // JobRecord.suspended (berth job suspend)
};
jobpb::JobRecord CronJob(const CronJobArgs& args);

// Unfenced writes, as the API server and agents make them.
absl::Status PutJob(sched::Store* store, const jobpb::JobRecord& rec);
absl::Status PutStatus(sched::Store* store,
                       const agentpb::AllocationStatus& status);

struct SimConfig {
  uint64_t seed = 1;
  int jobs = 40;
  absl::Duration duration = absl::Hours(1);
  absl::Duration step = absl::Milliseconds(250);
  bool verbose = false;
};

struct SimResult {
  int64_t ticks_checked = 0;  // scheduled (job, tick) pairs judged
  int64_t claims = 0;
  int64_t skipped = 0;
  int64_t missed_records = 0;
  int64_t manual = 0;
  int64_t failovers = 0;
  int64_t kills_after_claim = 0;
  int64_t refused_old_leader = 0;  // deposed leaders' commits refused
  int64_t clock_steps = 0;
  std::vector<std::string> violations;  // empty = every check passed
};

SimResult RunSimulation(const SimConfig& config);

}  // namespace berth::cron::sim

#endif  // BERTH_SCHEDULER_CRON_CRON_SIM_H_
