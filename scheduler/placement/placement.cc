#include "scheduler/placement/placement.h"

#include <algorithm>
#include <numeric>
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

// FNV-1a: a stable hash, so a job's sample is the same on every build and
// machine (tests and reruns reproduce it).
uint64_t StableHash(std::string_view a, std::string_view b) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(a);
  mix(b);
  return h;
}

absl::Status ValidateRequest(const PlacementRequest& req) {
  const jobpb::Resources& r = req.resources;
  if (r.cpu_millicores() < 0 || r.memory_bytes() < 0 || r.pids() < 0 ||
      req.port_count < 0 || req.count < 0 || req.sample_nodes < 0) {
    return absl::InvalidArgumentError(
        "placement request has a negative resource, port, allocation or "
        "sample count");
  }
  for (const jobpb::Constraint& c : req.constraints) {
    if (absl::Status s = placement_internal::ValidateConstraint(c); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// The working state of one Place call. Node states are built lazily, the
// first time a walk (or the preemption/explanation fallback) visits a node.
class Placer {
 public:
  Placer(const SnapshotView& view, const PlacementRequest& req)
      : view_(view),
        req_(req),
        filters_(req),
        n_(static_cast<int>(view.nodes.size())),
        nodes_(n_),
        static_ok_(n_, -1),
        visited_(n_, false) {
    uint64_t h = StableHash(req.namespace_, req.job);
    if (n_ > 0) {
      start_ = h % n_;
      // Any stride coprime with n walks every node exactly once.
      stride_ = 1 + (h >> 32) % n_;
      while (std::gcd<uint64_t, uint64_t>(stride_, n_) != 1) {
        stride_ = stride_ % n_ + 1;
      }
    }
  }

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

  NodeState& State(int i);
  bool StaticOk(int i);
  // Visits node i (once); a feasible node joins the heap. True if it did.
  bool Visit(int i);
  // Adds up to `want` feasible nodes to the heap from the walks; every
  // node when not sampling.
  void Grow(int64_t want);
  bool AllVisited() const { return visited_count_ == n_; }
  void Push(int i);
  Key KeyOf(int i) const;
  void Take(int i, Placement& p);
  // The node an eviction made room on, or -1.
  int PreemptOne(Placement& p);
  void Explain(PlacementResult& r);

  const SnapshotView& view_;
  const PlacementRequest& req_;
  FilterSet filters_;
  const int n_;
  std::vector<NodeState> nodes_;
  std::vector<int8_t> static_ok_;  // -1 not yet evaluated
  std::vector<bool> visited_;
  int visited_count_ = 0;
  int ordered_pos_ = 0;     // next position of the utilization-ordered walk
  int64_t random_pos_ = 0;  // steps taken by the pseudo-random walk
  uint64_t start_ = 0;
  uint64_t stride_ = 1;
  std::vector<Key> heap_;
  // Running allocations per node index (for preemption), fetched lazily.
  absl::flat_hash_map<int, std::vector<const jobpb::Allocation*>> allocs_on_;
  absl::flat_hash_set<std::string> evicted_;
};

NodeState& Placer::State(int i) {
  NodeState& n = nodes_[i];
  if (n.node == nullptr) {
    n = placement_internal::MakeNodeState(*view_.nodes[i]);
    auto it = view_.job_allocs.find(n.node->name());
    if (it != view_.job_allocs.end()) n.job_allocs = it->second;
  }
  return n;
}

bool Placer::StaticOk(int i) {
  if (static_ok_[i] < 0) {
    static_ok_[i] = !filters_.StaticReason(*view_.nodes[i]).has_value();
  }
  return static_ok_[i] > 0;
}

void Placer::Push(int i) {
  heap_.push_back(KeyOf(i));
  std::push_heap(heap_.begin(), heap_.end(), KeyGreater{&nodes_});
}

bool Placer::Visit(int i) {
  if (visited_[i]) return false;
  visited_[i] = true;
  ++visited_count_;
  State(i);
  if (!StaticOk(i) || filters_.ResourceReason(nodes_[i]) != nullptr) {
    return false;
  }
  Push(i);
  return true;
}

void Placer::Grow(int64_t want) {
  if (req_.sample_nodes == 0) {
    for (int i = 0; i < n_; ++i) Visit(i);
    return;
  }
  // Half from the utilization order (when given), the rest pseudo-random.
  int64_t ordered_want = view_.by_utilization ? (want + 1) / 2 : 0;
  int64_t added = 0;
  auto ordered_step = [&] {
    int k = ordered_pos_++;
    int i = req_.mode == jobpb::BINPACK ? k : n_ - 1 - k;
    added += Visit(i);
  };
  auto random_step = [&] {
    int i = static_cast<int>((start_ + random_pos_++ * stride_) % n_);
    added += Visit(i);
  };
  while (added < ordered_want && ordered_pos_ < n_) ordered_step();
  while (added < want && !AllVisited()) {
    if (random_pos_ >= n_) break;  // the walk covered every node
    random_step();
  }
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

int Placer::PreemptOne(Placement& p) {
  if (!view_.allocs_on) return -1;
  struct Best {
    int node = -1;
    std::vector<const jobpb::Allocation*> victims;
    int32_t max_priority = 0;
    int64_t total_size = 0;
  } best;
  for (int i = 0; i < n_; ++i) {
    if (!StaticOk(i) || filters_.ResourceReason(State(i)) == nullptr) {
      continue;
    }
    const NodeState& n = nodes_[i];
    const jobpb::Resources& cap = n.node->capacity();
    auto on = allocs_on_.find(i);
    if (on == allocs_on_.end()) {
      on = allocs_on_.emplace(i, view_.allocs_on(n.node->name())).first;
    }
    std::vector<VictimCandidate> cands;
    std::vector<const jobpb::Allocation*> allocs;
    for (const jobpb::Allocation* a : on->second) {
      if (!IsRunning(*a) || evicted_.contains(a->id()) ||
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
      best.node = i;
      best.victims.clear();
      for (int c : *chosen) best.victims.push_back(allocs[c]);
      best.max_priority = max_prio;
      best.total_size = size;
    }
  }
  if (best.node < 0) return -1;
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
  return best.node;
}

void Placer::Explain(PlacementResult& r) {
  if (n_ == 0) {
    r.explanation = "no nodes in the cluster";
    return;
  }
  // Every node is counted, sampled or not: Place explains only after its
  // walks have visited them all.
  for (int i = 0; i < n_; ++i) {
    std::optional<std::string> why = filters_.StaticReason(*view_.nodes[i]);
    if (!why) {
      const char* res = filters_.ResourceReason(State(i));
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
  if (absl::Status s = ValidateRequest(req_); !s.ok()) return s;
  // A binary heap of feasible candidates: O(log pool) per pick, and only
  // the node just used changes its key.
  Grow(int64_t{req_.sample_nodes} + req_.count);
  KeyGreater worse{&nodes_};
  PlacementResult result;
  while (static_cast<int32_t>(result.placements.size()) < req_.count) {
    if (heap_.empty() && !AllVisited()) {
      int64_t left =
          req_.count - static_cast<int64_t>(result.placements.size());
      Grow(std::max<int64_t>(req_.sample_nodes, left));
      continue;
    }
    Placement p;
    if (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), worse);
      int i = heap_.back().index;
      heap_.pop_back();
      Take(i, p);
      if (filters_.ResourceReason(nodes_[i]) == nullptr) Push(i);
    } else if (!req_.allow_preemption) {
      break;
    } else if (int i = PreemptOne(p); i < 0) {
      break;
    } else {
      // Eviction may leave the node with room for more of this job.
      if (filters_.ResourceReason(nodes_[i]) == nullptr) Push(i);
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
  if (absl::Status s = ValidateRequest(req); !s.ok()) return s;
  SnapshotView view;
  absl::flat_hash_set<std::string_view> names;
  for (const jobpb::Node& n : snap.nodes) {
    if (!names.insert(n.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot lists node \"", n.name(), "\" twice"));
    }
    view.nodes.push_back(&n);
  }
  // The sample's walk depends on node order; name order makes the result
  // independent of the snapshot's.
  if (req.sample_nodes > 0) {
    std::sort(view.nodes.begin(), view.nodes.end(),
              [](const jobpb::Node* a, const jobpb::Node* b) {
                return a->name() < b->name();
              });
  }
  absl::flat_hash_map<std::string, std::vector<const jobpb::Allocation*>> on;
  for (const jobpb::Allocation& a : snap.allocations) {
    if (!names.contains(a.node()) || !IsRunning(a)) continue;
    on[a.node()].push_back(&a);
    if (a.job() == req.job && a.namespace_() == req.namespace_) {
      view.job_allocs[a.node()]++;
    }
  }
  view.allocs_on = [&on](const std::string& node) {
    auto it = on.find(node);
    return it == on.end() ? std::vector<const jobpb::Allocation*>()
                          : it->second;
  };
  return Placer(view, req).Run();
}

absl::StatusOr<PlacementResult> PlaceView(const SnapshotView& view,
                                          const PlacementRequest& req) {
  return Placer(view, req).Run();
}

}  // namespace berth::sched
