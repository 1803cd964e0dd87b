// Scheduler: one berth-scheduler process.
//
// Every process keeps a mirror of /berth/ (Load, then Watch) and answers
// reads from it. Every process also campaigns in the lockd election
// kLeaderElection; the winner runs the leader loop: reconcile (and the
// cron engine) against the mirror, then commit the plan in fenced
// transactions carrying its election token, so a deposed leader's writes
// are refused by lockd. Before each pass the leader waits until its mirror
// has caught up with its own last commit, so it never plans from a state
// older than what it already wrote. A new leader plans only once its mirror
// has applied the revision of its own election grant (its fencing token),
// which every write of the previous leader precedes; nothing is kept only
// in memory, and the mirror is reloaded from lockd only when its watch
// breaks or commits keep losing to changes it does not show.
//
// Threads: mirror, election, leader loop, plus gRPC's. Thread safety: all
// public methods are thread-safe. Ownership: owns its lockd client.
#ifndef BERTH_SCHEDULER_SERVER_SCHEDULER_H_
#define BERTH_SCHEDULER_SERVER_SCHEDULER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics/registry.h"
#include "common/tls/credentials.h"
#include "grpcpp/create_channel.h"
#include "lockservice/client/client.h"
#include "lockservice/client/election.h"
#include "lockservice/client/session.h"
#include "proto/scheduler.pb.h"
#include "scheduler/cron/engine.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/server/audit_log.h"
#include "scheduler/server/conflict_streak.h"
#include "scheduler/server/logs_proxy.h"
#include "scheduler/state/acl.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/store.h"

namespace berth::sched {

struct SchedulerOptions {
  std::string id;                 // unique per process, e.g. "s1"
  std::string advertise_address;  // host:port of our gRPC API
  std::vector<std::string> lock_endpoints;
  // A crashed leader is replaced about this long after its last keepalive
  // (sent every ttl/3; lockd renews leases in the leader's memory, so a
  // short TTL costs no log writes beyond a checkpoint every ttl/4).
  absl::Duration session_ttl = absl::Seconds(2);
  // Upper bound between leader passes when nothing changes.
  absl::Duration idle_pass = absl::Seconds(5);
  ReconcileOptions reconcile;
  Clock* clock = Clock::Real();
  // Where the scheduler registers its metrics (scheduler_metrics.cc); null
  // = none. Borrowed; it must outlive the Scheduler, and its endpoint must
  // stop before the Scheduler is destroyed (the callbacks read it).
  ::berth::metrics::Registry* metrics = nullptr;
  // How long the audit log (audit_log.h) keeps its records.
  absl::Duration audit_retention = absl::Hours(24 * 30);
  // Dial lockd and the agents with these (common/tls); plaintext by
  // default, as `berth dev` and tests run.
  ::berth::tls::Credentials credentials;
};

class Scheduler {
 public:
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Stops the loops; resigns leadership so a standby takes over at once.
  void Shutdown();

  // A channel to an agent's API (logs, exec) with the scheduler's
  // credentials.
  std::shared_ptr<grpc::Channel> DialAgent(const std::string& address) const;

  bool is_leader() const;
  // The audit log of API writes, stored through this scheduler's client.
  AuditLog* audit() { return audit_.get(); }
  // Who leads (from lockd's election), "" when unknown.
  schedpb::LeaderResponse Leader() const;
  // The lock service's members, leader and term, asked of lockd (the web
  // dashboard's cluster view). Blocks for a round trip.
  absl::StatusOr<lock::ClusterStatus> LockClusterStatus() const;

  // Reads, from the mirror.
  absl::StatusOr<schedpb::ListJobsResponse> ListJobs(
      const std::string& ns) const;
  absl::StatusOr<schedpb::JobStatusResponse> JobStatus(
      const std::string& ns, const std::string& job) const;
  absl::StatusOr<schedpb::JobHistoryResponse> JobHistory(
      const std::string& ns, const std::string& job) const;
  // With `with_allocations`, each node also lists its live allocations
  // and their latest agent status (berth top).
  absl::StatusOr<schedpb::ListNodesResponse> ListNodes(
      bool with_allocations = false) const;
  // berth job logs / alloc logs: the allocation to show and its node;
  // NotFound for an unknown job or allocation (logs_api.cc).
  absl::StatusOr<LogsTarget> FindLogsTarget(
      const schedpb::AllocLogsRequest& req) const;
  // The agent address node `node` registered; nullopt when it is not
  // registered (its session expired).
  std::optional<std::string> NodeAddress(const std::string& node) const;

  // Writes; FAILED_PRECONDITION naming the leader when not leading.
  absl::StatusOr<schedpb::SubmitJobResponse> Submit(
      const schedpb::SubmitJobRequest& req);
  absl::StatusOr<schedpb::StopJobResponse> Stop(
      const schedpb::StopJobRequest& req);
  absl::StatusOr<schedpb::TriggerJobResponse> Trigger(
      const schedpb::TriggerJobRequest& req);
  absl::Status CreateNamespace(const std::string& name);
  // berth job suspend (`suspend` true) / resume; idempotent.
  absl::StatusOr<schedpb::SuspendJobResponse> SetSuspended(
      const schedpb::SuspendJobRequest& req, bool suspend);
  // Marks a registered node draining (or lifts the drain) in lockd;
  // NOT_FOUND for a node that is neither registered nor draining.
  // scheduler_drain.cc.
  absl::StatusOr<schedpb::DrainNodeResponse> DrainNode(
      const schedpb::DrainNodeRequest& req);

