// TimerHeap: an indexed binary min-heap of deadlines, one per id.
//
// The cron engine keeps one entry per cron job: the time it next needs
// attention. Set moves an existing entry (no duplicates, no lazy garbage),
// so the heap never holds more entries than jobs and an idle engine costs
// one comparison per Step.
//
// Ids are small dense integers (the engine's job slots). Ties are broken by
// id, so the order is deterministic.
//
// Thread safety: not thread-safe; the owner serializes access.
#ifndef BERTH_SCHEDULER_CRON_TIMER_HEAP_H_
#define BERTH_SCHEDULER_CRON_TIMER_HEAP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace berth::cron {

class TimerHeap {
 public:
  // Inserts `id` or moves its existing entry to `deadline`.
  void Set(uint32_t id, absl::Time deadline);
  // Removes `id` if present.
  void Erase(uint32_t id);
  bool Contains(uint32_t id) const;
  std::optional<absl::Time> Deadline(uint32_t id) const;

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest entry; requires !empty().
  uint32_t TopId() const { return heap_.front().id; }
  absl::Time TopDeadline() const { return heap_.front().deadline; }
  // Calls fn(id, deadline) for every entry due by `limit`, in heap order
  // (not sorted, but the same for the same heap). O(entries visited):
  // the walk stops at any entry later than `limit`, whose subtree is too.
  void ForEachUntil(absl::Time limit,
                    const std::function<void(uint32_t, absl::Time)>& fn) const;

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  struct Entry {
    absl::Time deadline;
    uint32_t id;
  };
  static bool Less(const Entry& a, const Entry& b) {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id);
  }
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  void Place(size_t i, Entry e);

  std::vector<Entry> heap_;
  std::vector<uint32_t> pos_;  // id -> index in heap_, kAbsent if none
};

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_TIMER_HEAP_H_
