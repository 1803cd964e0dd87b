// Whether a batch job is finished: complete once `completions` distinct
// indexes succeeded; failed once failures exceed backoff_limit or the
// deadline passed. Shared by the batch reconciler and the job summary.
#ifndef BERTH_SCHEDULER_RECONCILE_BATCH_VERDICT_H_
#define BERTH_SCHEDULER_RECONCILE_BATCH_VERDICT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/job.pb.h"

namespace berth::sched {

struct BatchVerdict {
  bool finished = false;
  bool complete = false;
  std::string reason;     // why it failed
  int32_t succeeded = 0;  // distinct indexes
  int32_t failures = 0;
};

BatchVerdict JudgeBatch(const jobpb::JobRecord& rec,
                        const std::vector<const jobpb::Allocation*>& allocs,
                        absl::Time now);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_BATCH_VERDICT_H_
