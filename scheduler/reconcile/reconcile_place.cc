// Placement of unplaced allocations of the jobs in the pass's scope.
//
// The cluster view comes from the mirror's node free-resource index (kept
// current across passes), not from charging every allocation again. Nodes
// this pass changes (an outcome recorded, a placement, an eviction) are
// copied on write into a small overlay, so the next job in the pass sees
// the space already taken while the index itself stays the mirror's. Jobs
// go highest priority first; each job's pending allocations are placed in
// one Place call that scores a bounded sample of nodes.
#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "scheduler/placement/placement.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"

namespace berth::sched::reconcile_internal {
namespace {

// The placement view of one pass: the index's nodes with this pass's
// changes laid over them.
class PassView {
 public:
  explicit PassView(const NodeIndex& index) : index_(index) {
    view_.nodes = index.ByUtilization();
    view_.by_utilization = true;
  }

  SnapshotView& view() { return view_; }

  // A private copy of the node to edit, or null if it is not registered.
  jobpb::Node* Edit(const std::string& name) {
    auto it = overlay_.find(name);
    if (it != overlay_.end()) return &it->second;
    const NodeIndex::Entry* e = index_.Find(name);
    if (e == nullptr || !e->registered) return nullptr;
    if (pos_.empty()) {
      pos_.reserve(view_.nodes.size());
      for (size_t i = 0; i < view_.nodes.size(); ++i) {
        pos_[view_.nodes[i]] = i;
      }
    }
    auto p = pos_.find(&e->node);
    if (p == pos_.end()) return nullptr;
    jobpb::Node* copy = &(overlay_[name] = e->node);
    view_.nodes[p->second] = copy;
    return copy;
  }

  void Charge(const jobpb::Allocation& a, int sign) {
    if (jobpb::Node* n = Edit(a.node())) ChargeNode(n, a, sign);
  }

