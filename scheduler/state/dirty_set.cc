#include "scheduler/state/dirty_set.h"

namespace berth::sched {

void DirtySet::WakeAt(const JobId& job, absl::Time t) {
  auto [it, inserted] = wake_.try_emplace(job, t);
  if (!inserted) {
    if (it->second <= t) return;
    queue_.erase({it->second, job});
    it->second = t;
  }
  queue_.insert({t, job});
}

EvalScope DirtySet::Take(absl::Time now) {
  while (!queue_.empty() && queue_.begin()->first <= now) {
    marked_.insert(queue_.begin()->second);
    wake_.erase(queue_.begin()->second);
    queue_.erase(queue_.begin());
  }
  EvalScope scope;
  scope.all = all_;
  if (!all_) scope.jobs.assign(marked_.begin(), marked_.end());
  all_ = false;
  marked_.clear();
  return scope;
}

absl::Time DirtySet::NextWake() const {
  return queue_.empty() ? absl::InfiniteFuture() : queue_.begin()->first;
}

}  // namespace berth::sched
