#include "scheduler/cron/timer_heap.h"

namespace berth::cron {

void TimerHeap::Place(size_t i, Entry e) {
  pos_[e.id] = static_cast<uint32_t>(i);
  heap_[i] = e;
}

void TimerHeap::SiftUp(size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Less(e, heap_[parent])) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, e);
}

void TimerHeap::SiftDown(size_t i) {
  Entry e = heap_[i];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Less(heap_[child + 1], heap_[child])) ++child;
    if (!Less(heap_[child], e)) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, e);
}

void TimerHeap::Set(uint32_t id, absl::Time deadline) {
  if (id >= pos_.size()) pos_.resize(id + 1, kAbsent);
  if (pos_[id] == kAbsent) {
    heap_.push_back({deadline, id});
    pos_[id] = static_cast<uint32_t>(heap_.size() - 1);
    SiftUp(heap_.size() - 1);
    return;
  }
  size_t i = pos_[id];
  absl::Time old = heap_[i].deadline;
  heap_[i].deadline = deadline;
  if (deadline < old) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

void TimerHeap::Erase(uint32_t id) {
  if (!Contains(id)) return;
  size_t i = pos_[id];
  pos_[id] = kAbsent;
  Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  Place(i, last);
  SiftDown(i);
  SiftUp(pos_[last.id]);
}

void TimerHeap::ForEachUntil(
    absl::Time limit,
    const std::function<void(uint32_t, absl::Time)>& fn) const {
  if (heap_.empty() || heap_.front().deadline > limit) return;
  std::vector<size_t> todo = {0};
  while (!todo.empty()) {
    size_t i = todo.back();
    todo.pop_back();
    fn(heap_[i].id, heap_[i].deadline);
    for (size_t child = 2 * i + 1; child <= 2 * i + 2; ++child) {
      if (child < heap_.size() && heap_[child].deadline <= limit) {
        todo.push_back(child);
      }
    }
  }
}

bool TimerHeap::Contains(uint32_t id) const {
  return id < pos_.size() && pos_[id] != kAbsent;
}

std::optional<absl::Time> TimerHeap::Deadline(uint32_t id) const {
  if (!Contains(id)) return std::nullopt;
  return heap_[pos_[id]].deadline;
}

}  // namespace berth::cron