 private:
  const NodeIndex& index_;
  SnapshotView view_;
  std::map<std::string, jobpb::Node> overlay_;  // pointer-stable
  absl::flat_hash_map<const jobpb::Node*, size_t> pos_;
};

}  // namespace

void PlacePending(PlanBuilder& b, const std::vector<JobId>& jobs,
                  const ReconcileOptions& opts) {
  std::vector<std::string> pending = b.Pending(jobs);
  if (pending.empty()) return;

  // Group by job; highest priority first.
  std::map<JobId, std::vector<std::string>> by_job;
  for (const std::string& id : pending) {
    const jobpb::Allocation* a = b.Get(id);
    JobId job{a->namespace_(), a->job()};
    if (a->not_before_unix_ms() > b.now_ms()) {
      b.WakeAt(job, absl::FromUnixMillis(a->not_before_unix_ms()));
      continue;
    }
    by_job[job].push_back(id);
  }
  if (by_job.empty()) return;
  std::vector<std::pair<int32_t, JobId>> order;
  for (const auto& [job, ids] : by_job) {
    order.push_back({b.Get(ids.front())->priority(), job});
  }
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });

  const NodeIndex& index = b.state().node_index();
  PassView pass(index);
  // What this pass already changed about who holds resources (outcomes
  // recorded by Observe): the index still charges those.
  for (const auto& [id, now] : b.changed()) {
    auto m = b.state().allocs().find(id);
    const jobpb::Allocation* old =
        m == b.state().allocs().end() ? nullptr : &m->second.value;
    bool held = old && HoldsResources(*old);
    bool holds = HoldsResources(now);
    if (held && holds && old->node() == now.node()) continue;
    if (held) pass.Charge(*old, -1);
    if (holds) pass.Charge(now, +1);
  }
  // Allocations placed in this pass, per node (preemption candidates).
  std::map<std::string, std::vector<std::string>> placed_on;
  pass.view().allocs_on = [&](const std::string& node) {
    std::vector<const jobpb::Allocation*> out;
    auto consider = [&](const std::string& id) {
      const jobpb::Allocation* a = b.Get(id);
      if (a && IsLive(*a) && WantsRun(*a) && a->node() == node) {
        out.push_back(a);
      }
    };
    if (const NodeIndex::Entry* e = index.Find(node)) {
      for (const std::string& id : e->allocs) consider(id);
    }
    auto it = placed_on.find(node);
    if (it != placed_on.end()) {
      for (const std::string& id : it->second) consider(id);
    }
    return out;
  };

  for (const auto& [priority, job] : order) {
    const jobpb::JobRecord* rec = b.state().FindJob(job);
    if (rec == nullptr) continue;
    const std::vector<std::string>& ids = by_job[job];
    PlacementRequest req =
        PlacementRequest::ForJob(rec->job(), static_cast<int32_t>(ids.size()));
    req.sample_nodes = opts.placement_sample_nodes;
    std::set<std::string> avoid;
    for (const std::string& id : ids) {
      for (const std::string& n : b.Get(id)->failed_nodes()) avoid.insert(n);
    }
    // Avoiding every node would leave nothing: then allow them again.
    if (avoid.size() < index.registered_count()) {
      req.avoid_nodes.assign(avoid.begin(), avoid.end());
    }
    // Spread counts this job's running allocations per node.
    pass.view().job_allocs.clear();
    for (const jobpb::Allocation* a : b.AllocsOf(job)) {
      if (IsLive(*a) && WantsRun(*a) && !a->node().empty()) {
        pass.view().job_allocs[a->node()]++;
      }
    }
    absl::StatusOr<PlacementResult> res = PlaceView(pass.view(), req);
    std::string explanation;
    size_t placed = 0;
    if (!res.ok()) {
      explanation = std::string(res.status().message());
    } else {
      for (const Placement& p : res->placements) {
        jobpb::Allocation* a = b.Mutable(ids[placed]);
        if (a == nullptr) {
          // Created in this pass: edit the pending copy in place.
          jobpb::Allocation copy = *b.Get(ids[placed]);
          b.Create(copy);
          a = b.Mutable(ids[placed]);
        }
        ++placed;
        a->set_node(p.node);
        a->clear_pending_reason();
        a->clear_ports();
        for (int i = 0; i < rec->job().task().ports_size(); ++i) {
          auto* port = a->add_ports();
          port->set_name(rec->job().task().ports(i).name());
          port->set_port(i < static_cast<int>(p.ports.size()) ? p.ports[i] : 0);
        }
        for (const std::string& victim_id : p.preempted) {
          jobpb::Allocation* victim = b.Mutable(victim_id);
          if (victim == nullptr || !WantsRun(*victim)) continue;
          victim->set_desired_state(jobpb::Allocation::EVICT);
          victim->set_stop_reason(absl::StrCat("preempted by ",
                                               JobName(rec->job()),
                                               " (priority ", priority, ")"));
          b.Event({victim->namespace_(), victim->job()}, "preempted",
                  victim->stop_reason(), victim_id);
          // Its room goes to the preemptor now (the evicted task is
          // counted gone for placement, as Place assumed).
          pass.Charge(*victim, -1);
        }
        pass.Charge(*a, +1);
        placed_on[p.node].push_back(a->id());
        b.Log(absl::StrCat("place ", a->id(), " on ", p.node));
      }
      explanation = res->explanation;
    }
    if (placed == ids.size()) continue;
    const jobpb::Allocation* first = b.Get(ids[placed]);
    if (first->pending_reason() != explanation) {
      b.Event(job, "unplaced",
              absl::StrCat(ids.size() - placed, " unplaced: ", explanation));
    }
    for (size_t i = placed; i < ids.size(); ++i) {
      const jobpb::Allocation* a = b.Get(ids[i]);
      if (a->pending_reason() == explanation) continue;
      jobpb::Allocation* m = b.Mutable(ids[i]);
      if (m == nullptr) {
        jobpb::Allocation copy = *a;
        copy.set_pending_reason(explanation);
        b.Create(std::move(copy));
      } else {
        m->set_pending_reason(explanation);
      }
    }
    // Room that frees up dirties this job by itself (the mirror marks jobs
    // with unplaced allocations); a retry later is cheap insurance.
    b.WakeAt(job, b.now() + absl::Seconds(5));
  }
}

}  // namespace berth::sched::reconcile_internal
