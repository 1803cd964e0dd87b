#include "tests/nemesis/service_check.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::nemesis {

namespace {

// "<ns>.<job>.<slot>.<attempt>" -> "<ns>.<job>.<slot>".
std::string Slot(const std::string& alloc) {
  return alloc.substr(0, alloc.rfind('.'));
}

// Slots with more than one running allocation, as "a, b" lists.
std::vector<std::string> DoubledSlots(const std::set<std::string>& running) {
  std::map<std::string, std::vector<std::string>> by_slot;
  for (const std::string& a : running) by_slot[Slot(a)].push_back(a);
  std::vector<std::string> out;
  for (const auto& [slot, allocs] : by_slot) {
    if (allocs.size() > 1) out.push_back(absl::StrJoin(allocs, ", "));
  }
  return out;
}

}  // namespace

ServiceVerdict CheckService(const std::vector<ServiceSample>& samples,
                            int replicas, absl::Time settled) {
  ServiceVerdict v;
  std::set<std::string> seen;
  bool full_after_settled = false;
  for (const ServiceSample& s : samples) {
    ++v.samples;
    seen.insert(s.running.begin(), s.running.end());
    const int n = static_cast<int>(s.running.size());
    v.max_running = std::max(v.max_running, n);
    if (n < replicas) ++v.samples_short;
    std::vector<std::string> doubled = DoubledSlots(s.running);
    for (const std::string& d : doubled) {
      if (v.violations.empty() ||
          v.violations.back().find(d) == std::string::npos) {
        v.violations.push_back(absl::StrCat(
            "one slot running twice at ",
            absl::FormatTime("%H:%M:%E3S", s.at, absl::UTCTimeZone()), ": ",
            d));
      }
    }
    // One report per distinct overlapping set, not one per sample.
    if (n > replicas &&
        (v.violations.empty() || v.violations.back().find(absl::StrJoin(
                                     s.running, ", ")) == std::string::npos)) {
      v.violations.push_back(absl::StrCat(
          n, " allocations running at once for ", replicas, " replicas at ",
          absl::FormatTime("%H:%M:%E3S", s.at, absl::UTCTimeZone()), ": ",
          absl::StrJoin(s.running, ", ")));
    }
    if (s.at >= settled && n == replicas) full_after_settled = true;
  }
  v.allocs_seen = static_cast<int64_t>(seen.size());
  if (!full_after_settled) {
    v.violations.push_back(absl::StrCat("the service never ran ", replicas,
                                        " allocations after the final heal"));
  } else if (samples.back().running.size() != static_cast<size_t>(replicas)) {
    v.violations.push_back(
        absl::StrCat("the service ran ", samples.back().running.size(),
                     " allocations at the last sample, not ", replicas));
  }
  return v;
}

}  // namespace berth::nemesis
