// Grouping a job's allocations by slot (replica index or completion
// index), newest generation first, and reading an allocation's generation
// back from its id.
#ifndef BERTH_SCHEDULER_RECONCILE_SLOTS_H_
#define BERTH_SCHEDULER_RECONCILE_SLOTS_H_

#include <cstdint>
#include <map>
#include <vector>

#include "proto/job.pb.h"
#include "scheduler/state/keys.h"

namespace berth::sched {

// The last dot-separated part of a slot allocation id; 0 if it has none.
int64_t Generation(const jobpb::Allocation& a);

// slot -> allocations, newest generation first.
std::map<int32_t, std::vector<const jobpb::Allocation*>> BySlot(
    const std::vector<const jobpb::Allocation*>& allocs);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_SLOTS_H_
