// Agent: the core of berth-agent. It registers the node in berth-lockd,
// watches /berth/allocs/<node>/, runs what it finds there through a Runtime
// and reports each allocation's status to /berth/status/<id>.
//
// One loop thread owns all the agent's state: it applies watch batches,
// asks the runtime about its tasks, runs Reconcile() and carries out the
// actions, reports statuses and keeps the node registered. Other threads
// only hand it work (the watch callback queues batches) or wake it, or ask
// read-only questions through the small mutex-guarded log state
// (LogsFinished). Stops run on their own threads because a stop may wait
// out a kill timeout. Health probes run on the HealthChecker's one thread.
//
// Event-driven: the loop sleeps until something happens. It is woken by a
// watch batch, a task exit (Runtime::SetExitListener), a finished stop, a
// health flip and the loss of the session, and by its own timers (usage
// samples, retries after lockd errors, the log drain of an exited task).
// An allocation written to lockd is therefore launched as soon as its watch
// event arrives, not on the next tick of a poll. A slow safety tick
// (AgentOptions::safety_interval) runs the loop anyway; see there why.
// Task output goes through named FIFOs (LogPump::AttachFifo), so adopted
// tasks keep their logs after a restart.
//
// The desired set is persisted (kDesiredSnapshotKey) after every watch
// batch; a restarted agent resumes its watch from that revision and falls
// back to a full read when the history is compacted.
//
// The definition is split: agent.cc (lifecycle, registration, watch,
// reporting) and agent_tasks.cc (actions on tasks, logs, health).
//
// Crash safety: an allocation is persisted in the AllocStore before it is
// launched and again with its TaskRecord after, so a restarted agent adopts
// live tasks instead of relaunching them. On start the agent always reads
// the node's whole prefix (a Range) before it stops anything, because
// allocations moved away while it was down must be stopped.
//
// Ownership: the Agent owns the runtime, store and log pump passed to
// Create, and the lockd client when it is passed as a unique_ptr. Agents of
// one process (berth-agent-swarm) may instead borrow one shared client, so
// that they share its channel, its watch stream and its keepalive stream;
// the client must then outlive them.
#ifndef BERTH_AGENT_SERVER_AGENT_H_
#define BERTH_AGENT_SERVER_AGENT_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/logs/log_pump.h"
#include "agent/runtime/runtime.h"
#include "agent/server/agent_metrics.h"
#include "agent/server/health_checker.h"
#include "agent/server/log_retention.h"
#include "agent/server/reconcile.h"
#include "agent/store/alloc_store.h"
#include "common/clock.h"
#include "common/metrics/registry.h"
#include "lockservice/client/client.h"
#include "lockservice/client/session.h"
#include "lockservice/client/watch.h"
#include "proto/agent.pb.h"

