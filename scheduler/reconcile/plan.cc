#include "scheduler/reconcile/plan.h"

#include <algorithm>
#include <utility>

#include "google/protobuf/util/message_differencer.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

const jobpb::Job* SpecFor(const jobpb::JobRecord& rec,
                          const jobpb::Allocation& a) {
  if (rec.has_previous() && a.job_version() == rec.previous().spec_hash() &&
      a.job_version() != rec.job().spec_hash()) {
    return &rec.previous();
  }
  return &rec.job();
}

}  // namespace

const jobpb::Allocation* PlanBuilder::Get(const std::string& id) const {
  if (forgotten_.count(id)) return nullptr;
  auto c = changed_.find(id);
  if (c != changed_.end()) return &c->second;
  auto m = state_->allocs().find(id);
  return m == state_->allocs().end() ? nullptr : &m->second.value;
}

jobpb::Allocation* PlanBuilder::Mutable(const std::string& id) {
  auto c = changed_.find(id);
  if (c != changed_.end()) return &c->second;
  auto m = state_->allocs().find(id);
  if (m == state_->allocs().end()) return nullptr;
  return &(changed_[id] = m->second.value);
}

void PlanBuilder::Create(jobpb::Allocation alloc) {
  std::string id = alloc.id();
  forgotten_.erase(id);
  if (!state_->allocs().count(id)) {
    created_[{alloc.namespace_(), alloc.job()}].insert(id);
  }
  changed_[id] = std::move(alloc);
}

void PlanBuilder::Forget(const std::string& id) {
  auto c = changed_.find(id);
  if (c != changed_.end()) {
    auto cr = created_.find({c->second.namespace_(), c->second.job()});
    if (cr != created_.end()) cr->second.erase(id);
    changed_.erase(c);
  }
  forgotten_.insert(id);
}

std::vector<const jobpb::Allocation*> PlanBuilder::AllocsOf(
    const JobId& job) const {
  std::vector<const jobpb::Allocation*> out;
  for (const std::string& id : state_->AllocIdsOf(job)) {
    if (const jobpb::Allocation* a = Get(id)) out.push_back(a);
  }
  auto cr = created_.find(job);
  if (cr != created_.end()) {
    for (const std::string& id : cr->second) {
      if (const jobpb::Allocation* a = Get(id)) out.push_back(a);
    }
  }
  return out;
}

std::vector<std::string> PlanBuilder::Pending(
    const std::vector<JobId>& jobs) const {
  std::set<std::string> ids;
  for (const JobId& job : jobs) {
    for (const jobpb::Allocation* a : AllocsOf(job)) {
      if (IsLive(*a) && WantsRun(*a) && a->node().empty()) ids.insert(a->id());
    }
  }
  return {ids.begin(), ids.end()};
}

void PlanBuilder::DeleteAgentSpec(const std::string& node,
                                  const std::string& id) {
  agent_deletes_.insert({node, id});
}

void PlanBuilder::SetJobStatus(const JobId& job,
                               const jobpb::JobStatus& status) {
  auto it = job_records_.find(job);
  if (it == job_records_.end()) {
    const jobpb::JobRecord* rec = state_->FindJob(job);
    if (rec == nullptr) return;
    jobpb::JobStatus old = rec->status();
    old.set_updated_unix_ms(status.updated_unix_ms());
    if (google::protobuf::util::MessageDifferencer::Equals(old, status)) {
      return;
    }
    it = job_records_.emplace(job, *rec).first;
  }
  *it->second.mutable_status() = status;
}

void PlanBuilder::SetJobRecord(const JobId& job,
                               const jobpb::JobRecord& record) {
  job_records_[job] = record;
}

void PlanBuilder::Event(const JobId& job, const std::string& kind,
                        const std::string& message,
                        const std::string& alloc_id) {
  // A pass that would write more is a storm; the log keeps the rest.
  if (events_[job].size() >= kMaxEventsPerJob) return;
  jobpb::Event e;
  e.set_unix_ms(now_ms());
  e.set_namespace_(job.first);
  e.set_job(job.second);
  e.set_kind(kind);
  e.set_message(message);
  e.set_alloc_id(alloc_id);
  events_[job].push_back(std::move(e));
  plan_.log.push_back(kind + " " + job.first + "/" + job.second + ": " +
                      message);
}

