// Shared between cron_sim_run.cc and cron_sim_check.cc (test support only).
#ifndef BERTH_SCHEDULER_CRON_CRON_SIM_INTERNAL_H_
#define BERTH_SCHEDULER_CRON_CRON_SIM_INTERNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cron/cron_sim.h"
#include "scheduler/cron/schedule.h"

namespace berth::cron::sim {

struct SimJob {
  CronJobArgs args;
  std::optional<Schedule> schedule;
  int64_t every = 0;
};

// A leader instant at which the engine settled with no fault armed: every
// tick due then was decided then, or earlier.
struct Quiet {
  int64_t now_ms = 0;
  int64_t start_revision = 0;  // store revision when the instant began
};

// Replays the store's whole history and appends what is wrong to
// result->violations. `deposed_at`: leader id -> store revision at which it
// lost leadership.
void CheckHistory(sched::MemStore* store, const std::vector<SimJob>& jobs,
                  const std::vector<Quiet>& quiet,
                  const std::map<std::string, int64_t>& deposed_at,
                  int64_t grace_ms, SimResult* result);

}  // namespace berth::cron::sim

#endif  // BERTH_SCHEDULER_CRON_CRON_SIM_INTERNAL_H_
