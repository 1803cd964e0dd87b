// Placement of unplaced allocations: one snapshot per pass, updated after
// every job's placements so the next job sees the space already taken.
// Jobs go highest priority first; each job's pending allocations are placed
// in one Place call.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "scheduler/placement/placement.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"

namespace berth::sched::reconcile_internal {
namespace {

void AddUse(jobpb::Node* n, const jobpb::Allocation& a, int sign) {
  jobpb::Resources* r = n->mutable_allocated();
  r->set_cpu_millicores(r->cpu_millicores() +
                        sign * a.resources().cpu_millicores());
  r->set_memory_bytes(r->memory_bytes() + sign * a.resources().memory_bytes());
  r->set_pids(r->pids() + sign * a.resources().pids());
  for (const auto& p : a.ports()) {
    if (sign > 0) {
      n->add_used_ports(p.port());
    } else {
      auto* used = n->mutable_used_ports();
      auto it = std::find(used->begin(), used->end(), p.port());
      if (it != used->end()) used->erase(it);
    }
  }
}

}  // namespace

void PlacePending(PlanBuilder& b) {
  std::vector<std::string> pending = b.Pending();
  if (pending.empty()) return;

  // Snapshot: registered nodes, charged with every live placed allocation
  // (stopping ones still hold their resources until they are gone).
  ClusterSnapshot snap;
  std::map<std::string, size_t> index;
  for (const auto& [name, info] : b.state().nodes()) {
    index[name] = snap.nodes.size();
    snap.nodes.push_back(ToNode(info, b.state().draining().count(name) > 0));
  }
  auto charge = [&](const jobpb::Allocation& a) {
    auto it = index.find(a.node());
    if (it == index.end()) return;
    AddUse(&snap.nodes[it->second], a, +1);
    if (WantsRun(a)) snap.allocations.push_back(a);
  };
  for (const auto& [id, v] : b.state().allocs()) {
    const jobpb::Allocation* a = b.Get(id);
    if (a && IsLive(*a) && !a->node().empty()) charge(*a);
  }

  // Group by job; highest priority first.
  std::map<JobId, std::vector<std::string>> by_job;
  for (const std::string& id : pending) {
    const jobpb::Allocation* a = b.Get(id);
    if (a->not_before_unix_ms() > b.now_ms()) {
      b.WakeAt(absl::FromUnixMillis(a->not_before_unix_ms()));
      continue;
    }
    by_job[{a->namespace_(), a->job()}].push_back(id);
  }
  std::vector<std::pair<int32_t, JobId>> order;
  for (const auto& [job, ids] : by_job) {
    order.push_back({b.Get(ids.front())->priority(), job});
  }
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });

  for (const auto& [priority, job] : order) {
    const jobpb::JobRecord* rec = b.state().FindJob(job);
    if (rec == nullptr) continue;
    const std::vector<std::string>& ids = by_job[job];
    PlacementRequest req =
        PlacementRequest::ForJob(rec->job(), static_cast<int32_t>(ids.size()));
    std::set<std::string> avoid;
    for (const std::string& id : ids) {
      for (const std::string& n : b.Get(id)->failed_nodes()) avoid.insert(n);
    }
    // Avoiding every node would leave nothing: then allow them again.
    if (avoid.size() < snap.nodes.size()) {
      req.avoid_nodes.assign(avoid.begin(), avoid.end());
    }
    absl::StatusOr<PlacementResult> res = Place(snap, req);
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
          auto vi = index.find(victim->node());
          if (vi != index.end()) AddUse(&snap.nodes[vi->second], *victim, -1);
          snap.allocations.erase(
              std::remove_if(snap.allocations.begin(), snap.allocations.end(),
                             [&](const jobpb::Allocation& x) {
                               return x.id() == victim_id;
                             }),
              snap.allocations.end());
        }
        charge(*a);
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
    // Room may free up without any event we watch (a task exiting does
    // produce one, but a retry later is cheap insurance).
    b.WakeAt(b.now() + absl::Seconds(5));
  }
}

}  // namespace berth::sched::reconcile_internal
