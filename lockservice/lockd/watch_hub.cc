#include "lockservice/lockd/watch_hub.h"

#include "absl/strings/str_cat.h"

namespace berth::lockd {

bool KeyInRange(std::string_view key, std::string_view start,
                std::string_view range_end) {
  if (range_end.empty()) return key == start;
  if (key < start) return false;
  if (range_end == std::string_view("\0", 1)) return true;
  return key < range_end;
}

bool WatchSink::Push(lockpb::WatchResponse r) {
  absl::MutexLock l(&mu_);
  if (closed_) return true;
  size_t n = static_cast<size_t>(r.events_size());
  if (pending_events_ + n > max_pending_) return false;
  pending_events_ += n;
  queue_.push_back(std::move(r));
  cv_.Signal();
  return true;
}

void WatchSink::PushControl(lockpb::WatchResponse r) {
  absl::MutexLock l(&mu_);
  if (closed_) return;
  pending_events_ += static_cast<size_t>(r.events_size());
  queue_.push_back(std::move(r));
  cv_.Signal();
}

bool WatchSink::Pop(std::vector<lockpb::WatchResponse>* out,
                    absl::Time deadline) {
  absl::MutexLock l(&mu_);
  while (queue_.empty() && !closed_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  while (!queue_.empty()) {
    pending_events_ -= static_cast<size_t>(queue_.front().events_size());
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !(closed_ && out->empty());
}

void WatchSink::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
  cv_.SignalAll();
}

void WatchHub::Add(WatchSink* sink, int64_t watch_id, const Spec& spec) {
  absl::MutexLock l(&mu_);
  watches_[sink][watch_id] = Entry{spec};
}

void WatchHub::Remove(WatchSink* sink, int64_t watch_id) {
  absl::MutexLock l(&mu_);
  auto it = watches_.find(sink);
  if (it == watches_.end()) return;
  it->second.erase(watch_id);
}

void WatchHub::RemoveSink(WatchSink* sink) {
  absl::MutexLock l(&mu_);
  watches_.erase(sink);
}

size_t WatchHub::size() {
  absl::MutexLock l(&mu_);
  size_t n = 0;
  for (auto& [sink, ws] : watches_) n += ws.size();
  return n;
}

namespace {

// Builds the response for one watch from the events it matches.
bool Filter(const WatchHub::Spec& spec, int64_t watch_id,
            const std::vector<lockpb::Event>& events, int64_t revision,
            lockpb::WatchResponse* r) {
  for (const lockpb::Event& e : events) {
    if (!KeyInRange(e.kv().key(), spec.key, spec.range_end)) continue;
    if (e.kv().mod_revision() < spec.start_revision) continue;
    lockpb::Event* out = r->add_events();
    *out = e;
    if (!spec.prev_kv) out->clear_prev_kv();
  }
  if (r->events_size() == 0) return false;
  r->set_watch_id(watch_id);
  r->mutable_header()->set_revision(revision);
  return true;
}

}  // namespace

void WatchHub::Publish(const std::vector<lockpb::Event>& events,
                       int64_t revision) {
  if (events.empty()) return;
  absl::MutexLock l(&mu_);
  std::vector<WatchSink*> slow;
  for (auto& [sink, ws] : watches_) {
    for (auto& [id, entry] : ws) {
      lockpb::WatchResponse r;
      if (!Filter(entry.spec, id, events, revision, &r)) continue;
      if (!sink->Push(std::move(r))) {
        slow.push_back(sink);
        break;
      }
    }
  }
  for (WatchSink* s : slow) {
    CancelSinkLocked(s,
                     "watcher too slow: its stream fell too far behind "
                     "and was cancelled; resume from the last revision "
                     "received");
  }
}

bool WatchHub::Replay(WatchSink* sink, int64_t watch_id,
                      const std::vector<lockpb::Event>& events,
                      int64_t revision) {
  absl::MutexLock l(&mu_);
  auto it = watches_.find(sink);
  if (it == watches_.end()) return false;
  auto w = it->second.find(watch_id);
  if (w == it->second.end()) return false;
  // History may exceed the live queue bound; send it in slices that each
  // get queued as control messages so a long catch-up is not mistaken for a
  // slow consumer.
  const size_t kSlice = 1000;
  for (size_t i = 0; i < events.size(); i += kSlice) {
    std::vector<lockpb::Event> part(
        events.begin() + i,
        events.begin() + std::min(events.size(), i + kSlice));
    lockpb::WatchResponse r;
    if (Filter(w->second.spec, watch_id, part, revision, &r)) {
      sink->PushControl(std::move(r));
    }
  }
  return true;
}

void WatchHub::CancelSinkLocked(WatchSink* sink, const std::string& reason) {
  auto it = watches_.find(sink);
  if (it == watches_.end()) return;
  for (auto& [id, entry] : it->second) {
    lockpb::WatchResponse r;
    r.set_watch_id(id);
    r.set_canceled(true);
    r.set_cancel_reason(reason);
    sink->PushControl(std::move(r));
  }
  watches_.erase(it);
}

}  // namespace berth::lockd