Plan PlanBuilder::Build() {
  // Allocation records with their agent-side specs.
  // Each record is written only over the version this pass read, so a
  // concurrent writer (the cron engine, a submit) is never overwritten.
  auto guard = [this](StoreTxn* txn, const std::string& id) {
    auto m = state_->allocs().find(id);
    txn->conds.push_back(m == state_->allocs().end()
                             ? StoreCond::Absent(SchedAllocKey(id))
                             : StoreCond::ModRevision(SchedAllocKey(id),
                                                      m->second.mod_revision));
  };
  for (const auto& [id, a] : changed_) {
    plan_.changed_jobs.insert({a.namespace_(), a.job()});
  }
  for (const std::string& id : forgotten_) {
    auto m = state_->allocs().find(id);
    if (m != state_->allocs().end()) {
      plan_.changed_jobs.insert(
          {m->second.value.namespace_(), m->second.value.job()});
    }
  }
  for (const auto& [job, unused] : job_records_) plan_.changed_jobs.insert(job);
  for (const auto& [job, unused] : events_) plan_.changed_jobs.insert(job);
  for (auto& [id, a] : changed_) {
    StoreTxn txn;
    guard(&txn, id);
    txn.ops.push_back(StoreOp::Put(SchedAllocKey(id), a.SerializeAsString()));
    bool has_agent_key = false;
    if (!a.node().empty()) {
      auto n = state_->agent_allocs().find(a.node());
      has_agent_key = n != state_->agent_allocs().end() && n->second.count(id);
    }
    if (!a.node().empty() && IsLive(a)) {
      const jobpb::JobRecord* rec = state_->FindJob({a.namespace_(), a.job()});
      auto it = job_records_.find({a.namespace_(), a.job()});
      if (it != job_records_.end()) rec = &it->second;
      if (rec != nullptr) {
        agentpb::AllocationSpec spec =
            ToAgentSpec(*SpecFor(*rec, a), a, rec->version());
        txn.ops.push_back(StoreOp::Put(AgentAllocKey(a.node(), id),
                                       spec.SerializeAsString()));
      } else if (has_agent_key) {
        // The job is gone: removing the spec makes the agent stop the task.
        txn.ops.push_back(StoreOp::Delete(AgentAllocKey(a.node(), id)));
      }
    } else if (has_agent_key) {
      txn.ops.push_back(StoreOp::Delete(AgentAllocKey(a.node(), id)));
      if (state_->FindStatus(id))
        txn.ops.push_back(StoreOp::Delete(StatusKey(id)));
    }
    plan_.changes.push_back(std::move(txn));
  }
  for (const std::string& id : forgotten_) {
    if (!state_->allocs().count(id)) continue;
    StoreTxn txn;
    guard(&txn, id);
    txn.ops.push_back(StoreOp::Delete(SchedAllocKey(id)));
    txn.ops.push_back(StoreOp::Delete(StatusKey(id)));
    auto m = state_->allocs().find(id);
    if (m != state_->allocs().end() && !m->second.value.node().empty()) {
      txn.ops.push_back(
          StoreOp::Delete(AgentAllocKey(m->second.value.node(), id)));
    }
    plan_.changes.push_back(std::move(txn));
  }
  for (const auto& [node, id] : agent_deletes_) {
    StoreTxn txn;
    txn.ops.push_back(StoreOp::Delete(AgentAllocKey(node, id)));
    plan_.changes.push_back(std::move(txn));
  }
  for (const auto& [job, rec] : job_records_) {
    StoreTxn txn;
    auto it = state_->jobs().find(job);
    if (it == state_->jobs().end()) continue;
    txn.conds.push_back(StoreCond::ModRevision(JobKey(job.first, job.second),
                                               it->second.mod_revision));
    txn.ops.push_back(
        StoreOp::Put(JobKey(job.first, job.second), rec.SerializeAsString()));
    plan_.changes.push_back(std::move(txn));
  }
  for (const auto& [job, list] : events_) {
    int64_t seq = state_->last_event_seq(job);
    StoreTxn txn;
    for (const jobpb::Event& e : list) {
      txn.ops.push_back(StoreOp::Put(EventKey(job.first, job.second, ++seq),
                                     e.SerializeAsString()));
    }
    plan_.changes.push_back(std::move(txn));
  }
  return std::move(plan_);
}

}  // namespace berth::sched
