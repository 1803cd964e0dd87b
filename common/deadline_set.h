// The monotonic-wait waker's pending deadlines, each with a slack: how much
// later than its deadline a waiter may be woken.
//
// Why slack: the waker is a backstop (monotonic_wait.h). A waiter normally
// leaves before its ticket falls due, but the waker has already set its
// alarm by then and wakes for nothing. 1,000 simulated agents' 5 s safety
// ticks are 200 such alarms a second, and on a 2-vCPU VM each wake-up of an
// idle CPU is a VM exit (docs/benchmarks.md, "The idle swarm after the
// monotonic waits"). Letting long waits end up to a small fraction of
// their timeout late, as the kernel's own timer slack does, turns those
// into a few wake-ups a second. Short waits (Raft ticks, heartbeats) get
// none.
//
// Not thread-safe: the waker guards it with its mutex.
#ifndef BERTH_COMMON_DEADLINE_SET_H_
#define BERTH_COMMON_DEADLINE_SET_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace berth {

// The slack a wait of `timeout` gets: none under kSlackFrom, then
// timeout / 32, at most kMaxSlack.
inline constexpr std::chrono::steady_clock::duration kSlackFrom =
    std::chrono::seconds(1);
inline constexpr std::chrono::steady_clock::duration kMaxSlack =
    std::chrono::milliseconds(50);
inline std::chrono::steady_clock::duration SlackFor(
    std::chrono::steady_clock::duration timeout) {
  if (timeout < kSlackFrom) return std::chrono::steady_clock::duration::zero();
  return std::min<std::chrono::steady_clock::duration>(timeout / 32, kMaxSlack);
}

template <typename T>
class DeadlineSet {
 public:
  using Time = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  using Key = std::pair<Time, uint64_t>;

  // `slack` is clamped to [0, kMaxSlack]; WakeAt relies on the bound.
  Key Add(Time deadline, Duration slack, T* item) {
    slack = std::clamp(slack, Duration::zero(), kMaxSlack);
    Key k{deadline, ++next_id_};
    entries_.emplace(k, Entry{deadline + slack, item});
    return k;
  }

  // No-op for an entry TakeDue already returned.
  void Remove(const Key& k) { entries_.erase(k); }

  bool empty() const { return entries_.empty(); }

  // When the owner must be awake next: the earliest deadline + slack of all
  // entries, Time::max() if none. Only entries whose deadline is within
  // kMaxSlack of the first can have an earlier one, so the scan is short.
  Time WakeAt() const {
    Time best = Time::max();
    for (auto it = entries_.begin();
         it != entries_.end() && it->first.first <= best; ++it) {
      best = std::min(best, it->second.latest);
    }
    return best;
  }

  // Removes every entry whose deadline is at or before `now` and appends
  // its item to `out`, earliest first. Waking at WakeAt() this takes the
  // entry that set it and every other one already due: the batch.
  void TakeDue(Time now, std::vector<T*>* out) {
    auto it = entries_.begin();
    for (; it != entries_.end() && it->first.first <= now; ++it) {
      out->push_back(it->second.item);
    }
    entries_.erase(entries_.begin(), it);
  }

 private:
  struct Entry {
    Time latest;
    T* item;
  };
  uint64_t next_id_ = 0;
  std::map<Key, Entry> entries_;
};

}  // namespace berth

#endif  // BERTH_COMMON_DEADLINE_SET_H_
