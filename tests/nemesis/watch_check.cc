#include "tests/nemesis/watch_check.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace berth::nemesis {
namespace {

bool Excused(const WatcherLog& w, int64_t revision) {
  for (const auto& [from, to] : w.compacted) {
    if (revision >= from && revision < to) return true;
  }
  return false;
}

}  // namespace

WatchVerdict CheckWatches(const std::vector<WrittenValue>& writes,
                          const std::vector<WatcherLog>& watchers) {
  WatchVerdict v;
  std::map<std::string, const WrittenValue*> by_value;
  for (const WrittenValue& w : writes) by_value[w.value] = &w;
  std::set<std::string> unknown_seen;
  for (size_t i = 0; i < watchers.size(); ++i) {
    const WatcherLog& log = watchers[i];
    const std::string who = absl::StrCat("watcher ", i);
    std::set<std::string> seen;
    int64_t prev = 0;
    for (const SeenEvent& e : log.events) {
      if (e.revision <= prev) {
        v.violations.push_back(absl::StrCat(who, ": revision ", e.revision,
                                            " after ", prev, " (", e.key, ")"));
      }
      prev = e.revision;
      auto it = by_value.find(e.value);
      if (it == by_value.end()) {
        v.violations.push_back(absl::StrCat(who, ": phantom write ", e.key, "=",
                                            e.value, " at revision ",
                                            e.revision));
        continue;
      }
      const WrittenValue& w = *it->second;
      if (!seen.insert(e.value).second) {
        v.violations.push_back(
            absl::StrCat(who, ": ", e.key, "=", e.value, " delivered twice"));
      }
      if (w.key != e.key || (w.revision != 0 && w.revision != e.revision)) {
        v.violations.push_back(absl::StrCat(
            who, ": ", e.key, "=", e.value, " at revision ", e.revision,
            ", but the writer was told ", w.key, " at revision ", w.revision));
      }
      if (w.revision == 0) unknown_seen.insert(e.value);
    }
    for (const WrittenValue& w : writes) {
      if (w.revision == 0 || w.revision < log.start_revision) continue;
      if (Excused(log, w.revision)) {
        ++v.excused;
        continue;
      }
      ++v.acked_checked;
      if (!seen.count(w.value)) {
        v.violations.push_back(absl::StrCat(who, ": acknowledged write ", w.key,
                                            "=", w.value, " at revision ",
                                            w.revision, " never delivered"));
      }
    }
  }
  v.unknown_seen = static_cast<int64_t>(unknown_seen.size());
  return v;
}

}  // namespace berth::nemesis
