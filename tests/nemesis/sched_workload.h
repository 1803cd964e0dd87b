// The scheduler workloads: two jobs submitted through the real `berth` CLI
// to the real schedulers, run by the real agent, and observed only through
// what their tasks leave on this machine:
//   - cron `nem-cron`, `*/1 * * * * *`, concurrency allow, catch_up all,
//     starting_deadline kCronDeadline: each run appends
//     "<alloc id> <start unix ns>" to cron-runs (the id ends in .t<tick>);
//   - service `nem-svc`, `replicas` copies: each task writes its pid to
//     svc/<alloc id>.pid and exits 1 after 8 s (at once if the agent is
//     gone), so under `restart: on-failure` the scheduler replaces every
//     slot's allocation about every 9 s, faults or not; a sampling thread
//     records, every 100 ms, which allocations have a live process.
// Judged by cron_check.h and service_check.h.
//
// Thread safety: Submit/Start/Stop from the owner thread; the sampler
// thread appends to samples_ under mu_.
#ifndef BERTH_TESTS_NEMESIS_SCHED_WORKLOAD_H_
#define BERTH_TESTS_NEMESIS_SCHED_WORKLOAD_H_

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/nemesis/cron_check.h"
#include "tests/nemesis/service_check.h"

namespace berth::nemesis {

inline constexpr absl::Duration kCronDeadline = absl::Seconds(20);

class SchedWorkload {
 public:
  SchedWorkload(std::string cli_bin, std::string scheduler_flag,
                std::string lockd_flag, std::string work_dir,
                int service_replicas, pid_t agent_pid);
  ~SchedWorkload() { Stop(); }

  // Submits both jobs (retrying until a scheduler leads) and starts the
  // sampler.
  absl::Status Start(absl::Duration timeout);
  void Stop();

  absl::Time submitted() const { return submitted_; }
  int service_replicas() const { return service_replicas_; }
  std::vector<CronRun> CronRuns(std::vector<std::string>* bad) const;
  std::vector<ServiceSample> Samples() const;

 private:
  absl::Status SubmitJob(const std::string& name, const std::string& yaml,
                         absl::Time deadline);
  std::set<std::string> RunningServiceAllocs() const;
  void Sample();

  const std::string cli_, scheduler_flag_, lockd_flag_, dir_;
  const int service_replicas_;
  const pid_t agent_pid_;
  absl::Time submitted_;
  std::atomic<bool> stop_{false};
  std::thread sampler_;
  mutable absl::Mutex mu_;
  std::vector<ServiceSample> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_SCHED_WORKLOAD_H_
