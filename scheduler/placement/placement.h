// Placement: a pure function from a cluster snapshot and a request to the
// nodes that should run new allocations. No clock, no I/O, no randomness:
// the same inputs always give the same result (ties break by node name).
//
// Pipeline per allocation: filter (drain, recently failed, constraints,
// resources, ports) -> score (spread or binpack) -> pick the best. Nodes that
// fail filters are counted per reason so every unplaced allocation comes with
// an explanation. When nothing fits and the job's priority band is higher
// than some running allocations, Place proposes evictions (see preempt.h for
// the band rule).
//
// Thread-safety: Place only reads its arguments; call it from any thread.
// The result owns all of its data.
#ifndef BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_
#define BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/job.pb.h"

namespace berth::sched {

// Dynamic ports come from this range when a node sets none.
inline constexpr int32_t kDefaultPortRangeMin = 20000;
inline constexpr int32_t kDefaultPortRangeMax = 32000;  // exclusive

struct ClusterSnapshot {
  // Node.allocated and Node.used_ports already include `allocations`.
  std::vector<jobpb::Node> nodes;
  // Allocations believed to be running (desired RUN); used to spread a job
  // and to find preemption victims.
  std::vector<jobpb::Allocation> allocations;
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

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_PLACEMENT_PLACEMENT_H_
