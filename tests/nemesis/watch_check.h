// Watch checker: judges what resuming watchers delivered against what the
// writer knows it wrote, with no knowledge of lockd's code. Every write
// carries a unique value, so an event names its write.
//
// For each watcher, over the revisions it was responsible for (after its
// start revision, up to the last acknowledged write, minus any range the
// server told it was compacted away):
//   - events arrive in strictly increasing revision order (no repeats);
//   - every acknowledged write is delivered exactly once, with the key,
//     value and revision the writer was told;
//   - a write whose outcome was unknown is delivered at most once;
//   - nothing else is delivered (no phantom writes).
#ifndef BERTH_TESTS_NEMESIS_WATCH_CHECK_H_
#define BERTH_TESTS_NEMESIS_WATCH_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

namespace berth::nemesis {

struct WrittenValue {
  std::string key;
  std::string value;     // unique per write
  int64_t revision = 0;  // 0 when the outcome is unknown
};

struct SeenEvent {
  std::string key;
  std::string value;
  int64_t revision = 0;
};

struct WatcherLog {
  int64_t start_revision = 0;  // first revision it asked for
  std::vector<SeenEvent> events;
  // Revision ranges [from, to) the server reported compacted while the
  // watcher was behind; the watcher restarted at `to`.
  std::vector<std::pair<int64_t, int64_t>> compacted;
};

struct WatchVerdict {
  int64_t acked_checked = 0;  // acked writes some watcher was responsible for
  int64_t excused = 0;        // acked writes inside a compacted range
  int64_t unknown_seen = 0;   // unknown writes that did appear
  std::vector<std::string> violations;
};

// `writes`: everything the writer attempted, acknowledged or not.
WatchVerdict CheckWatches(const std::vector<WrittenValue>& writes,
                          const std::vector<WatcherLog>& watchers);

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_WATCH_CHECK_H_
