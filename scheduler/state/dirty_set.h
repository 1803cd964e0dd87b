// DirtySet: which jobs the next leader pass must evaluate.
//
// Fed by the mirror (ClusterState::Apply marks jobs whose record,
// allocations or statuses changed, and the jobs a node or drain change
// affects) and by the reconciler's own wake-ups (a backoff, deadline,
// not_before or placement retry of one job). A pass Takes the set and
// evaluates only those jobs, so an idle cluster's pass costs O(1) and a
// submit's pass O(that job). MarkAll (mirror Reset, new leader, the
// periodic safety sweep) asks for a pass over every job.
//
// Thread safety: not thread-safe; owned by ClusterState, whose owner
// serializes access.
#ifndef BERTH_SCHEDULER_STATE_DIRTY_SET_H_
#define BERTH_SCHEDULER_STATE_DIRTY_SET_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace berth::sched {

using JobId = std::pair<std::string, std::string>;  // (namespace, name)

// The jobs one pass evaluates.
struct EvalScope {
  bool all = false;         // every job the mirror knows (and orphans)
  std::vector<JobId> jobs;  // sorted, unique; meaningful when !all
  static EvalScope All() { return {true, {}}; }
};

class DirtySet {
 public:
  void Mark(const JobId& job) { marked_.insert(job); }
  void MarkAll() { all_ = true; }
  // Evaluate `job` again at `t` even if nothing changes; the earliest
  // pending time per job wins.
  void WakeAt(const JobId& job, absl::Time t);

  // Everything marked plus the jobs whose wake-up is due at `now`; clears
  // what it returns.
  EvalScope Take(absl::Time now);
  // The earliest pending wake-up (InfiniteFuture when none).
  absl::Time NextWake() const;

  bool all() const { return all_; }
  size_t marked() const { return marked_.size(); }
  size_t timers() const { return wake_.size(); }

 private:
  bool all_ = false;
  std::set<JobId> marked_;
  std::map<JobId, absl::Time> wake_;              // job -> its wake-up
  std::set<std::pair<absl::Time, JobId>> queue_;  // ordered by time
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_DIRTY_SET_H_
