// PlanBuilder: the working set one reconcile pass edits, and the Plan it
// turns into.
//
// Phases read the mirror (ClusterState) and record their decisions here:
// allocation records to create or change, agent-side specs to write or
// delete, job records to update, events. Build() turns that into atomic
// changes for the store: every changed allocation record travels with its
// agent-side spec in the same transaction, so the agent never sees a spec
// the scheduler has no record of. A job record update carries a
// mod-revision condition so it never overwrites a concurrent submit.
//
// Thread safety: not thread-safe; one pass, one thread.
#ifndef BERTH_SCHEDULER_RECONCILE_PLAN_H_
#define BERTH_SCHEDULER_RECONCILE_PLAN_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/job.pb.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/store.h"

namespace berth::sched {

struct Plan {
  // Each is atomic; any subset may be packed into one transaction.
  std::vector<StoreTxn> changes;
  // One line per decision, for logs and tests.
  std::vector<std::string> log;
  // When the next pass is needed even if nothing changes (a backoff or a
  // deadline expires); InfiniteFuture when never.
  absl::Time wake = absl::InfiniteFuture();
  // The same per job: the leader feeds these to ClusterState's DirtySet so
  // the job is evaluated again then.
  std::vector<std::pair<JobId, absl::Time>> wakes;
  // Jobs this pass evaluated, and those it changed something for.
  int64_t jobs_evaluated = 0;
  std::set<JobId> changed_jobs;
};

class PlanBuilder {
 public:
  PlanBuilder(const ClusterState* state, absl::Time now)
      : state_(state), now_(now) {}

  const ClusterState& state() const { return *state_; }
  absl::Time now() const { return now_; }
  int64_t now_ms() const { return absl::ToUnixMillis(now_); }

  // The allocation as edited so far in this pass (or as mirrored).
  const jobpb::Allocation* Get(const std::string& id) const;
  // A mutable copy, recorded as changed.
  jobpb::Allocation* Mutable(const std::string& id);
  void Create(jobpb::Allocation alloc);
  // Deletes the record, its status key and its agent-side spec.
  void Forget(const std::string& id);
  // Every allocation of the job, including ones created in this pass.
  std::vector<const jobpb::Allocation*> AllocsOf(const JobId& job) const;
  // Live allocations of `jobs` (sorted) with node == "" and desired RUN,
  // in id order.
  std::vector<std::string> Pending(const std::vector<JobId>& jobs) const;
  // Ids edited (or created) and forgotten so far in this pass.
  const std::map<std::string, jobpb::Allocation>& changed() const {
    return changed_;
  }
  const std::set<std::string>& forgotten() const { return forgotten_; }

  // Deletes the agent-side spec of `id` on `node` (the task is done, or
  // was moved while its node was away).
  void DeleteAgentSpec(const std::string& node, const std::string& id);
  // Replaces the job's status (written only if it differs).
  void SetJobStatus(const JobId& job, const jobpb::JobStatus& status);
  // Replaces the whole job record (rollback).
  void SetJobRecord(const JobId& job, const jobpb::JobRecord& record);
  void Event(const JobId& job, const std::string& kind,
             const std::string& message, const std::string& alloc_id = "");
  void Log(std::string line) { plan_.log.push_back(std::move(line)); }
  // Evaluate `job` again at `t` even if nothing changes.
  void WakeAt(const JobId& job, absl::Time t) {
    plan_.wake = std::min(plan_.wake, t);
    plan_.wakes.emplace_back(job, t);
  }

  Plan Build();

  static constexpr size_t kMaxEventsPerJob = 20;

 private:
  const ClusterState* state_;
  absl::Time now_;
  std::map<std::string, jobpb::Allocation> changed_;
  // Ids created in this pass that the mirror does not have, per job.
  std::map<JobId, std::set<std::string>> created_;
  std::set<std::string> forgotten_;
  std::set<std::pair<std::string, std::string>> agent_deletes_;
  std::map<JobId, jobpb::JobRecord> job_records_;
  std::map<JobId, std::vector<jobpb::Event>> events_;
  Plan plan_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_PLAN_H_
