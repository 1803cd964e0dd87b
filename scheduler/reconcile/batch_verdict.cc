#include "scheduler/reconcile/batch_verdict.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace berth::sched {

BatchVerdict JudgeBatch(const jobpb::JobRecord& rec,
                        const std::vector<const jobpb::Allocation*>& allocs,
                        absl::Time now) {
  const jobpb::BatchPolicy& policy = rec.job().batch();
  BatchVerdict v;
  std::set<int32_t> done;
  for (const jobpb::Allocation* a : allocs) {
    if (a->outcome().state() == jobpb::AllocOutcome::SUCCEEDED) {
      done.insert(a->task_group_index());
    } else if (a->outcome().state() == jobpb::AllocOutcome::FAILED) {
      ++v.failures;
    }
  }
  v.succeeded = static_cast<int32_t>(done.size());
  if (v.succeeded >= policy.completions()) {
    v.finished = v.complete = true;
  } else if (v.failures > policy.backoff_limit()) {
    v.finished = true;
    v.reason = absl::StrCat(v.failures, " failures exceed backoff_limit ",
                            policy.backoff_limit());
  } else if (policy.deadline_ms() > 0 &&
             absl::ToUnixMillis(now) >
                 rec.submit_unix_ms() + policy.deadline_ms()) {
    v.finished = true;
    v.reason = absl::StrCat(
        "deadline of ",
        absl::FormatDuration(absl::Milliseconds(policy.deadline_ms())),
        " exceeded with ", v.succeeded, " of ", policy.completions(),
        " completions");
  }
  return v;
}

}  // namespace berth::sched
