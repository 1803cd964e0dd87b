// ClusterState: the scheduler's in-memory mirror of /berth/ in lockd.
//
// Built from a Load (Reset) and kept current by applying watch events in
// revision order (Apply). Every scheduler process keeps one: the leader
// plans from it, followers answer reads from it. Records that do not parse
// are counted and skipped, never fatal: one bad value must not stop the
// scheduler.
//
// Alongside the records it keeps what incremental scheduling needs (both
// fed here, so no change can bypass them): the node free-resource index,
// and the dirty set of jobs the next leader pass must evaluate. What
// dirties a job: its record, any of its allocation records or their
// statuses changing; losing a node its allocations ran on; a drain flag
// flipping on a node it runs on. Jobs with unplaced allocations are also
// dirtied when capacity may have appeared (a node registers, a drain is
// lifted, an allocation stops holding resources). Reset marks every job.
//
// Thread safety: not thread-safe; the owner serializes access.
#ifndef BERTH_SCHEDULER_STATE_CLUSTER_STATE_H_
#define BERTH_SCHEDULER_STATE_CLUSTER_STATE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/acl.pb.h"
#include "proto/agent.pb.h"
#include "proto/job.pb.h"
#include "scheduler/state/acl.h"
#include "scheduler/state/dirty_set.h"
#include "scheduler/state/node_index.h"
#include "scheduler/state/store.h"

namespace berth::sched {

template <typename T>
struct Versioned {
  T value;
  int64_t mod_revision = 0;
};

class ClusterState {
 public:
  // One job's records, found with a single hash probe (null: none). The
  // cron engine reads all three for every tick it claims; at 100,000 jobs
  // three ordered-map walks over cache-cold nodes were most of a claim.
  struct JobRefs {
    const Versioned<jobpb::JobRecord>* record = nullptr;
    const Versioned<jobpb::CronMarker>* marker = nullptr;
    const std::map<int64_t, Versioned<jobpb::CronRun>>* runs = nullptr;
    // The revision of the last change to any of the job's records, its
    // allocations or their statuses (0: unknown). A decision made from the
    // mirror at revision r about this job still holds while this is <= r.
    int64_t changed_revision = 0;
  };

  ClusterState() = default;
  // The hash index points into the ordered maps' nodes, which a move keeps
  // and a copy would not.
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;
  ClusterState(ClusterState&&) = default;
  ClusterState& operator=(ClusterState&&) = default;

  void Reset(const StoreSnapshot& snapshot);
  void Apply(const StoreEvent& event);

  // The revision everything up to which has been applied.
  int64_t revision() const { return revision_; }
  int64_t corrupt_records() const { return corrupt_; }

  const std::set<std::string>& namespaces() const { return namespaces_; }
  const std::map<JobId, Versioned<jobpb::JobRecord>>& jobs() const {
    return jobs_;
  }
  const std::map<std::string, Versioned<jobpb::Allocation>>& allocs() const {
    return allocs_;
  }
  const std::map<std::string, agentpb::AllocationStatus>& statuses() const {
    return statuses_;
  }
  const std::map<std::string, agentpb::NodeInfo>& nodes() const {
    return nodes_;
  }
  const std::set<std::string>& draining() const { return draining_; }
  // Namespace ACLs and whether they are enforced (acl.h).
  const AclState& acl() const { return acl_; }
  // The drain record of a draining node (deadline, ignore_batch); null when
  // the node is not draining. A drain key whose value does not parse still
  // drains, with no deadline.
  const jobpb::NodeDrain* FindDrain(const std::string& node) const;
  // node -> alloc ids with a key under /berth/allocs/<node>/.
  const std::map<std::string, std::set<std::string>>& agent_allocs() const {
    return agent_allocs_;
  }
  const std::map<JobId, Versioned<jobpb::CronMarker>>& cron_markers() const {
    return cron_markers_;
  }
  const std::map<JobId, std::map<int64_t, Versioned<jobpb::CronRun>>>&
  cron_runs() const {
    return cron_runs_;
  }
  // The most recent events per job (bounded), oldest first.
  const std::map<JobId, std::vector<jobpb::Event>>& events() const {
    return events_;
  }
  // Highest event sequence number seen per job (0 = none).
  int64_t last_event_seq(const JobId& job) const;

  // Allocation ids of a job (sorted).
  const std::set<std::string>& AllocIdsOf(const JobId& job) const;
  std::vector<std::string> AllocsOf(const JobId& job) const;
  const std::map<JobId, std::set<std::string>>& allocs_by_job() const {
    return allocs_by_job_;
  }
  // Jobs with at least one unplaced allocation that wants to run.
  const std::map<JobId, int>& pending_jobs() const { return pending_jobs_; }

  const NodeIndex& node_index() const { return node_index_; }
  DirtySet& dirty() { return dirty_; }
  const DirtySet& dirty() const { return dirty_; }
  const jobpb::JobRecord* FindJob(const JobId& job) const;
  JobRefs FindJobRefs(const JobId& job) const;
  const agentpb::AllocationStatus* FindStatus(const std::string& id) const;

  static constexpr size_t kEventsKept = 50;

 private:
  void Put(const std::string& key, const std::string& value, int64_t rev);
  void Delete(const std::string& key, int64_t rev);
  void DeleteAcl(const std::string& ns, const std::string& principal);
  // Index upkeep around an allocation record changing from `old` (null:
  // new) to `now` (null: deleted).
  void Track(const std::string& id, const jobpb::Allocation* old,
             const jobpb::Allocation* now, int64_t rev);
  void MarkPendingJobs();
  // Clears one pointer of a job's index entry, dropping the entry when
  // nothing is left in it.
  void Unindex(const JobId& job, int64_t rev, void (*clear)(JobRefs*));
  // Records a change to something of `job` other than its own records.
  void Touch(const JobId& job, int64_t rev);
  void MarkJobsOn(const std::string& node);

  int64_t revision_ = 0;
  int64_t corrupt_ = 0;
  std::set<std::string> namespaces_;
  std::map<JobId, Versioned<jobpb::JobRecord>> jobs_;
  std::map<std::string, Versioned<jobpb::Allocation>> allocs_;
  std::map<JobId, std::set<std::string>> allocs_by_job_;
  std::map<std::string, agentpb::AllocationStatus> statuses_;
  std::map<std::string, agentpb::NodeInfo> nodes_;
  std::set<std::string> draining_;
  AclState acl_;
  std::map<std::string, jobpb::NodeDrain> drains_;
  std::map<std::string, std::set<std::string>> agent_allocs_;
  std::map<JobId, Versioned<jobpb::CronMarker>> cron_markers_;
  std::map<JobId, std::map<int64_t, Versioned<jobpb::CronRun>>> cron_runs_;
  std::map<JobId, std::vector<jobpb::Event>> events_;
  std::map<JobId, int64_t> event_seq_;
  // jobs_, cron_markers_ and cron_runs_ by job, for lookups only: nothing
  // iterates it, so its order (random per process) never shows.
  absl::flat_hash_map<JobId, JobRefs> by_job_;
  NodeIndex node_index_;
  std::map<JobId, int> pending_jobs_;  // job -> unplaced allocations
  DirtySet dirty_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_CLUSTER_STATE_H_
