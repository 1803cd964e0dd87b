// Preemption policy: which running allocations may be evicted to make room,
// and the smallest such set on one node. Pure functions; any thread.
//
// Band rule: a priority's band is priority / 10 (0..10). An allocation may
// preempt another only when its band is strictly higher. With the spec
// defaults (service 50 -> band 5, batch and cron 20 -> band 2) services
// preempt batch and cron work, and nothing preempts within its own band, so
// two jobs at priorities 50 and 55 never evict each other.
#ifndef BERTH_SCHEDULER_PLACEMENT_PREEMPT_H_
#define BERTH_SCHEDULER_PLACEMENT_PREEMPT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::sched {

int PriorityBand(int32_t priority);
bool MayPreempt(int32_t preemptor_priority, int32_t victim_priority);

// What a node is short of, in absolute units (<= 0 means not short).
struct Shortfall {
  int64_t cpu = 0;
  int64_t memory = 0;
  int64_t pids = 0;
  int64_t ports = 0;
};

struct VictimCandidate {
  std::string id;
  int32_t priority = 0;
  int64_t cpu = 0;
  int64_t memory = 0;
  int64_t pids = 0;
  int64_t ports = 0;  // in-range ports it would release
  int64_t size = 0;   // caller's measure of "how big", for ordering
};

// Chooses victims among `candidates` (all already eligible under the band
// rule) that together cover `need`: lowest priority first, then smallest,
// then by id; then drops any chosen victim the rest can do without, so no
// proper subset of the answer suffices among the chosen. Returns indices
// into `candidates` in eviction order, or nullopt if even all of them are
// not enough.
std::optional<std::vector<int>> ChooseVictims(
    const std::vector<VictimCandidate>& candidates, const Shortfall& need);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_PLACEMENT_PREEMPT_H_
