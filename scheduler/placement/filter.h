// Feasibility checks for placement. Internal to scheduler/placement.
//
// NodeState is the mutable working copy of one node during a single Place
// call; FilterSet evaluates the request's static filters (drain, recently
// failed, constraints) once per node, sharing constraint results between
// nodes that agree on the constrained labels (equivalence classes), and the
// dynamic resource filters against a NodeState. Not thread-safe; one per Place
// call.
#ifndef BERTH_SCHEDULER_PLACEMENT_FILTER_H_
#define BERTH_SCHEDULER_PLACEMENT_FILTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "proto/job.pb.h"
#include "scheduler/placement/placement.h"

namespace berth::sched::placement_internal {

inline constexpr char kDraining[] = "draining";
inline constexpr char kRecentlyFailed[] = "recently failed this job";
inline constexpr char kLackedCpu[] = "lacked cpu";
inline constexpr char kLackedMemory[] = "lacked memory";
inline constexpr char kLackedPids[] = "lacked pids";
inline constexpr char kLackedPorts[] = "lacked free ports";

struct NodeState {
  const jobpb::Node* node = nullptr;  // borrowed from the snapshot
  int64_t free_cpu = 0;
  int64_t free_memory = 0;
  int64_t free_pids = 0;  // meaningful only when pids_limited
  bool pids_limited = false;
  int32_t port_min = 0;
  int32_t port_max = 0;  // exclusive
  int64_t free_ports = 0;
  // Ports taken in the range; filled lazily the first time ports are
  // assigned or released on this node.
  std::optional<absl::flat_hash_set<int32_t>> used_ports;
  int32_t job_allocs = 0;  // allocations of the requested job here
};

NodeState MakeNodeState(const jobpb::Node& node);

// Takes `count` lowest free ports from the node's range.
std::vector<int32_t> AssignPorts(NodeState& n, int32_t count);
void ReleasePorts(NodeState& n, const std::vector<int32_t>& ports);

// "label.zone = a", "label.zone in [a, b]", "label.gpu exists".
std::string DescribeConstraint(const jobpb::Constraint& c);

// Checks a constraint's shape (attribute and value count).
absl::Status ValidateConstraint(const jobpb::Constraint& c);

class FilterSet {
 public:
  explicit FilterSet(const PlacementRequest& req);

  // The first static filter `node` fails ("draining", "recently failed this
  // job", "failed constraint ..."), or nullopt when it passes them all.
  std::optional<std::string> StaticReason(const jobpb::Node& node);

  // The first resource `n` lacks for one allocation, or nullptr if it fits.
  const char* ResourceReason(const NodeState& n) const;

 private:
  // Identifies the node's equivalence class for the label constraints.
  std::string ClassKey(const jobpb::Node& node) const;
  // Index of the first failing label constraint, or -1.
  int EvaluateLabels(const jobpb::Node& node) const;

  const PlacementRequest& req_;
  absl::flat_hash_set<std::string> avoid_;
  std::vector<int> label_constraints_;  // indices into req_.constraints
  std::vector<int> name_constraints_;
  std::vector<std::string> class_labels_;  // label keys constraints mention
  absl::flat_hash_map<std::string, int> class_result_;  // ClassKey -> -1|i
};

}  // namespace berth::sched::placement_internal

#endif  // BERTH_SCHEDULER_PLACEMENT_FILTER_H_