namespace berth::agent {

// AllocStore meta key of the agentpb::DesiredSnapshot.
inline constexpr char kDesiredSnapshotKey[] = "desired";

struct AgentOptions {
  std::string node;        // node id; names the lockd keys
  std::string data_dir;    // <data_dir>/allocs/<id>/{sandbox,logs}
  agentpb::NodeInfo info;  // registered as /berth/nodes/<node>
  absl::Duration session_ttl = absl::Seconds(10);
  // The loop runs at least this often even when nothing wakes it. Events
  // drive it (see above); this tick only bounds the delay should one be
  // missed: an adopted task whose pidfd could not be opened (its exit is
  // then seen only by asking the runtime), or a runtime bug. At >= 1 s it
  // costs nothing measurable, and launch latency never includes it.
  absl::Duration safety_interval = absl::Seconds(5);
  absl::Duration usage_interval = absl::Seconds(10);
  LogLimits log_limits;
  // How long the logs of a forgotten allocation stay (log_retention.h).
  LogRetention log_retention;
  // False only for simulated agents (berth-agent-swarm): their tasks write
  // nothing, and the FIFOs, log files and descriptors a task's capture
  // costs (about four per task) would cap a swarm process at a few
  // thousand tasks under a 20,000-descriptor hard limit.
  bool capture_logs = true;
  // Where the tasks' log FIFOs live: <fifo_dir>/<alloc>/{stdout,stderr}.
  // Empty: <data_dir>/allocs/<alloc>/fifo. A FIFO is only the place where a
  // task's output and a (restarted) agent meet; on a memory filesystem
  // (berth-agent's default, node_flags.h DefaultFifoDir) it spares the data
  // dir's filesystem three inodes allocated and freed per task (on ext4
  // without a journal, inode allocation was 47 % of the agent's CPU in a
  // 500-task burst: docs/benchmarks.md, "Task start latency").
  std::string fifo_dir;
  bool stop_tasks_on_exit = false;
  Clock* clock = Clock::Real();
  // Runs health checks; null: the real probes (health_probe.h).
  std::unique_ptr<Prober> prober;
  // Where the agent registers its metrics (agent_metrics.h); null = none.
  // Borrowed; must outlive the Agent.
  ::berth::metrics::Registry* metrics = nullptr;
};

class Agent {
 public:
  // Loads the store, adopts live tasks and starts the loop thread.
  static absl::StatusOr<std::unique_ptr<Agent>> Create(
      AgentOptions options, std::unique_ptr<Runtime> runtime,
      std::unique_ptr<AllocStore> store, std::unique_ptr<lock::Client> client);
  // The same with a borrowed client (must outlive the Agent).
  static absl::StatusOr<std::unique_ptr<Agent>> Create(
      AgentOptions options, std::unique_ptr<Runtime> runtime,
      std::unique_ptr<AllocStore> store, lock::Client* client);
  // Shutdown() if not done yet, then closes the session: revoking the lease
  // removes the node key at once. A process that wants the key to survive
  // a quick restart exits without destroying the Agent (berth-agent does
  // unless --stop-tasks-on-exit), so the lease lapses after its TTL.
  ~Agent();

  // Stops the loop and the watch. Tasks keep running (they are adopted on
  // the next start) unless stop_tasks_on_exit.
  void Shutdown();

  // Where allocation `id` keeps its captured output.
  std::string LogDir(const std::string& id) const;
  // Where the named FIFOs carrying its stdout/stderr live.
  std::string FifoDir(const std::string& id) const;
  // True when no more output can appear for `id`: it is terminal (or
  // unknown) and its pipes are drained.
  bool LogsFinished(const std::string& id) const;

  // berth alloc exec: starts `spec` inside allocation `id`'s running task
  // (Runtime::Exec), in its sandbox; NotFound when it does not run here.
  absl::StatusOr<pid_t> Exec(const std::string& id, ExecSpec spec) const;

  // Runs the loop soon. The agent's own event sources call it; a test that
  // advances a SimClock calls it so that due timers are looked at.
  void Wake();

 private:
  struct Desired {
    agentpb::AllocationSpec spec;
    int64_t revision = 0;  // mod_revision of the spec's key
  };

  Agent(AgentOptions options, std::unique_ptr<Runtime> runtime,
        std::unique_ptr<AllocStore> store, lock::Client* client,
        std::unique_ptr<LogPump> pump, std::unique_ptr<Prober> prober);

