// Placement: a pure function from a cluster snapshot and a request to the
// nodes that should run new allocations. No clock, no I/O, no hidden
// randomness: the same inputs always give the same result (ties break by
// node name; sampling is seeded from the job's name).
//
// Pipeline per allocation: filter (drain, recently failed, constraints,
// resources, ports) -> score (spread or binpack) -> pick the best. Nodes that
// fail filters are counted per reason so every unplaced allocation comes with
// an explanation. When nothing fits and the job's priority band is higher
// than some running allocations, Place proposes evictions (see preempt.h for
// the band rule).
//
// Sampling (PlacementRequest::sample_nodes > 0, Borg's relaxed
// randomization): instead of scoring every feasible node, one Place call
// gathers a candidate pool of sample_nodes + count feasible nodes and scores
// only those. Half the pool comes from the front of the snapshot's order
// when the caller supplies nodes ordered by utilization (SnapshotView with
// by_utilization: the fullest for binpack, the emptiest for spread), the
// other half from a pseudo-random walk over all nodes seeded from the job's
// namespace and name. When the pool runs out of room it grows by the same
// rule; only when every node has been visited and none fits does Place fall
// back to preemption and explain, so explanations count every node exactly
// as a full scan does. Cost per call: O(pool + count log pool), not O(N).
//
// Thread-safety: Place only reads its arguments; call it from any thread.
// The result owns all of its data.
#ifndef BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_
#define BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/job.pb.h"

namespace berth::sched {

// Dynamic ports come from this range when a node sets none.
inline constexpr int32_t kDefaultPortRangeMin = 20000;
inline constexpr int32_t kDefaultPortRangeMax = 32000;  // exclusive

// The scheduler's pool size beyond the allocations requested: placing
// `count` allocations scores at most kDefaultSampleNodes + count feasible
// nodes until they fill up (docs/architecture.md).
inline constexpr int32_t kDefaultSampleNodes = 64;

struct ClusterSnapshot {
  // Node.allocated and Node.used_ports already include `allocations`.
  std::vector<jobpb::Node> nodes;
  // Allocations believed to be running (desired RUN); used to spread a job
  // and to find preemption victims.
  std::vector<jobpb::Allocation> allocations;
};

// A borrowed snapshot, for callers that keep a node index across calls
// (the reconciler): nothing is copied per node. Everything pointed to must
// outlive the Place call.
struct SnapshotView {
  // Node.allocated and Node.used_ports already current. Names unique.
  std::vector<const jobpb::Node*> nodes;
  // `nodes` are ordered most utilized first (sampling reads the front for
  // binpack and the back for spread).
  bool by_utilization = false;
  // Running allocations of the requested job per node name (spread).
  std::map<std::string, int32_t> job_allocs;
  // Running allocations on a node, for preemption; asked only when nothing
  // fits. Unset: no preemption.
  std::function<std::vector<const jobpb::Allocation*>(const std::string&)>
      allocs_on;
};

struct PlacementRequest {
  std::string job;
  std::string namespace_ = "default";
  int32_t priority = 0;
  jobpb::PlacementMode mode = jobpb::SPREAD;
  jobpb::Resources resources;  // per allocation
  int32_t port_count = 0;      // dynamic ports per allocation
  std::vector<jobpb::Constraint> constraints;
  int32_t count = 1;  // allocations to place
  // Nodes where this job failed recently; never chosen.
  std::vector<std::string> avoid_nodes;
  bool allow_preemption = true;
  // Candidate pool beyond `count` (see Sampling above); 0 scores every
  // feasible node.
  int32_t sample_nodes = 0;

  static PlacementRequest ForJob(const jobpb::Job& job, int32_t count);
};

struct Placement {
  std::string node;
  std::vector<int32_t> ports;  // port_count ports, ascending
  // Allocation ids that must be evicted from `node` first (may be empty).
  std::vector<std::string> preempted;
};

struct PlacementResult {
  std::vector<Placement> placements;  // at most request.count
  int32_t unplaced = 0;
  // Why the last unplaced allocation did not fit, e.g. "3 nodes lacked
  // memory, 2 failed constraint label.zone = a, 1 draining". Empty when
  // everything was placed.
  std::string explanation;
  // The counts behind `explanation`: reason -> number of nodes.
  std::map<std::string, int32_t> reasons;
  // Every allocation id named in placements[*].preempted.
  std::vector<std::string> victims;
};

// InvalidArgument for a malformed request (negative resources or count,
// duplicate node names, an unknown constraint attribute).
absl::StatusOr<PlacementResult> Place(const ClusterSnapshot& snap,
                                      const PlacementRequest& req);
// The same over a borrowed view.
absl::StatusOr<PlacementResult> PlaceView(const SnapshotView& view,
                                          const PlacementRequest& req);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_
