// berth node drain / undrain: the drain record in lockd. The reconciler
// (scheduler/reconcile/drain.cc) does the moving; this only validates and
// stores what it reads, so a new leader carries on with the same drain.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/server/node_drain.h"
#include "scheduler/server/scheduler.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

absl::Status UnknownNode(const std::string& node) {
  return absl::NotFoundError(absl::StrCat(
      "unknown node \"", node,
      "\" (no agent by that name is registered; see berth node list)"));
}

}  // namespace

absl::StatusOr<schedpb::DrainNodeResponse> Scheduler::DrainNode(
    const schedpb::DrainNodeRequest& req) {
  const std::string& node = req.node();
  if (node.empty()) {
    return absl::InvalidArgumentError("a node name is required");
  }
  if (req.deadline_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("deadline must not be negative (got ", req.deadline_ms(),
                     " ms; 0 means no deadline)"));
  }
  const absl::Time now = opts_.clock->Now();
  StoreTxn txn;
  schedpb::DrainNodeResponse resp;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) return NotLeaderLocked();
    const bool known = state_.nodes().count(node) > 0;
    const jobpb::NodeDrain* current = state_.FindDrain(node);
    if (!known && current == nullptr) return UnknownNode(node);
    if (req.enable()) {
      // A node that is gone cannot be drained: its allocations are lost
      // and rescheduled anyway.
      if (!known) return UnknownNode(node);
      jobpb::NodeDrain d;
      d.set_start_unix_ms(current != nullptr ? current->start_unix_ms()
                                             : absl::ToUnixMillis(now));
      if (req.deadline_ms() > 0) {
        d.set_deadline_unix_ms(absl::ToUnixMillis(now) + req.deadline_ms());
      }
      d.set_ignore_batch(req.ignore_batch());
      txn.ops.push_back(StoreOp::Put(DrainKey(node), d.SerializeAsString()));
      *resp.mutable_drain() = d;
      resp.set_message(current != nullptr
                           ? absl::StrCat("node ", node, ": drain updated")
                           : absl::StrCat("node ", node, " is draining"));
    } else {
      if (current == nullptr) {
        resp.set_message(absl::StrCat("node ", node, " was not draining"));
        return resp;
      }
      txn.ops.push_back(StoreOp::Delete(DrainKey(node)));
      resp.set_message(absl::StrCat("node ", node,
                                    " is no longer draining; new "
                                    "allocations may be placed on it"));
    }
  }
  if (absl::Status s = CommitOne(txn); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  kick_ = true;
  return resp;
}

void FillDrainViews(const ClusterState& state,
                    schedpb::ListNodesResponse* resp) {
  std::map<std::string, schedpb::NodeView*> draining;
  for (schedpb::NodeView& v : *resp->mutable_nodes()) {
    const jobpb::NodeDrain* d = state.FindDrain(v.info().name());
    if (d == nullptr) continue;
    *v.mutable_drain() = *d;
    draining[v.info().name()] = &v;
  }
  // One pass over the allocations serves every draining node.
  if (draining.empty()) return;
  for (const auto& [id, rec] : state.allocs()) {
    const jobpb::Allocation& a = rec.value;
    auto it = draining.find(a.node());
    if (it == draining.end() || !IsLive(a)) continue;
    if (it->second->drain().ignore_batch() && WantsRun(a)) {
      const jobpb::JobRecord* job = state.FindJob({a.namespace_(), a.job()});
      if (a.cron_tick_unix() > 0 ||
          (job != nullptr && job->job().kind() != jobpb::SERVICE)) {
        continue;  // the drain leaves it to finish
      }
    }
    it->second->set_drain_remaining(it->second->drain_remaining() + 1);
  }
}

}  // namespace berth::sched
