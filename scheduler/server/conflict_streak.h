// ConflictStreak: decides when a leader's mirror of /berth/ should be
// reloaded because its fenced commits keep losing their compare.
//
// A commit refused as "a record changed concurrently" is normal once: the
// mirror catches up through its watch and the next pass plans again. A
// streak of them means the mirror and lockd disagree and will go on
// disagreeing (an event the watch never delivered, or another cluster
// answering at our address), and every pass plans the same losing
// transaction. Reloading is the only way out of that.
//
// Thread safety: none; the leader loop owns it.
#ifndef BERTH_SCHEDULER_SERVER_CONFLICT_STREAK_H_
#define BERTH_SCHEDULER_SERVER_CONFLICT_STREAK_H_

#include "absl/status/status.h"

namespace berth::sched {

class ConflictStreak {
 public:
  // Enough that ordinary races (a user's submit landing between plan and
  // commit, several passes in a row) never trigger a reload of what can
  // be 100,000 allocations.
  static constexpr int kDefaultLimit = 10;

  explicit ConflictStreak(int limit = kDefaultLimit) : limit_(limit) {}

  // Feeds one commit's outcome; true when the mirror should be reloaded
  // now (the streak then starts over). Outcomes that say nothing about the
  // mirror (unavailable, deadline) neither extend nor end the streak.
  bool Record(const absl::Status& commit) {
    if (commit.ok()) {
      streak_ = 0;
    } else if (absl::IsAborted(commit) && ++streak_ >= limit_) {
      streak_ = 0;
      return true;
    }
    return false;
  }

  int streak() const { return streak_; }

 private:
  const int limit_;
  int streak_ = 0;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_CONFLICT_STREAK_H_
