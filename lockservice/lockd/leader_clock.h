// LeaderClock: the time a leader stamps on its commands and expires leases
// by, anchored once per term and then carried forward on the monotonic clock.
//
// The state machine has no clock of its own: each command carries its
// leader's time, and the state machine's clock is the highest time applied
// so far (never backwards). Lease deadlines are stored on that clock. If
// the leader stamped its raw wall clock, one step of it would leak into
// every lease: a leader 60 s ahead stores deadlines 60 s late; after its
// clock steps back, or after another replica takes over, those leases
// outlive their holders by the step (found by the nemesis clock-skew fault:
// a killed scheduler's election key lived 36-47 s instead of 2 s). A
// forward step in the middle of a term would do the opposite and expire
// leases whose holders have had no chance to renew with this leader.
//
// So within a term the leader's time is
//     anchor + (monotonic now - monotonic at anchor),
// where anchor = max(wall clock, state machine clock) at the term's first
// use. Consequences:
//  * a wall-clock step during a term changes nothing the term decides;
//  * the anchor is never behind the state machine's clock, so the new
//    leader's stamps move that clock forward at once, and every stored
//    deadline (at most its writer's time + TTL, which is at most the state
//    machine's clock + TTL) is at most anchor + TTL: no stored deadline can
//    outlast the new leader's own TTL-plus-grace floor (EffectiveDeadline);
//  * the cost: if a replica with a clock ahead wins an election, the
//    cluster's time stays ahead by that much (the state machine's clock
//    never goes back). It does not accumulate: the next anchor is the
//    larger of the two, not their sum. Only timestamps shown to people and
//    time-based compaction retention see it.
//
// Thread safety: thread-safe. Borrows the Clock, which must outlive it.
#ifndef BERTH_LOCKSERVICE_LOCKD_LEADER_CLOCK_H_
#define BERTH_LOCKSERVICE_LOCKD_LEADER_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace berth::lockd {

class LeaderClock {
 public:
  explicit LeaderClock(Clock* clock) : clock_(clock) {}

  // Leader time (Unix ms) in `term`. The first call for a term newer than
  // any seen anchors it; `state_machine_now_ms` is called only then (so it
  // may take the store's lock; it is called without this clock's). A call
  // for an older term gets the current term's time: its command cannot
  // commit anyway.
  int64_t NowMs(uint64_t term,
                absl::FunctionRef<int64_t()> state_machine_now_ms);

 private:
  int64_t NowLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  mutable absl::Mutex mu_;
  uint64_t term_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t anchor_ms_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time anchor_monotonic_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_LEADER_CLOCK_H_
