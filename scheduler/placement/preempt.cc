#include "scheduler/placement/preempt.h"

#include <algorithm>
#include <numeric>

namespace berth::sched {
namespace {

bool Covers(const std::vector<VictimCandidate>& c, const std::vector<int>& set,
            const Shortfall& need, int skip) {
  Shortfall got;
  for (int i : set) {
    if (i == skip) continue;
    got.cpu += c[i].cpu;
    got.memory += c[i].memory;
    got.pids += c[i].pids;
    got.ports += c[i].ports;
  }
  return got.cpu >= need.cpu && got.memory >= need.memory &&
         got.pids >= need.pids && got.ports >= need.ports;
}

}  // namespace

int PriorityBand(int32_t priority) { return priority / 10; }

bool MayPreempt(int32_t preemptor_priority, int32_t victim_priority) {
  return PriorityBand(preemptor_priority) > PriorityBand(victim_priority);
}

std::optional<std::vector<int>> ChooseVictims(
    const std::vector<VictimCandidate>& candidates, const Shortfall& need) {
  std::vector<int> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const VictimCandidate& x = candidates[a];
    const VictimCandidate& y = candidates[b];
    if (x.priority != y.priority) return x.priority < y.priority;
    if (x.size != y.size) return x.size < y.size;
    return x.id < y.id;
  });
  std::vector<int> chosen;
  for (int i : order) {
    if (Covers(candidates, chosen, need, -1)) break;
    chosen.push_back(i);
  }
  if (!Covers(candidates, chosen, need, -1)) return std::nullopt;
  // Greedy order can pick small victims that a later, larger one makes
  // redundant; drop those, newest first, so higher-priority ones go first.
  for (int k = static_cast<int>(chosen.size()) - 1; k >= 0; --k) {
    if (Covers(candidates, chosen, need, chosen[k])) {
      chosen.erase(chosen.begin() + k);
    }
  }
  return chosen;
}

}  // namespace berth::sched
