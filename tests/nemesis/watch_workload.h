// Watch workload: one writer puts unique values on a few keys under
// /nem/watch/ through the client library and records each put as
// acknowledged (with the revision it was told) or unknown; several
// watchers, each with its own lock::Client (so each follows the leader and
// reconnects on its own schedule), watch the prefix from the revision
// before the first write and record every event. A watcher whose start
// revision was compacted away records the gap and restarts at the oldest
// revision still kept. After the faults, Drain waits until every watcher
// has passed the last acknowledged write; watch_check.h judges the logs.
//
// Thread safety: Start/Drain/Stop/Check from one thread.
#ifndef BERTH_TESTS_NEMESIS_WATCH_WORKLOAD_H_
#define BERTH_TESTS_NEMESIS_WATCH_WORKLOAD_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/nemesis/watch_check.h"

namespace berth::nemesis {

struct WatchStats {
  int64_t writes = 0;
  int64_t acked = 0;
  int64_t unknown = 0;
  int64_t events = 0;    // over all watchers
  int64_t restarts = 0;  // after a compaction
};

class WatchWorkload {
 public:
  WatchWorkload(std::vector<std::string> endpoints, int watchers);
  ~WatchWorkload();

  absl::Status Start();
  // Stops the writer, then waits (up to `timeout`) until every watcher has
  // delivered past the last acknowledged write; false if one did not.
  bool Drain(absl::Duration timeout);
  void Stop();
  WatchStats Stats() const;
  WatchVerdict Check() const;
  // Writes watch-history-<i> under `dir`: every event a watcher received and
  // every (re)start with the revision it asked for and why the last ended,
  // each stamped with the time since Start, to line up with the fault log.
  absl::Status WriteHistories(const std::string& dir) const;

 private:
  struct Watcher;
  void Writer();
  void RunWatcher(Watcher* w);

  const std::vector<std::string> endpoints_;
  const int watchers_;
  int64_t start_revision_ = 0;
  absl::Time started_;
  std::atomic<bool> stop_writer_{false};
  std::atomic<bool> stop_watchers_{false};
  std::thread writer_;
  std::vector<std::unique_ptr<Watcher>> watcher_state_;
  std::vector<std::thread> watcher_threads_;
  mutable absl::Mutex mu_;
  std::vector<WrittenValue> writes_ ABSL_GUARDED_BY(mu_);
  int64_t last_acked_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_WATCH_WORKLOAD_H_
