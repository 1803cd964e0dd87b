#include "scheduler/state/cluster_state.h"

#include <algorithm>

#include "scheduler/state/keys.h"

namespace berth::sched {

void ClusterState::Reset(const StoreSnapshot& snapshot) {
  *this = ClusterState();
  for (const StoredKV& kv : snapshot.kvs) {
    Put(kv.key, kv.value, kv.mod_revision);
  }
  revision_ = snapshot.revision;
  dirty_ = DirtySet();
  dirty_.MarkAll();
}

void ClusterState::Apply(const StoreEvent& event) {
  if (event.deleted) {
    Delete(event.key, event.revision);
  } else {
    Put(event.key, event.value, event.revision);
  }
  revision_ = std::max(revision_, event.revision);
}

int64_t ClusterState::last_event_seq(const JobId& job) const {
  auto it = event_seq_.find(job);
  return it == event_seq_.end() ? 0 : it->second;
}

const std::set<std::string>& ClusterState::AllocIdsOf(const JobId& job) const {
  static const std::set<std::string>* const kNone = new std::set<std::string>;
  auto it = allocs_by_job_.find(job);
  return it == allocs_by_job_.end() ? *kNone : it->second;
}

std::vector<std::string> ClusterState::AllocsOf(const JobId& job) const {
  const std::set<std::string>& ids = AllocIdsOf(job);
  return {ids.begin(), ids.end()};
}

namespace {

bool IsPending(const jobpb::Allocation& a) {
  return a.node().empty() &&
         a.outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED &&
         a.desired_state() == jobpb::Allocation::RUN;
}

JobId OwnerOf(const jobpb::Allocation& a) { return {a.namespace_(), a.job()}; }

}  // namespace

void ClusterState::Track(const std::string& id, const jobpb::Allocation* old,
                         const jobpb::Allocation* now, int64_t rev) {
  bool freed = false;
  if (old != nullptr) {
    freed = node_index_.Release(id, *old);
    if (IsPending(*old)) {
      auto it = pending_jobs_.find(OwnerOf(*old));
      if (it != pending_jobs_.end() && --it->second <= 0) {
        pending_jobs_.erase(it);
      }
    }
    dirty_.Mark(OwnerOf(*old));
    Touch(OwnerOf(*old), rev);
  }
  if (now != nullptr) {
    node_index_.Charge(id, *now);
    if (IsPending(*now)) ++pending_jobs_[OwnerOf(*now)];
    dirty_.Mark(OwnerOf(*now));
    Touch(OwnerOf(*now), rev);
    // Moving between nodes is not "freed": the same resources are held.
    if (freed && HoldsResources(*now)) freed = false;
  }
  if (freed) MarkPendingJobs();
}

void ClusterState::MarkPendingJobs() {
  for (const auto& [job, unused] : pending_jobs_) dirty_.Mark(job);
}

void ClusterState::MarkJobsOn(const std::string& node) {
  const NodeIndex::Entry* e = node_index_.Find(node);
  if (e == nullptr) return;
  for (const std::string& id : e->allocs) {
    auto it = allocs_.find(id);
    if (it != allocs_.end()) dirty_.Mark(OwnerOf(it->second.value));
  }
}

const jobpb::JobRecord* ClusterState::FindJob(const JobId& job) const {
  const Versioned<jobpb::JobRecord>* v = FindJobRefs(job).record;
  return v == nullptr ? nullptr : &v->value;
}

void ClusterState::Touch(const JobId& job, int64_t rev) {
  if (auto it = by_job_.find(job); it != by_job_.end()) {
    it->second.changed_revision = std::max(it->second.changed_revision, rev);
  }
}

ClusterState::JobRefs ClusterState::FindJobRefs(const JobId& job) const {
  auto it = by_job_.find(job);
  return it == by_job_.end() ? JobRefs() : it->second;
}

void ClusterState::Unindex(const JobId& job, int64_t rev,
                           void (*clear)(JobRefs*)) {
  auto it = by_job_.find(job);
  if (it == by_job_.end()) return;
  clear(&it->second);
  it->second.changed_revision = std::max(it->second.changed_revision, rev);
  const JobRefs& r = it->second;
  if (r.record == nullptr && r.marker == nullptr && r.runs == nullptr) {
    by_job_.erase(it);
  }
}

const agentpb::AllocationStatus* ClusterState::FindStatus(
    const std::string& id) const {
  auto it = statuses_.find(id);
  return it == statuses_.end() ? nullptr : &it->second;
}

const jobpb::NodeDrain* ClusterState::FindDrain(const std::string& node) const {
  auto it = drains_.find(node);
  return it == drains_.end() ? nullptr : &it->second;
}

void ClusterState::Put(const std::string& key, const std::string& value,
                       int64_t rev) {
  KeyRef ref = ParseKey(key);
  JobId job{ref.ns, ref.job};
  auto parse = [&](auto* msg) {
    if (msg->ParseFromString(value)) return true;
    ++corrupt_;
    return false;
  };
  switch (ref.type) {
    case KeyRef::Type::kNamespace:
      namespaces_.insert(ref.ns);
      break;
    case KeyRef::Type::kJob: {
      Versioned<jobpb::JobRecord> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      JobRefs& refs = by_job_[job];
      refs.record = &jobs_.insert_or_assign(job, std::move(v)).first->second;
      refs.changed_revision = std::max(refs.changed_revision, rev);
      dirty_.Mark(job);
      break;
    }
    case KeyRef::Type::kSchedAlloc: {
      Versioned<jobpb::Allocation> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      auto it = allocs_.find(ref.alloc_id);
      if (it != allocs_.end()) {
        Track(ref.alloc_id, &it->second.value, &v.value, rev);
        JobId old_owner = OwnerOf(it->second.value);
        if (old_owner != OwnerOf(v.value)) {
          // Never expected (ids embed the job); keep the by-job map exact.
          auto by = allocs_by_job_.find(old_owner);
          if (by != allocs_by_job_.end()) {
            by->second.erase(ref.alloc_id);
            if (by->second.empty()) allocs_by_job_.erase(by);
          }
        }
      } else {
        Track(ref.alloc_id, nullptr, &v.value, rev);
      }
      allocs_by_job_[OwnerOf(v.value)].insert(ref.alloc_id);
      allocs_[ref.alloc_id] = std::move(v);
      break;
    }
    case KeyRef::Type::kAgentAlloc:
      agent_allocs_[ref.node].insert(ref.alloc_id);
      break;
    case KeyRef::Type::kStatus: {
      agentpb::AllocationStatus s;
      if (!parse(&s)) return;
      statuses_[ref.alloc_id] = std::move(s);
      if (auto it = allocs_.find(ref.alloc_id); it != allocs_.end()) {
        dirty_.Mark(OwnerOf(it->second.value));
        Touch(OwnerOf(it->second.value), rev);
      }
      break;
    }
    case KeyRef::Type::kNode: {
      agentpb::NodeInfo n;
      if (!parse(&n)) return;
      node_index_.PutNode(n);
      nodes_[ref.node] = std::move(n);
      // New or changed capacity: what waited for room may fit now.
      MarkPendingJobs();
      break;
    }
    case KeyRef::Type::kDrain: {
      jobpb::NodeDrain d;
      if (!d.ParseFromString(value)) ++corrupt_;
      drains_[ref.node] = std::move(d);
      draining_.insert(ref.node);
      node_index_.SetDraining(ref.node, true);
      MarkJobsOn(ref.node);
      MarkPendingJobs();
      break;
    }
    case KeyRef::Type::kCronMarker: {
      Versioned<jobpb::CronMarker> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      JobRefs& refs = by_job_[job];
      refs.marker =
          &cron_markers_.insert_or_assign(job, std::move(v)).first->second;
      refs.changed_revision = std::max(refs.changed_revision, rev);
      break;
    }
    case KeyRef::Type::kCronRun: {
      Versioned<jobpb::CronRun> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      auto& runs = cron_runs_[job];
      runs[ref.tick_unix] = std::move(v);
      JobRefs& refs = by_job_[job];
      refs.runs = &runs;
      refs.changed_revision = std::max(refs.changed_revision, rev);
      break;
    }
    case KeyRef::Type::kEvent: {
      jobpb::Event e;
      if (!parse(&e)) return;
      int64_t& seq = event_seq_[job];
      seq = std::max(seq, ref.seq);
      std::vector<jobpb::Event>& list = events_[job];
      list.push_back(std::move(e));
      if (list.size() > kEventsKept) list.erase(list.begin());
      break;
    }
    case KeyRef::Type::kAcl: {
      aclpb::AclGrant g;
      if (!parse(&g)) return;
      const std::vector<std::string> names(g.rights().begin(),
                                           g.rights().end());
      acl_.grants[ref.ns][ref.principal] = AclEntry{KnownRights(names), rev};
      break;
    }
    case KeyRef::Type::kAclConfig: {
      // Fail closed: a config that does not parse still enforces, so a
      // corrupted record cannot switch ACLs off.
      aclpb::AclConfig c;
      if (!c.ParseFromString(value)) {
        ++corrupt_;
        c.set_enabled(true);
      }
      acl_.enabled = c.enabled();
      acl_.changed_by = c.changed_by();
      acl_.changed_unix_ms = c.changed_unix_ms();
      break;
    }
    case KeyRef::Type::kOther:
      break;
  }
}

void ClusterState::DeleteAcl(const std::string& ns,
                             const std::string& principal) {
  auto it = acl_.grants.find(ns);
  if (it == acl_.grants.end()) return;
  it->second.erase(principal);
  if (it->second.empty()) acl_.grants.erase(it);
}

void ClusterState::Delete(const std::string& key, int64_t rev) {
  KeyRef ref = ParseKey(key);
  JobId job{ref.ns, ref.job};
  switch (ref.type) {
    case KeyRef::Type::kNamespace:
      namespaces_.erase(ref.ns);
      break;
    case KeyRef::Type::kJob:
      jobs_.erase(job);
      Unindex(job, rev, [](JobRefs* r) { r->record = nullptr; });
      dirty_.Mark(job);
      break;
    case KeyRef::Type::kSchedAlloc: {
      auto it = allocs_.find(ref.alloc_id);
      if (it == allocs_.end()) return;
      Track(ref.alloc_id, &it->second.value, nullptr, rev);
      JobId owner = OwnerOf(it->second.value);
      auto by = allocs_by_job_.find(owner);
      if (by != allocs_by_job_.end()) {
        by->second.erase(ref.alloc_id);
        if (by->second.empty()) allocs_by_job_.erase(by);
      }
      allocs_.erase(it);
      break;
    }
    case KeyRef::Type::kAgentAlloc: {
      auto it = agent_allocs_.find(ref.node);
      if (it == agent_allocs_.end()) return;
      it->second.erase(ref.alloc_id);
      if (it->second.empty()) agent_allocs_.erase(it);
      break;
    }
    case KeyRef::Type::kStatus:
      statuses_.erase(ref.alloc_id);
      if (auto it = allocs_.find(ref.alloc_id); it != allocs_.end()) {
        dirty_.Mark(OwnerOf(it->second.value));
        Touch(OwnerOf(it->second.value), rev);
      }
      break;
    case KeyRef::Type::kNode:
      nodes_.erase(ref.node);
      node_index_.RemoveNode(ref.node);
      MarkJobsOn(ref.node);  // their allocations are now lost
      break;
    case KeyRef::Type::kDrain:
      draining_.erase(ref.node);
      drains_.erase(ref.node);
      node_index_.SetDraining(ref.node, false);
      MarkJobsOn(ref.node);
      MarkPendingJobs();
      break;
    case KeyRef::Type::kCronMarker:
      cron_markers_.erase(job);
      Unindex(job, rev, [](JobRefs* r) { r->marker = nullptr; });
      break;
    case KeyRef::Type::kCronRun: {
      auto it = cron_runs_.find(job);
      if (it == cron_runs_.end()) return;
      it->second.erase(ref.tick_unix);
      if (it->second.empty()) {
        cron_runs_.erase(it);
        Unindex(job, rev, [](JobRefs* r) { r->runs = nullptr; });
      } else {
        Touch(job, rev);
      }
      break;
    }
    case KeyRef::Type::kEvent:
      // Events are trimmed by the leader's GC; the mirror keeps its bounded
      // list as it is.
      break;
    case KeyRef::Type::kAcl:
      DeleteAcl(ref.ns, ref.principal);
      break;
    case KeyRef::Type::kAclConfig:
      acl_.enabled = false;
      acl_.changed_by.clear();
      acl_.changed_unix_ms = 0;
      break;
    case KeyRef::Type::kOther:
      break;
  }
}

}  // namespace berth::sched
