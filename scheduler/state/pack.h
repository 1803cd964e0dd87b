// Packing of atomic changes into as few store transactions as lockd's
// operation limit allows, shared by the scheduler's leader loop and the
// in-process benchmarks.
#ifndef BERTH_SCHEDULER_STATE_PACK_H_
#define BERTH_SCHEDULER_STATE_PACK_H_

#include <cstddef>
#include <vector>

#include "scheduler/state/store.h"

namespace berth::sched {

// Room is left under lockd's 128 for the fence's own comparison.
inline constexpr size_t kOpsPerCommit = 100;

// Concatenates `changes` in order into transactions of at most `max_ops`
// conditions plus operations each; a change is never split.
std::vector<StoreTxn> PackTxns(const std::vector<StoreTxn>& changes,
                               size_t max_ops = kOpsPerCommit);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_PACK_H_
