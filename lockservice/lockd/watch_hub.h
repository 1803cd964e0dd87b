// WatchHub: fans applied events out to watch streams.
//
// A WatchSink is one client stream's outbound queue; each watch on that
// stream is registered here under (sink, watch id) with its key range. A
// stream carries many watch ids (clients multiplex their watches on one
// stream), so the hub queues each distinct response body once per sink
// together with the ids it goes to, and the stream's writer stamps the
// watch id on each copy it sends. Publish runs on the Raft driver thread
// right after an Apply, so it never blocks: it takes each sink's lock once
// per batch and wakes its writer once. A sink that falls more than
// `max_pending` events behind has all its watches cancelled with a reason
// the client sees, instead of stalling replication or silently dropping
// events.
//
// Exact-key watches are indexed by key and prefix watches by prefix, so an
// event costs O(matching watches + distinct prefix lengths + other range
// watches), not O(all watches): 10,000 agents each watching its own
// /berth/allocs/<node>/ cost a few hash lookups per event, not 10,000
// comparisons on the Raft driver thread.
//
// Thread safety: all methods are thread-safe. A sink must be removed
// (RemoveSink) before it is destroyed. Bodies are immutable once queued and
// may be shared between sinks.
#ifndef BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_
#define BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/lock.pb.h"

namespace berth::lockd {

// True if `key` falls in the (key, range_end) range convention of lock.proto.
bool KeyInRange(std::string_view key, std::string_view start,
                std::string_view range_end);

// One response body bound for one or more watches of a stream. The body's
// own watch_id is ignored: each copy sent carries one of `watch_ids`.
struct Outbound {
  std::shared_ptr<const lockpb::WatchResponse> body;
  std::vector<int64_t> watch_ids;

  // Events this item puts on the wire (counts against the sink's bound).
  size_t events() const {
    return static_cast<size_t>(body->events_size()) * watch_ids.size();
  }
};

class WatchSink {
 public:
  explicit WatchSink(size_t max_pending) : max_pending_(max_pending) {}

  // Queues a batch (all of it or none); returns false, and queues nothing,
  // when it would exceed the bound. Wakes the writer once.
  bool Push(std::vector<Outbound>* batch);
  // Queues a response for r.watch_id() even when full (created/canceled
  // notices, history replay).
  void PushControl(lockpb::WatchResponse r);
  // Waits for items or Close(), up to the deadline, and moves all queued
  // items to `out`. Returns false once closed and drained.
  bool PopBatch(std::vector<Outbound>* out, absl::Time deadline);
  // As PopBatch, with one response per watch id (watch_id filled in).
  bool Pop(std::vector<lockpb::WatchResponse>* out, absl::Time deadline);
  void Close();

 private:
  const size_t max_pending_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Outbound> queue_ ABSL_GUARDED_BY(mu_);
  size_t pending_events_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class WatchHub {
 public:
  struct Spec {
    std::string key;
    std::string range_end;
    int64_t start_revision = 0;
    bool prev_kv = false;
  };

  void Add(WatchSink* sink, int64_t watch_id, const Spec& spec);
  void Remove(WatchSink* sink, int64_t watch_id);
  void RemoveSink(WatchSink* sink);

  // Delivers events (all from one revision or one batch of revisions, in
  // order) to every matching watch.
  void Publish(const std::vector<lockpb::Event>& events, int64_t revision);

  // Delivers history to a single watch (used when it starts in the past).
  bool Replay(WatchSink* sink, int64_t watch_id,
              const std::vector<lockpb::Event>& events, int64_t revision);

  // Every registered watch, for delivering what a snapshot install jumped
  // over (the applies it replaces published nothing).
  struct Registration {
    WatchSink* sink;
    int64_t watch_id;
    Spec spec;
  };
  std::vector<Registration> Registrations();

  // Ends one watch with a reason the client sees; a non-zero
  // `compact_revision` says its next events were compacted away before they
  // could be sent, as when a watch starts at a compacted revision.
  void Cancel(WatchSink* sink, int64_t watch_id, const std::string& reason,
              int64_t compact_revision, int64_t revision);

  size_t size();

 private:
  // How a watch is indexed: an exact key, a prefix (range_end is the
  // prefix's end), or any other range (from a key on, or arbitrary).
  enum class Kind { kKey, kPrefix, kRange };
  static Kind KindOf(const Spec& spec);
  struct Entry {
    WatchSink* sink;
    int64_t watch_id;
    Spec spec;
    Kind kind;
  };
  void CancelSinkLocked(WatchSink* sink, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexLocked(const Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseSinkLocked(WatchSink* sink) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CollectLocked(std::string_view key, std::vector<Entry*>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // Owner of every entry: sink -> watch id -> entry.
  std::map<WatchSink*, std::map<int64_t, std::unique_ptr<Entry>>> watches_
      ABSL_GUARDED_BY(mu_);
  // Lookup indexes (borrowed pointers into watches_).
  std::unordered_map<std::string, std::vector<Entry*>> by_key_
      ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::vector<Entry*>> by_prefix_
      ABSL_GUARDED_BY(mu_);
  // Prefix length -> prefix watches of that length (lookups per event).
  std::map<size_t, int> prefix_lengths_ ABSL_GUARDED_BY(mu_);
  std::vector<Entry*> ranges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_
