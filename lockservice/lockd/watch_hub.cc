#include "lockservice/lockd/watch_hub.h"

#include <algorithm>
#include <utility>

#include "common/monotonic_wait.h"

namespace berth::lockd {

bool KeyInRange(std::string_view key, std::string_view start,
                std::string_view range_end) {
  if (range_end.empty()) return key == start;
  if (key < start) return false;
  if (range_end == std::string_view("\0", 1)) return true;
  return key < range_end;
}

namespace {

// The range_end a prefix watch of `prefix` has (lock.proto): the prefix
// with trailing 0xff bytes dropped and its last byte incremented; "\0"
// (every key from `prefix` on) when nothing is left.
std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (end.empty()) return std::string("\0", 1);
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

WatchHub::Kind WatchHub::KindOf(const Spec& spec) {
  if (spec.range_end.empty()) return Kind::kKey;
  if (spec.range_end == PrefixRangeEnd(spec.key)) return Kind::kPrefix;
  return Kind::kRange;
}

bool WatchSink::Push(std::vector<Outbound>* batch) {
  size_t n = 0;
  for (const Outbound& o : *batch) n += o.events();
  absl::MutexLock l(&mu_);
  if (closed_) return true;
  if (pending_events_ + n > max_pending_) return false;
  pending_events_ += n;
  for (Outbound& o : *batch) queue_.push_back(std::move(o));
  cv_.Signal();
  return true;
}

void WatchSink::PushControl(lockpb::WatchResponse r) {
  Outbound o;
  o.watch_ids.push_back(r.watch_id());
  o.body = std::make_shared<const lockpb::WatchResponse>(std::move(r));
  const size_t n = o.events();
  absl::MutexLock l(&mu_);
  if (closed_) return;
  pending_events_ += n;
  queue_.push_back(std::move(o));
  cv_.Signal();
}

bool WatchSink::PopBatch(std::vector<Outbound>* out, absl::Time deadline) {
  const MonotonicDeadline until = MonotonicDeadline::FromWall(deadline);
  absl::MutexLock l(&mu_);
  while (queue_.empty() && !closed_) {
    if (WaitMonotonic(&cv_, &mu_, until)) break;
  }
  const bool had = !queue_.empty();
  while (!queue_.empty()) {
    pending_events_ -= queue_.front().events();
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !(closed_ && !had);
}

bool WatchSink::Pop(std::vector<lockpb::WatchResponse>* out,
                    absl::Time deadline) {
  std::vector<Outbound> batch;
  const bool open = PopBatch(&batch, deadline);
  for (const Outbound& o : batch) {
    for (int64_t id : o.watch_ids) {
      out->push_back(*o.body);
      out->back().set_watch_id(id);
    }
  }
  return open;
}

void WatchSink::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
  cv_.SignalAll();
}

void WatchHub::Add(WatchSink* sink, int64_t watch_id, const Spec& spec) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<Entry>& slot = watches_[sink][watch_id];
  if (slot != nullptr) UnindexLocked(slot.get());
  slot = std::make_unique<Entry>(Entry{sink, watch_id, spec, KindOf(spec)});
  switch (slot->kind) {
    case Kind::kKey:
      by_key_[spec.key].push_back(slot.get());
      break;
    case Kind::kPrefix:
      by_prefix_[spec.key].push_back(slot.get());
      ++prefix_lengths_[spec.key.size()];
      break;
    case Kind::kRange:
      ranges_.push_back(slot.get());
      break;
  }
}

void WatchHub::UnindexLocked(const Entry* e) {
  auto drop = [e](std::vector<Entry*>& v) {
    auto it = std::find(v.begin(), v.end(), e);
    if (it == v.end()) return;
    *it = v.back();  // order does not matter
    v.pop_back();
  };
  auto drop_from = [&](auto& index) {
    auto it = index.find(e->spec.key);
    if (it == index.end()) return false;
    drop(it->second);
    if (it->second.empty()) index.erase(it);
    return true;
  };
  switch (e->kind) {
    case Kind::kKey:
      drop_from(by_key_);
      break;
    case Kind::kPrefix:
      if (drop_from(by_prefix_)) {
        auto n = prefix_lengths_.find(e->spec.key.size());
        if (n != prefix_lengths_.end() && --n->second == 0) {
          prefix_lengths_.erase(n);
        }
      }
      break;
    case Kind::kRange:
      drop(ranges_);
      break;
  }
}

void WatchHub::Remove(WatchSink* sink, int64_t watch_id) {
  absl::MutexLock l(&mu_);
  auto it = watches_.find(sink);
  if (it == watches_.end()) return;
  auto w = it->second.find(watch_id);
  if (w == it->second.end()) return;
  UnindexLocked(w->second.get());
  it->second.erase(w);
}

void WatchHub::EraseSinkLocked(WatchSink* sink) {
  auto it = watches_.find(sink);
  if (it == watches_.end()) return;
  // One pass over the range list instead of one search per watch.
  std::erase_if(ranges_, [sink](const Entry* e) { return e->sink == sink; });
  for (auto& [id, e] : it->second) {
    if (e->kind != Kind::kRange) UnindexLocked(e.get());
  }
  watches_.erase(it);
}

void WatchHub::RemoveSink(WatchSink* sink) {
  absl::MutexLock l(&mu_);
  EraseSinkLocked(sink);
}

size_t WatchHub::size() {
  absl::MutexLock l(&mu_);
  size_t n = 0;
  for (auto& [sink, ws] : watches_) n += ws.size();
  return n;
}

void WatchHub::CollectLocked(std::string_view key, std::vector<Entry*>* out) {
  auto add = [out](const auto& index, std::string_view k) {
    auto it = index.find(std::string(k));
    if (it != index.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
    }
  };
  add(by_key_, key);
  // A prefix watch matches when its prefix is one of the key's: one lookup
  // per prefix length in use (a handful: every agent's
  // /berth/allocs/<node>/ is about as long as every other's), however many
  // prefix watches there are.
  for (const auto& [len, n] : prefix_lengths_) {
    if (len > key.size()) break;
    add(by_prefix_, key.substr(0, len));
  }
  for (Entry* e : ranges_) {
    if (KeyInRange(key, e->spec.key, e->spec.range_end)) out->push_back(e);
  }
}

namespace {

// Fills `r` with `events[i]` for each i in `indices`.
void FillEvents(const std::vector<lockpb::Event>& events,
                const std::vector<uint32_t>& indices, bool prev_kv,
                int64_t revision, lockpb::WatchResponse* r) {
  r->mutable_header()->set_revision(revision);
  for (uint32_t i : indices) {
    lockpb::Event* out = r->add_events();
    *out = events[i];
    if (!prev_kv) out->clear_prev_kv();
  }
}

std::shared_ptr<const lockpb::WatchResponse> BuildBody(
    const std::vector<lockpb::Event>& events,
    const std::vector<uint32_t>& indices, bool prev_kv, int64_t revision) {
  auto r = std::make_shared<lockpb::WatchResponse>();
  FillEvents(events, indices, prev_kv, revision, r.get());
  return r;
}

}  // namespace

void WatchHub::Publish(const std::vector<lockpb::Event>& events,
                       int64_t revision) {
  if (events.empty()) return;
  absl::MutexLock l(&mu_);
  // (watch, event index) for every match, then grouped per watch with its
  // events in order.
  std::vector<std::pair<Entry*, uint32_t>> hits;
  std::vector<Entry*> candidates;
  for (uint32_t i = 0; i < events.size(); ++i) {
    candidates.clear();
    CollectLocked(events[i].kv().key(), &candidates);
    for (Entry* e : candidates) {
      if (events[i].kv().mod_revision() < e->spec.start_revision) continue;
      hits.emplace_back(e, i);
    }
  }
  if (hits.empty()) return;
  std::stable_sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });

  // Watches that match the same events with the same prev_kv choice get the
  // same body; most fan-outs need only one or two.
  struct Body {
    bool prev_kv;
    std::vector<uint32_t> indices;
    std::shared_ptr<const lockpb::WatchResponse> response;
  };
  std::vector<Body> bodies;
  std::map<WatchSink*, std::vector<Outbound>> per_sink;
  std::vector<uint32_t> indices;
  for (size_t h = 0; h < hits.size();) {
    Entry* e = hits[h].first;
    indices.clear();
    for (; h < hits.size() && hits[h].first == e; ++h) {
      indices.push_back(hits[h].second);
    }
    const bool prev_kv = e->spec.prev_kv;
    auto b = std::find_if(bodies.begin(), bodies.end(), [&](const Body& x) {
      return x.prev_kv == prev_kv && x.indices == indices;
    });
    if (b == bodies.end()) {
      bodies.push_back(Body{prev_kv, indices,
                            BuildBody(events, indices, prev_kv, revision)});
      b = bodies.end() - 1;
    }
    std::vector<Outbound>& out = per_sink[e->sink];
    auto o = std::find_if(out.begin(), out.end(), [&](const Outbound& x) {
      return x.body == b->response;
    });
    if (o == out.end()) {
      out.push_back(Outbound{b->response, {}});
      o = out.end() - 1;
    }
    o->watch_ids.push_back(e->watch_id);
  }

  std::vector<WatchSink*> slow;
  for (auto& [sink, out] : per_sink) {
    if (!sink->Push(&out)) slow.push_back(sink);
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
  const Spec& spec = w->second->spec;
  // History may exceed the live queue bound; send it in slices that each
  // get queued as control messages so a long catch-up is not mistaken for a
  // slow consumer.
  const size_t kSlice = 1000;
  std::vector<uint32_t> indices;
  for (size_t i = 0; i < events.size(); i += kSlice) {
    indices.clear();
    for (size_t j = i; j < std::min(events.size(), i + kSlice); ++j) {
      const lockpb::KeyValue& kv = events[j].kv();
      if (!KeyInRange(kv.key(), spec.key, spec.range_end)) continue;
      if (kv.mod_revision() < spec.start_revision) continue;
      indices.push_back(static_cast<uint32_t>(j));
    }
    if (indices.empty()) continue;
    lockpb::WatchResponse r;
    FillEvents(events, indices, spec.prev_kv, revision, &r);
    r.set_watch_id(watch_id);
    sink->PushControl(std::move(r));
  }
  return true;
}

std::vector<WatchHub::Registration> WatchHub::Registrations() {
  absl::MutexLock l(&mu_);
  std::vector<Registration> out;
  for (const auto& [sink, ids] : watches_) {
    for (const auto& [id, entry] : ids) {
      out.push_back(Registration{sink, id, entry->spec});
    }
  }
  return out;
}

void WatchHub::Cancel(WatchSink* sink, int64_t watch_id,
                      const std::string& reason, int64_t compact_revision,
                      int64_t revision) {
  absl::MutexLock l(&mu_);
  auto it = watches_.find(sink);
  if (it == watches_.end()) return;
  auto w = it->second.find(watch_id);
  if (w == it->second.end()) return;
  lockpb::WatchResponse r;
  r.set_watch_id(watch_id);
  r.set_canceled(true);
  r.set_compact_revision(compact_revision);
  r.mutable_header()->set_revision(revision);
  r.set_cancel_reason(reason);
  sink->PushControl(std::move(r));
  UnindexLocked(w->second.get());
  it->second.erase(w);
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
  EraseSinkLocked(sink);
}

}  // namespace berth::lockd
