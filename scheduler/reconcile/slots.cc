#include "scheduler/reconcile/slots.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"

namespace berth::sched {

int64_t Generation(const jobpb::Allocation& a) {
  size_t dot = a.id().rfind('.');
  int64_t g = 0;
  if (dot == std::string::npos ||
      !absl::SimpleAtoi(a.id().substr(dot + 1), &g)) {
    return 0;
  }
  return g;
}

std::map<int32_t, std::vector<const jobpb::Allocation*>> BySlot(
    const std::vector<const jobpb::Allocation*>& allocs) {
  std::map<int32_t, std::vector<const jobpb::Allocation*>> out;
  for (const jobpb::Allocation* a : allocs) {
    if (a->cron_tick_unix() != 0) continue;
    out[a->task_group_index()].push_back(a);
  }
  for (auto& [slot, list] : out) {
    std::sort(list.begin(), list.end(),
              [](const jobpb::Allocation* x, const jobpb::Allocation* y) {
                return Generation(*x) > Generation(*y);
              });
  }
  return out;
}

}  // namespace berth::sched