  absl::Status Recover();
  // Reads an adopted task's FIFOs again (FifoDir, else LegacyFifoDir).
  absl::Status ReattachLogs(const std::string& id);
  // Removes FIFO directories of allocations that have no record.
  void SweepFifoDirs();
  std::string LegacyFifoDir(const std::string& id) const;
  void Loop();
  void Tick();
  // How long the loop may sleep when nothing wakes it: until the earliest
  // of its timers, at most the safety interval.
  absl::Duration NextWait() const;
  // Session + node key; retried with backoff.
  void EnsureRegistered();
  // Full Range of the node's prefix, then a watch from the next revision.
  void EnsureWatching();
  void ApplyBatch(const lock::WatchBatch& batch);
  // Persists desired_ as known at `revision` (resume point after restart).
  void SaveDesired(int64_t revision);
  void SetDesired(const std::string& key, const std::string& value,
                  int64_t revision);
  std::map<std::string, LocalAlloc> Observe();
  void Execute(const Action& action);
  // Launches every id, writing all their STARTING records in one store
  // transaction before the first launch (see Save).
  void LaunchAll(const std::vector<std::string>& ids);
  // A launch in steps: the STARTING record (PrepareLaunch, this thread),
  // the task spec and log files and FIFOs (ReadyLaunch) and the start
  // itself (runtime_->Launch), both on any launch thread, and the record of
  // how it went (FinishLaunch, this thread).
  struct PendingLaunch {
    std::string id;
    TaskSpec task;
    absl::StatusOr<TaskLogFds> fds = absl::UnknownError("not attached");
    absl::StatusOr<TaskRecord> launched = absl::UnknownError("not launched");
    absl::Time at;  // when the launch returned
  };
  void PrepareLaunch(const std::string& id);
  // Reads only what no other thread writes during LaunchAll (desired_,
  // options_); the log pump and the filesystem are thread-safe.
  PendingLaunch ReadyLaunch(const std::string& id) const;
  void FinishLaunch(PendingLaunch& p);
  void StartStop(const std::string& id);
  void RecordExit(const std::string& id, const ExitStatus& exit);
  void MarkStopped(const std::string& id);
  void Forget(const std::string& id);
  // Updates the record in memory and queues it for the store; FlushSaves
  // writes the queue in one transaction. Every path that must find a record
  // on disk after a crash flushes first: before a task is launched, and
  // before a status is reported to lockd.
  void Save(const AllocRecord& record);
  void FlushSaves();
  void ReportDirty();
  void SampleUsage();
  void DetachDrained();
  void SetLogsLive(const std::string& id, bool live);
  void JoinFinishedStops();
  // Starts the health checks of `id`'s running task (if its spec has one).
  void WatchHealth(const std::string& id, const agentpb::AllocationSpec& spec);
  // Adds the health fields of the status of `rec`.
  void FillHealth(const AllocRecord& rec, agentpb::AllocationStatus& st) const;

  // Declared first so that it outlives every thread that may Wake() the
  // loop (the runtime's exit notifier, the health checker, the client's
  // keepalive thread through the session).
  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  // Tagged with the generation of the watch that produced them.
  std::vector<std::pair<uint64_t, absl::StatusOr<lock::WatchBatch>>> batches_
      ABSL_GUARDED_BY(mu_);
  std::set<std::string> live_logs_ ABSL_GUARDED_BY(mu_);

  const AgentOptions options_;
  std::unique_ptr<lock::Client> owned_client_;  // null when borrowed
  lock::Client* client_ = nullptr;
  const std::unique_ptr<Runtime> runtime_;
  const std::unique_ptr<AllocStore> store_;
  const std::unique_ptr<LogPump> pump_;
  const std::unique_ptr<HealthChecker> health_;

  // Loop-thread state.
  std::unique_ptr<lock::Session> session_;
  bool registered_ = false;
  absl::Time next_register_ = absl::InfinitePast();
  std::unique_ptr<lock::Watch> watch_;
  uint64_t watch_generation_ = 0;
  absl::Time next_watch_ = absl::InfinitePast();
  bool desired_known_ = false;
  // > 0: the next watch resumes after this revision instead of a Range.
  int64_t resume_revision_ = 0;
  std::map<std::string, Desired> desired_;
  std::map<std::string, AllocRecord> records_;
  std::map<std::string, AllocRecord> unsaved_;       // queued by Save
  std::set<std::string> undeleted_;                  // queued by Forget
  std::map<std::string, std::string> unsaved_meta_;  // by SaveDesired
  // > 0: the desired set changed as of this revision and is not persisted.
  int64_t desired_unsaved_revision_ = 0;
  std::set<std::string> adopted_;  // adopted at start, not launched by us
  std::set<std::string> stop_requested_;  // we asked it to stop
  std::set<std::string> dirty_;           // status to report
  std::set<std::string> draining_;        // exited; pump still attached
  std::map<std::string, Usage> usage_;
  // CPU rate between the last two periodic samples, per allocation, and
  // when the last periodic sample was taken.
  std::map<std::string, int64_t> cpu_millicores_;
  absl::Time last_usage_ = absl::InfinitePast();
  absl::Time next_usage_ = absl::InfinitePast();
  // When Forget next sweeps the logs kept of forgotten allocations.
  absl::Time next_log_sweep_ = absl::InfinitePast();
  // After a failed status write: when to try the dirty ones again.
  absl::Time next_report_ = absl::InfinitePast();

  // Stops in flight, by alloc id; the thread sets `done` when finished.
  struct StopJob {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::map<std::string, StopJob> stops_;

  // Null without AgentOptions::metrics.
  std::unique_ptr<AgentMetrics> metrics_;

  std::thread loop_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_AGENT_H_
