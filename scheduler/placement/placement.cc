#include "scheduler/placement/placement.h"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "scheduler/placement/filter.h"
#include "scheduler/placement/preempt.h"

namespace berth::sched {
namespace {

using placement_internal::FilterSet;
using placement_internal::NodeState;

constexpr int64_t kPpm = 1000000;

int64_t Ppm(int64_t part, int64_t whole) {
  return whole > 0
             ? static_cast<int64_t>(static_cast<__int128>(part) * kPpm / whole)
             : 0;
}

bool IsRunning(const jobpb::Allocation& a) {
  return a.desired_state() == jobpb::Allocation::RUN ||
         a.desired_state() == jobpb::Allocation::DESIRED_UNSPECIFIED;
}

// The working state of one Place call.
class Placer {
 public:
  Placer(const ClusterSnapshot& snap, const PlacementRequest& req)
      : snap_(snap), req_(req), filters_(req) {}

  absl::StatusOr<PlacementResult> Run();

 private:
  // Ordering key of a feasible node: smaller is better.
  struct Key {
    int64_t primary;
    int64_t secondary;
    int index;
  };
  // Heap order: the best (smallest) key sits at the front.
  struct KeyGreater {
    const std::vector<NodeState>* nodes;
    bool operator()(const Key& a, const Key& b) const {
      if (a.primary != b.primary) return a.primary > b.primary;
      if (a.secondary != b.secondary) return a.secondary > b.secondary;
      return (*nodes)[a.index].node->name() > (*nodes)[b.index].node->name();
    }
  };

  absl::Status Validate() const;
  Key KeyOf(int i) const;
  void Take(int i, Placement& p);
  bool PreemptOne(Placement& p);
  void Explain(PlacementResult& r);

  const ClusterSnapshot& snap_;
  const PlacementRequest& req_;
  FilterSet filters_;
  std::vector<NodeState> nodes_;
  std::vector<bool> static_ok_;
  absl::flat_hash_map<std::string_view, int> index_;
  // Running allocations per node index (for preemption).
  std::vector<std::vector<const jobpb::Allocation*>> allocs_on_;
  absl::flat_hash_set<std::string> evicted_;
};

absl::Status Placer::Validate() const {
  const jobpb::Resources& r = req_.resources;
  if (r.cpu_millicores() < 0 || r.memory_bytes() < 0 || r.pids() < 0 ||
      req_.port_count < 0 || req_.count < 0) {
    return absl::InvalidArgumentError(
        "placement request has a negative resource, port or allocation count");
  }
  for (const jobpb::Constraint& c : req_.constraints) {
    if (absl::Status s = placement_internal::ValidateConstraint(c); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

Placer::Key Placer::KeyOf(int i) const {
  const NodeState& n = nodes_[i];
  const jobpb::Resources& cap = n.node->capacity();
  if (req_.mode == jobpb::BINPACK) {
    // Best fit: least free capacity left after placing.
    int64_t left =
        Ppm(n.free_cpu - req_.resources.cpu_millicores(),
            cap.cpu_millicores()) +
        Ppm(n.free_memory - req_.resources.memory_bytes(), cap.memory_bytes());
    return Key{0, left, i};
  }
  int64_t free = Ppm(n.free_cpu, cap.cpu_millicores()) +
                 Ppm(n.free_memory, cap.memory_bytes());
  return Key{n.job_allocs, -free, i};
}

void Placer::Take(int i, Placement& p) {
  NodeState& n = nodes_[i];
  n.free_cpu -= req_.resources.cpu_millicores();
  n.free_memory -= req_.resources.memory_bytes();
  n.free_pids -= req_.resources.pids();
  n.job_allocs++;
  p.node = n.node->name();
  p.ports = placement_internal::AssignPorts(n, req_.port_count);
}

bool Placer::PreemptOne(Placement& p) {
  struct Best {
    int node = -1;
    std::vector<const jobpb::Allocation*> victims;
    int32_t max_priority = 0;
    int64_t total_size = 0;
  } best;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!static_ok_[i] || filters_.ResourceReason(nodes_[i]) == nullptr) {
      continue;
    }
    const NodeState& n = nodes_[i];
    const jobpb::Resources& cap = n.node->capacity();
    std::vector<VictimCandidate> cands;
    std::vector<const jobpb::Allocation*> allocs;
    for (const jobpb::Allocation* a : allocs_on_[i]) {
      if (evicted_.contains(a->id()) ||
          !MayPreempt(req_.priority, a->priority())) {
        continue;
      }
      int64_t ports = 0;
      for (const auto& ap : a->ports()) {
        ports += ap.port() >= n.port_min && ap.port() < n.port_max;
      }
      cands.push_back(VictimCandidate{
          a->id(), a->priority(), a->resources().cpu_millicores(),
          a->resources().memory_bytes(), a->resources().pids(), ports,
          Ppm(a->resources().cpu_millicores(), cap.cpu_millicores()) +
              Ppm(a->resources().memory_bytes(), cap.memory_bytes())});
      allocs.push_back(a);
    }
    if (cands.empty()) continue;
    Shortfall need{req_.resources.cpu_millicores() - n.free_cpu,
                   req_.resources.memory_bytes() - n.free_memory,
                   n.pids_limited ? req_.resources.pids() - n.free_pids : 0,
                   req_.port_count - n.free_ports};
    std::optional<std::vector<int>> chosen = ChooseVictims(cands, need);
    if (!chosen) continue;
    int32_t max_prio = 0;
    int64_t size = 0;
    for (int c : *chosen) {
      max_prio = std::max(max_prio, cands[c].priority);
      size += cands[c].size;
    }
    // Prefer the node whose evictions hurt least: lowest highest-priority
    // victim, then fewest victims, then least evicted capacity, then name.
    auto rank = std::make_tuple(max_prio, chosen->size(), size,
                                std::string_view(n.node->name()));
    auto best_rank = std::make_tuple(
        best.max_priority, best.victims.size(), best.total_size,
        best.node < 0 ? std::string_view()
                      : std::string_view(nodes_[best.node].node->name()));
    if (best.node < 0 || rank < best_rank) {
      best.node = static_cast<int>(i);
      best.victims.clear();
      for (int c : *chosen) best.victims.push_back(allocs[c]);
      best.max_priority = max_prio;
      best.total_size = size;
    }
  }
  if (best.node < 0) return false;
  NodeState& n = nodes_[best.node];
  for (const jobpb::Allocation* a : best.victims) {
    evicted_.insert(a->id());
    n.free_cpu += a->resources().cpu_millicores();
    n.free_memory += a->resources().memory_bytes();
    n.free_pids += a->resources().pids();
    std::vector<int32_t> ports;
    for (const auto& ap : a->ports()) ports.push_back(ap.port());
    placement_internal::ReleasePorts(n, ports);
    p.preempted.push_back(a->id());
  }
  Take(best.node, p);
  return true;
}

void Placer::Explain(PlacementResult& r) {
  if (nodes_.empty()) {
    r.explanation = "no nodes in the cluster";
    return;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::optional<std::string> why = filters_.StaticReason(*nodes_[i].node);
    if (!why) {
      const char* res = filters_.ResourceReason(nodes_[i]);
      why = res ? std::string(res) : std::string("fit but was not chosen");
    }
    r.reasons[*why]++;
  }
  std::vector<std::pair<int32_t, std::string>> sorted;
  for (const auto& [why, n] : r.reasons) sorted.emplace_back(-n, why);
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k) {
    int32_t n = -sorted[k].first;
    if (k == 0) {
      absl::StrAppend(&r.explanation, n, n == 1 ? " node " : " nodes ",
                      sorted[k].second);
    } else {
      absl::StrAppend(&r.explanation, ", ", n, " ", sorted[k].second);
    }
  }
}

absl::StatusOr<PlacementResult> Placer::Run() {
  if (absl::Status s = Validate(); !s.ok()) return s;
  // Snapshot order never matters: every choice breaks ties by node name.
  nodes_.reserve(snap_.nodes.size());
  index_.reserve(snap_.nodes.size());
  for (const jobpb::Node& n : snap_.nodes) {
    if (!index_.try_emplace(n.name(), nodes_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot lists node \"", n.name(), "\" twice"));
    }
    nodes_.push_back(placement_internal::MakeNodeState(n));
  }
  allocs_on_.resize(nodes_.size());
  for (const jobpb::Allocation& a : snap_.allocations) {
    auto it = index_.find(a.node());
    if (it == index_.end() || !IsRunning(a)) continue;
    allocs_on_[it->second].push_back(&a);
    if (a.job() == req_.job && a.namespace_() == req_.namespace_) {
      nodes_[it->second].job_allocs++;
    }
  }

