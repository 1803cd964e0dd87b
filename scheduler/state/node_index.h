// NodeIndex: every node the mirror knows, with its free resources kept
// current as allocations are placed, stopped, finished, evicted or
// forgotten, so a placement pass starts from the index instead of
// re-charging every allocation in the cluster.
//
// A node's entry is its registration (capacity, labels, port range), its
// drain flag, and the sum of the allocations that hold resources on it: a
// live allocation (no outcome yet) with a node holds them until the
// reconciler records its outcome, whatever its desired state, because a
// stopping task still runs. Charges survive the node's registration going
// away and coming back (an agent restart), and an entry is dropped only when
// it is neither registered nor charged.
//
// Thread safety: not thread-safe; owned by ClusterState.
#ifndef BERTH_SCHEDULER_STATE_NODE_INDEX_H_
#define BERTH_SCHEDULER_STATE_NODE_INDEX_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proto/agent.pb.h"
#include "proto/job.pb.h"

namespace berth::sched {

// The allocation holds resources on a.node() (see above).
inline bool HoldsResources(const jobpb::Allocation& a) {
  return !a.node().empty() &&
         a.outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED;
}

// The scheduler's node model from an agent's registration; `allocated`
// and ports are left empty.
jobpb::Node NodeFromInfo(const agentpb::NodeInfo& info, bool draining);

// Adds (sign +1) or removes (-1) the allocation's resources and ports on
// `node`.
void ChargeNode(jobpb::Node* node, const jobpb::Allocation& a, int sign);

class NodeIndex {
 public:
  struct Entry {
    bool registered = false;
    // Registration fields plus `allocated`, `used_ports` and `draining`.
    jobpb::Node node;
    // Ids of the allocations charged here.
    std::set<std::string> allocs;
  };

  void PutNode(const agentpb::NodeInfo& info);
  void RemoveNode(const std::string& name);
  void SetDraining(const std::string& name, bool draining);
  void Charge(const std::string& id, const jobpb::Allocation& a);
  // Returns true when the allocation was charged (capacity was freed).
  bool Release(const std::string& id, const jobpb::Allocation& a);

  // Registered nodes, most utilized first, ties by name (binpack's order;
  // spread reads it backwards). Utilization is the sum of the allocated
  // cpu and memory fractions. Pointers live until the next change.
  std::vector<const jobpb::Node*> ByUtilization() const;
  const Entry* Find(const std::string& name) const;
  size_t registered_count() const { return registered_; }

 private:
  int64_t Utilization(const jobpb::Node& n) const;
  void Unrank(const Entry& e);
  void Rank(const Entry& e);
  void DropIfUnused(std::map<std::string, Entry>::iterator it);

  std::map<std::string, Entry> entries_;
  // Registered nodes by (utilization, name).
  std::map<std::pair<int64_t, std::string>, const jobpb::Node*> by_util_;
  std::set<std::string> draining_;
  size_t registered_ = 0;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_NODE_INDEX_H_
