// WatchHub: fans applied events out to watch streams.
//
// A WatchSink is one client stream's outbound queue; each watch on that
// stream is registered here under (sink, watch id) with its key range.
// Publish runs on the Raft driver thread right after an Apply, so it never
// blocks: a sink that falls more than `max_pending` events behind has all its
// watches cancelled with a reason the client sees, instead of stalling
// replication or silently dropping events.
//
// Thread safety: all methods are thread-safe. A sink must be removed
// (RemoveSink) before it is destroyed.
#ifndef BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_
#define BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/lock.pb.h"

namespace berth::lockd {

// True if `key` falls in the (key, range_end) range convention of lock.proto.
bool KeyInRange(std::string_view key, std::string_view start,
                std::string_view range_end);

class WatchSink {
 public:
  explicit WatchSink(size_t max_pending) : max_pending_(max_pending) {}

  // Queues a response; returns false (and queues nothing) when full.
  bool Push(lockpb::WatchResponse r);
  // Queues a response even when full (created/canceled notices).
  void PushControl(lockpb::WatchResponse r);
  // Waits for responses or Close(), up to the deadline. Returns false once
  // closed and drained.
  bool Pop(std::vector<lockpb::WatchResponse>* out, absl::Time deadline);
  void Close();

 private:
  const size_t max_pending_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<lockpb::WatchResponse> queue_ ABSL_GUARDED_BY(mu_);
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

  size_t size();

 private:
  struct Entry {
    Spec spec;
  };
  void CancelSinkLocked(WatchSink* sink, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<WatchSink*, std::map<int64_t, Entry>> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_WATCH_HUB_H_