  // A binary heap of feasible nodes: O(N) to build, O(log N) per pick, and
  // only the node just used changes its key.
  KeyGreater worse{&nodes_};
  std::vector<Key> feasible;
  static_ok_.resize(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    static_ok_[i] = !filters_.StaticReason(*nodes_[i].node).has_value();
    if (static_ok_[i] && filters_.ResourceReason(nodes_[i]) == nullptr) {
      feasible.push_back(KeyOf(static_cast<int>(i)));
    }
  }
  std::make_heap(feasible.begin(), feasible.end(), worse);
  auto push = [&](int i) {
    feasible.push_back(KeyOf(i));
    std::push_heap(feasible.begin(), feasible.end(), worse);
  };

  PlacementResult result;
  while (static_cast<int32_t>(result.placements.size()) < req_.count) {
    Placement p;
    if (!feasible.empty()) {
      std::pop_heap(feasible.begin(), feasible.end(), worse);
      int i = feasible.back().index;
      feasible.pop_back();
      Take(i, p);
      if (filters_.ResourceReason(nodes_[i]) == nullptr) push(i);
    } else if (!req_.allow_preemption || !PreemptOne(p)) {
      break;
    } else {
      // Eviction may leave the node with room for more of this job.
      int i = index_[p.node];
      if (filters_.ResourceReason(nodes_[i]) == nullptr) push(i);
      result.victims.insert(result.victims.end(), p.preempted.begin(),
                            p.preempted.end());
    }
    result.placements.push_back(std::move(p));
  }
  result.unplaced = req_.count - static_cast<int32_t>(result.placements.size());
  if (result.unplaced > 0) Explain(result);
  return result;
}

}  // namespace

PlacementRequest PlacementRequest::ForJob(const jobpb::Job& job,
                                          int32_t count) {
  PlacementRequest r;
  r.job = job.name();
  r.namespace_ = job.namespace_();
  r.priority = job.priority();
  r.mode = job.placement();
  r.resources = job.task().resources();
  r.port_count = job.task().ports_size();
  r.constraints.assign(job.constraints().begin(), job.constraints().end());
  r.count = count;
  return r;
}

absl::StatusOr<PlacementResult> Place(const ClusterSnapshot& snap,
                                      const PlacementRequest& req) {
  Placer placer(snap, req);
  return placer.Run();
}

}  // namespace berth::sched