  // Namespaces and their ACLs (scheduler_acl.cc). Writes need the leader;
  // `by` is the caller's audit principal, stored with the change.
  // DeleteNamespace refuses a namespace that still has jobs.
  absl::StatusOr<schedpb::DeleteNamespaceResponse> DeleteNamespace(
      const std::string& name);
  absl::StatusOr<schedpb::ListNamespacesResponse> ListNamespaces() const;
  absl::StatusOr<schedpb::AclChangeResponse> AclGrant(
      const schedpb::AclGrantRequest& req, const std::string& by);
  absl::StatusOr<schedpb::AclChangeResponse> AclRevoke(
      const schedpb::AclRevokeRequest& req, const std::string& by);
  absl::StatusOr<schedpb::AclListResponse> AclList(const std::string& ns) const;
  absl::StatusOr<schedpb::AclStatusResponse> AclSwitch(bool enable,
                                                       const std::string& by);
  // The ACLs to decide a call by. On the leader it first waits (briefly)
  // until the mirror shows the leader's own last write, so an ACL change
  // it has answered, or one a previous leader made before this one was
  // elected, is always in force here; a follower answers from its mirror
  // as it is. Unavailable while the mirror is loading (fail closed).
  absl::StatusOr<AclState> Acl() const;

  // Leader passes run so far (tests, diagnostics).
  int64_t passes() const { return passes_.load(); }

 private:
  explicit Scheduler(SchedulerOptions options);
  absl::Status Connect();
  void MirrorLoop();
  void ElectionLoop();
  void LeaderLoop();
  // One pass; returns when the next is due.
  absl::Time Pass() ABSL_LOCKS_EXCLUDED(mu_);
  // Commits changes packed into transactions; false if the fence was lost.
  // `jobs` (those the changes are for) are evaluated again when a
  // transaction fails.
  bool CommitAll(const std::vector<StoreTxn>& changes,
                 const std::set<JobId>& jobs);
  absl::Status CommitOne(const StoreTxn& txn);
  // After a conditional write of an API call lost to a concurrent one
  // (the reconciler's or cron's status writes on the same record): waits,
  // up to 2 s, until the mirror is newer than `read_at`, so the call can
  // rebuild its write from the record that won. scheduler_api.cc.
  void AwaitMirrorPast(int64_t read_at) ABSL_LOCKS_EXCLUDED(mu_);
  // How many times an API write is rebuilt that way before the caller is
  // told to retry.
  static constexpr int kApiWriteAttempts = 8;
  schedpb::LeaderResponse LeaderLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NotLeaderLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unavailable until the mirror holds a first copy of lockd's state: a
  // scheduler that has just started must not answer "does not exist" for
  // a job it has not loaded yet (the CLI then asks the next scheduler).
  absl::Status MirrorReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the leadership the fencing `token` belongs to, if it still runs.
  void StepDown(int64_t token, const std::string& why);
  // Registers the metrics in opts_.metrics (scheduler_metrics.cc).
  void RegisterMetrics(metrics::Registry* r);
  // Live and unplaced allocations that want to run, from the mirror.
  struct AllocCounts {
    int64_t placed = 0;
    int64_t pending = 0;
  };
  AllocCounts CountAllocs() const ABSL_LOCKS_EXCLUDED(mu_);
  // Reloads the mirror from lockd (leader start, compaction).
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  const SchedulerOptions opts_;
  std::unique_ptr<lock::Client> client_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditLog> audit_;

  mutable absl::Mutex mu_;
  ClusterState state_ ABSL_GUARDED_BY(mu_);
  bool mirror_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  bool need_reload_ ABSL_GUARDED_BY(mu_) = false;
  Fence fence_ ABSL_GUARDED_BY(mu_);
  int64_t last_commit_revision_ ABSL_GUARDED_BY(mu_) = 0;
  // The revision of the last ACL or namespace change this leader made (or,
  // just elected, its election: what the previous leader made); Acl()
  // waits for the mirror to reach it.
  int64_t acl_commit_revision_ ABSL_GUARDED_BY(mu_) = 0;
  // After a successful commit of an ACL or namespace change.
  void AclCommitted();
  bool kick_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<lock::LeaderInfo> leader_info_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<cron::CronEngine> cron_ ABSL_GUARDED_BY(mu_);
  // Jobs whose record changed since the leader loop last looked.
  std::set<JobId> changed_jobs_ ABSL_GUARDED_BY(mu_);
  bool cron_synced_ ABSL_GUARDED_BY(mu_) = false;
  // Incremental reconcile: when the next all-jobs safety sweep is due, and
  // how many jobs sweeps found needing work the dirty set had missed.
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t sweep_missed_ ABSL_GUARDED_BY(mu_) = 0;
  ConflictStreak conflicts_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> passes_{0};
  // Null without a registry.
  metrics::Histogram* pass_duration_ = nullptr;
  metrics::Histogram* cron_lag_ = nullptr;
  std::unique_ptr<lock::Observer> observer_;
  std::thread mirror_thread_;
  std::thread election_thread_;
  std::thread leader_thread_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_SCHEDULER_H_
