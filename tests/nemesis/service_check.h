// Service checker: judges samples of which allocations of a service were
// running (a live process whose pid file names its allocation), with no
// knowledge of the scheduler's code:
//   - no sample shows more running allocations than the job's replicas,
//     nor two of one slot (an allocation id is <ns>.<job>.<slot>.<attempt>)
//     (violation: a slot ran twice, e.g. a deposed scheduler leader placed
//     a replacement while the old allocation still ran);
//   - after `settled` (the final heal plus the recovery the caller allows),
//     the service runs its full count again and is still doing so at the
//     last sample (violation otherwise).
#ifndef BERTH_TESTS_NEMESIS_SERVICE_CHECK_H_
#define BERTH_TESTS_NEMESIS_SERVICE_CHECK_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace berth::nemesis {

struct ServiceSample {
  absl::Time at;
  std::set<std::string> running;  // allocation ids
};

struct ServiceVerdict {
  int64_t samples = 0;
  int64_t allocs_seen = 0;  // distinct allocations ever running
  int max_running = 0;
  int64_t samples_short = 0;  // samples below the replica count
  std::vector<std::string> violations;
};

ServiceVerdict CheckService(const std::vector<ServiceSample>& samples,
                            int replicas, absl::Time settled);

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_SERVICE_CHECK_H_
