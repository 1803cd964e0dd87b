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
}

void ClusterState::Apply(const StoreEvent& event) {
  if (event.deleted) {
    Delete(event.key);
  } else {
    Put(event.key, event.value, event.revision);
  }
  revision_ = std::max(revision_, event.revision);
}

int64_t ClusterState::last_event_seq(const JobId& job) const {
  auto it = event_seq_.find(job);
  return it == event_seq_.end() ? 0 : it->second;
}

std::vector<std::string> ClusterState::AllocsOf(const JobId& job) const {
  auto it = allocs_by_job_.find(job);
  if (it == allocs_by_job_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

const jobpb::JobRecord* ClusterState::FindJob(const JobId& job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? nullptr : &it->second.value;
}

const agentpb::AllocationStatus* ClusterState::FindStatus(
    const std::string& id) const {
  auto it = statuses_.find(id);
  return it == statuses_.end() ? nullptr : &it->second;
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
      jobs_[job] = std::move(v);
      break;
    }
    case KeyRef::Type::kSchedAlloc: {
      Versioned<jobpb::Allocation> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      allocs_by_job_[{v.value.namespace_(), v.value.job()}].insert(
          ref.alloc_id);
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
      break;
    }
    case KeyRef::Type::kNode: {
      agentpb::NodeInfo n;
      if (!parse(&n)) return;
      nodes_[ref.node] = std::move(n);
      break;
    }
    case KeyRef::Type::kDrain:
      draining_.insert(ref.node);
      break;
    case KeyRef::Type::kCronMarker: {
      Versioned<jobpb::CronMarker> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      cron_markers_[job] = std::move(v);
      break;
    }
    case KeyRef::Type::kCronRun: {
      Versioned<jobpb::CronRun> v;
      if (!parse(&v.value)) return;
      v.mod_revision = rev;
      cron_runs_[job][ref.tick_unix] = std::move(v);
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
    case KeyRef::Type::kOther:
      break;
  }
}

void ClusterState::Delete(const std::string& key) {
  KeyRef ref = ParseKey(key);
  JobId job{ref.ns, ref.job};
  switch (ref.type) {
    case KeyRef::Type::kNamespace:
      namespaces_.erase(ref.ns);
      break;
    case KeyRef::Type::kJob:
      jobs_.erase(job);
      break;
    case KeyRef::Type::kSchedAlloc: {
      auto it = allocs_.find(ref.alloc_id);
      if (it == allocs_.end()) return;
      JobId owner{it->second.value.namespace_(), it->second.value.job()};
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
      break;
    case KeyRef::Type::kNode:
      nodes_.erase(ref.node);
      break;
    case KeyRef::Type::kDrain:
      draining_.erase(ref.node);
      break;
    case KeyRef::Type::kCronMarker:
      cron_markers_.erase(job);
      break;
    case KeyRef::Type::kCronRun: {
      auto it = cron_runs_.find(job);
      if (it == cron_runs_.end()) return;
      it->second.erase(ref.tick_unix);
      if (it->second.empty()) cron_runs_.erase(it);
      break;
    }
    case KeyRef::Type::kEvent:
      // Events are trimmed by the leader's GC; the mirror keeps its bounded
      // list as it is.
      break;
    case KeyRef::Type::kOther:
      break;
  }
}

}  // namespace berth::sched
