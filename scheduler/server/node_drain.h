// What `berth node list` and `berth node drain` show about a drain: the
// stored record and how many allocations it still has to move.
//
// Thread safety: pure function of the mirror; the caller holds its lock.
#ifndef BERTH_SCHEDULER_SERVER_NODE_DRAIN_H_
#define BERTH_SCHEDULER_SERVER_NODE_DRAIN_H_

#include "proto/scheduler.pb.h"
#include "scheduler/state/cluster_state.h"

namespace berth::sched {

// Sets drain and drain_remaining on the views of draining nodes.
void FillDrainViews(const ClusterState& state,
                    schedpb::ListNodesResponse* resp);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_NODE_DRAIN_H_
