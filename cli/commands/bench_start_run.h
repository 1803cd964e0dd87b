// The two phases of `berth bench start`, against any running cluster:
//
//   latency  N one-task batch jobs, one at a time: each is submitted only
//            after the previous one's exit was seen, so every task meets
//            an idle cluster;
//   batch    B tasks submitted as fast as --submitters threads can (as
//            B / tasks_per_job jobs), then awaited; completed tasks per
//            second = B / (last exit seen - first submit).
//
// Every task is `/bin/true` with backoff_limit 0 and restart never, so a
// failure is an error, not a retry. Milestones per task, all measured from
// the moment just before its job's SubmitJob call (wall clock):
//
//   accepted      SubmitJob returned (the job record is committed)
//   placed        the allocation's /berth/allocs/<node>/<id> put was seen
//   running       the agent's start_unix_ms (runtime Launch returned; ms)
//   running seen  the first status carrying a start time was seen
//   exit recorded the agent's finish_unix_ms (it noticed the exit; ms)
//   exited seen   the terminal status was seen
//
// "seen" means the bench's /berth/ watch delivered it.
//
// Thread safety: RunStartPhase is called from one thread; it runs its own
// submitter threads.
#ifndef BERTH_CLI_COMMANDS_BENCH_START_RUN_H_
#define BERTH_CLI_COMMANDS_BENCH_START_RUN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/commands/bench_start_probe.h"

namespace berth::cli {

struct StartPhaseSpec {
  std::string name;         // "latency" | "batch"
  bool sequential = false;  // latency: one job in flight at a time
  int64_t tasks = 0;
  int64_t tasks_per_job = 1;
  int submitters = 8;
  std::string cpu = "10m";
  std::string memory = "16MiB";
  std::string job_prefix;  // unique per run, e.g. "bs-1a2b3c-"
  absl::Duration max_wait = absl::Seconds(120);
  std::vector<std::string> scheduler_endpoints;
  absl::Duration rpc_timeout = absl::Seconds(10);
};

struct StartPhaseResult {
  std::string name;
  int64_t tasks = 0;
  int64_t jobs = 0;
  int64_t completed = 0;  // EXITED with code 0, seen
  int64_t errors = 0;     // rejected submits, failed or missing tasks
  std::string first_error;
  absl::Duration wall;  // first submit -> last exit seen
  double completed_per_second = 0;
  // In the order listed above.
  std::vector<std::pair<std::string, Percentiles>> milestones;
  std::vector<std::string> job_names;  // for cleanup
};

// The YAML of one bench job (exposed for its unit test).
std::string StartJobYaml(const std::string& name, int64_t tasks,
                         const std::string& cpu, const std::string& memory);

absl::StatusOr<StartPhaseResult> RunStartPhase(const StartPhaseSpec& spec,
                                               StartProbe* probe);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_START_RUN_H_
