// The scheduler part of the nemesis run: two berth-scheduler processes in
// network namespaces of their own (Network hosts after the replicas), one
// berth-agent in the root namespace, and the cron and service workloads
// (sched_workload.h); after the faults, it waits for both workloads to run
// again, judges them with cron_check.h and service_check.h, and prints
// their report sections.
//
// Thread safety: none; main's thread owns it.
#ifndef BERTH_TESTS_NEMESIS_SCHED_SUITE_H_
#define BERTH_TESTS_NEMESIS_SCHED_SUITE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/nemesis/agent_host.h"
#include "tests/nemesis/nemesis.h"
#include "tests/nemesis/network.h"
#include "tests/nemesis/sched_workload.h"
#include "tests/nemesis/schedulers.h"

namespace berth::nemesis {

struct SchedSuiteOptions {
  std::string scheduler_bin;
  std::string agent_bin;
  std::string cli_bin;
  std::string work_dir;
  int service_replicas = 1;
};

class SchedSuite {
 public:
  static constexpr int kSchedulers = 2;
  // Borrows `net`. Schedulers run on hosts first_host..first_host+1.
  static absl::StatusOr<std::unique_ptr<SchedSuite>> Start(
      Network* net, int first_host, std::vector<std::string> lockd,
      SchedSuiteOptions options);

  Schedulers* schedulers() { return &schedulers_; }
  // Call after the final heal (at `healed`). Returns the failures.
  std::vector<std::string> Finish(const NemesisReport& report,
                                  absl::Time healed);

 private:
  SchedSuite(Network* net, int first_host, std::vector<std::string> lockd,
             SchedSuiteOptions options);

  const SchedSuiteOptions options_;
  Schedulers schedulers_;
  AgentHost agent_;
  std::unique_ptr<SchedWorkload> workload_;
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_SCHED_SUITE_H_
