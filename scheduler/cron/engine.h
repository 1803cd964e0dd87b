// CronEngine: fires cron ticks exactly once, from the scheduler leader.
//
// The leader keeps a ClusterState mirror of lockd (Load + Watch) and calls
// the engine from its loop. The engine never places anything: claiming a
// tick creates a pending Allocation record (node "", desired RUN) that the
// reconciler places, and the engine later reads the run's fate back from
// that record (or the agent's status) into the CronRun.
//
// Exactly once. A tick is claimed by ONE fenced transaction with the
// conditions {runs/<tick> absent, marker unchanged since read} that writes
// the CronRun, advances the marker and creates the allocation. Ticks at or
// below the marker are never planned again, so neither a retry, a second
// leader, a failover nor a clock stepping back can claim a tick twice; a
// deposed leader's commits are refused by the fence. See docs/cron.md.
//
// Batching. The claims of different jobs due in the same Step share
// transactions (up to lockd's 128 conditions + operations). A transaction
// applies all or nothing, so each claim keeps its own conditions and the
// argument above holds per claim; a batch that conflicts is retried claim by
// claim, and a batch whose outcome is unknown puts every job in it on the
// retry path, where the conditions again make a second apply impossible.
// Finalizing finished runs (and stopping timed-out ones) is batched across
// jobs the same way (engine_scan.cc, engine_batch.cc). Within a Step, due
// claims commit first, so a tick never waits behind other jobs' finalizations.
//
// Own writes. The engine decides only from the mirror. After it commits
// for a job it leaves that job alone until the mirror has caught up with
// the commit's revision; when a commit's outcome is unknown it retries the
// same conditional transaction, whose conditions make a second apply
// impossible.
//
// Suspension (berth job suspend, or cron.suspend): a suspended job keeps
// its timer and each due tick is claimed as a SKIPPED run with reason
// "suspended"; on resume one conditional transaction decides catch-up for
// those ticks. See suspend.h.
//
// Cost. One entry per cron job in a timer heap of next-fire times: an idle
// Step is a comparison with the heap top. Finished runs and timeouts are
// found by scanning the jobs with an active run, only when the mirror's
// revision moved or a timeout is due.
//
// Thread safety: not thread-safe; one owner (the leader loop) calls it.
// Ownership: borrows `store`, which must outlive the engine. The
// ClusterState passed to each call is only read during that call.
#ifndef BERTH_SCHEDULER_CRON_ENGINE_H_
#define BERTH_SCHEDULER_CRON_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/cron/catch_up.h"
#include "scheduler/cron/schedule.h"
#include "scheduler/cron/timer_heap.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/store.h"

namespace berth::cron {
namespace internal {
struct JobView;
}  // namespace internal

struct EngineOptions {
  // catch_up none still runs a tick this late.
  int64_t on_time_grace_ms = 5000;
  // After a commit whose outcome is unknown (UNAVAILABLE, timeout).
  absl::Duration retry_backoff = absl::Milliseconds(200);
  // Upper bound on commits per Step, so the loop keeps applying watch
  // events under a burst; the rest run at the next Step.
  int max_commits_per_step = 20000;
  // Finished runs deleted per transaction when enforcing history limits.
  int max_history_deletes_per_txn = 32;
  // How long before a tick its claim is planned (zero: never ahead). The
  // Step at the tick then only checks that nothing about the job changed
  // since and commits, so a burst of ticks due in the same second waits
  // for the commits, not for planning (engine_prepare.cc).
  absl::Duration prepare_ahead = absl::Seconds(1);
  // Claims planned ahead per Step; the rest in the Steps right after.
  int max_prepares_per_step = 256;
  // Called right after a claim commits (benchmarks measure lag here).
  std::function<void(const sched::JobId&, int64_t tick)> on_claim;
};

struct EngineStats {
  int64_t claims = 0;
  int64_t skipped = 0;    // forbid
  int64_t suspended = 0;  // ticks skipped because the job is suspended
  int64_t replaced = 0;
  int64_t missed = 0;  // ticks passed over by catch-up or deadline
  int64_t finalized = 0;
  int64_t timeouts = 0;
  int64_t history_deleted = 0;
  int64_t conflicts = 0;           // a condition did not hold
  int64_t batches = 0;             // commits carrying more than one claim
  int64_t batch_fallbacks = 0;     // batches that conflicted, then retried
                                   // claim by claim
  int64_t finalize_batches = 0;    // commits finalizing runs of several jobs
  int64_t finalize_fallbacks = 0;  // those that conflicted, then retried
                                   // job by job
  int64_t unknown_outcomes = 0;    // commit errors other than fence loss
  int64_t bad_specs = 0;           // cron specs that did not parse
  int64_t prepared = 0;            // claims planned ahead of their tick
  int64_t prepared_used = 0;       // of those, committed as planned
  int64_t prepared_stale = 0;      // dropped: the job or the time moved
  std::string last_commit_error;   // for operators; empty if none yet
};

class CronEngine {
 public:
  CronEngine(sched::Store* store, std::string scheduler_id,
             EngineOptions options = {});

  // Rebuilds the timer heap from every cron job in the mirror (on becoming
  // leader, or after the mirror was reloaded).
  void Sync(const sched::ClusterState& state, absl::Time now);
  // Re-reads one job (submitted, changed, stopped, suspended, resumed or
  // deleted). O(log jobs).
  void OnJobChanged(const sched::ClusterState& state, const sched::JobId& job,
                    absl::Time now);

  // Finalizes finished runs, enforces timeouts and history limits, fires due
  // ticks. Returns the latest time by which Step must run again (call it
  // sooner after applying watch events). FAILED_PRECONDITION: the fence is
  // lost; stop calling and give up leadership.
  absl::StatusOr<absl::Time> Step(const sched::ClusterState& state,
                                  absl::Time now, const sched::Fence& fence);

  // A manual run through the same claim path, obeying the concurrency
  // policy (forbid with an active run: ABORTED, nothing stored). Its tick
  // is -(trigger time in unix ms), so it can never equal a scheduled tick.
  // Returns the run's allocation id. UNAVAILABLE: retry (the mirror is
  // behind the engine's own writes, or the outcome is unknown).
  absl::StatusOr<std::string> Trigger(const sched::ClusterState& state,
                                      const sched::JobId& job, absl::Time now,
                                      const sched::Fence& fence);

  // The next tick the engine will consider for `job` (nullopt: not a live
  // cron job, or it never fires again).
  std::optional<absl::Time> NextRun(const sched::JobId& job) const;

  const EngineStats& stats() const { return stats_; }
  size_t job_count() const { return index_.size(); }
  // True when no job waits for the mirror or for a retry: every due tick
  // has been decided and its commit seen in the mirror.
  bool quiescent() const { return blocked_.empty() && retrying_.empty(); }

 private:
  struct Entry {
    sched::JobId id;
    std::optional<Schedule> schedule;
    int64_t every_seconds = 0;
    std::string spec_hash;
    int64_t next_tick = 0;  // 0: not planned yet
  };
  enum class Outcome { kCommitted, kConflict, kUnknown };
  // One due job's planned transaction piece and what it counts once it
  // commits. Pieces of different jobs are committed together (ClaimBatch).
  struct Claim {
    uint32_t slot = 0;
    sched::JobId id;
    sched::StoreTxn txn;
    int64_t tick = 0;
    int64_t next_tick = 0;
    int64_t finalized = 0, claimed = 0, skipped = 0, replaced = 0, missed = 0,
            suspended = 0;
    int trimmed = 0;
    size_t size() const { return txn.conds.size() + txn.ops.size(); }
  };
  // One active job's finalizations and timeout stops, and what they count
  // once committed. Pieces of different jobs are committed together.
  struct Finish {
    sched::JobId id;
    sched::StoreTxn txn;
    int64_t finalized = 0;
    int stops = 0;
    int trimmed = 0;
    size_t size() const { return txn.conds.size() + txn.ops.size(); }
  };
  // What one job contributes to a batch: its own conditions and operations.
  // CommitPieces moves the conditions and operations out of `txn` and puts
  // them back if the batch conflicts.
  struct Piece {
    const sched::JobId* id;
    sched::StoreTxn* txn;
  };

  // A claim planned before its tick (PrepareAhead) for the heap deadline
  // `deadline`, from the mirror at `revision`.
  // Unusable ones (the job could not be planned then) keep PrepareAhead
  // from trying the same slot again and again for the same deadline.
  struct Prepared {
    Claim claim;
    TickPlan plan;
    // What the plan's catch-up decision read, to take it again at the tick.
    int64_t marker_tick = 0;
    CatchUpPolicy cp;
    absl::Time deadline;
    int64_t revision = 0;
    bool usable = false;
    bool has_active_run = false;
  };

  void Remove(uint32_t slot);
  // The claim of `plan` for the job in `slot`, built from the mirror as of
  // `now_ms`; changes no engine state.
  Claim BuildClaim(const sched::ClusterState& state, uint32_t slot,
                   const internal::JobView& view, const TickPlan& plan,
                   const TickSource& ticks, int64_t now_ms) const;
  // Plans the claims of ticks due by now + prepare_ahead (at most
  // max_prepares_per_step); true when some are left for the next Step.
  bool PrepareAhead(const sched::ClusterState& state, absl::Time now);
  Prepared Prepare(const sched::ClusterState& state, uint32_t slot,
                   absl::Time deadline) const;
  // The claim planned ahead for `slot`, if it still holds at `now`; either
  // way the slot has none afterwards. Moves the slot out of the heap as
  // PlanDue does.
  std::optional<Claim> TakePrepared(const sched::ClusterState& state,
                                    uint32_t slot, absl::Time deadline,
                                    absl::Time now);
  // Plans the due job in `slot`: nullopt when it has nothing to commit now
  // (its heap entry moved); otherwise its entry leaves the heap until
  // FinishClaim puts the job back.
  std::optional<Claim> PlanDue(const sched::ClusterState& state, uint32_t slot,
                               absl::Time now);
  // Commits the claims of distinct jobs in one transaction. A batch that
  // conflicts applied nothing, so each claim is then committed on its own:
  // one claim's conflict never loses the others.
  absl::Status CommitClaims(std::vector<Claim>* batch, absl::Time now,
                            const sched::Fence& fence);
  void FinishClaim(const Claim& c, Outcome out, absl::Time now);
  // Commits the pieces of distinct jobs as one transaction; if it conflicts
  // (so nothing applied), each piece on its own. Calls done(i, outcome)
  // once per piece. Only a lost fence is returned. `batches` and
  // `fallbacks` count multi-piece commits and their conflicts.
  absl::Status CommitPieces(const std::vector<Piece>& pieces,
                            const sched::Fence& fence, int64_t* batches,
                            int64_t* fallbacks,
                            const std::function<void(size_t, Outcome)>& done);
  // Finalizes finished runs and stops timed-out ones (engine_scan.cc).
  absl::Status ScanActive(const sched::ClusterState& state, absl::Time now,
                          const sched::Fence& fence);
  // Builds the job's finalizations and stops into `f`; false when there is
  // nothing to write (`*still_active` says whether it keeps a live run).
  bool PlanFinish(const sched::ClusterState& state, const sched::JobId& id,
                  absl::Time now, Finish* f, bool* still_active);
  absl::Status CommitFinishes(std::vector<Finish>* batch, absl::Time now,
                              const sched::Fence& fence);
  // Commits; FAILED_PRECONDITION is returned, other errors become kUnknown.
  absl::StatusOr<Outcome> Commit(const sched::StoreTxn& txn,
                                 const sched::Fence& fence,
                                 const sched::JobId& job);
  absl::StatusOr<Outcome> Commit(const sched::StoreTxn& txn,
                                 const sched::Fence& fence,
                                 const std::vector<sched::JobId>& jobs);
  bool Waiting(const sched::ClusterState& state, const sched::JobId& job) const;

  sched::Store* store_;
  std::string scheduler_id_;
  EngineOptions options_;
  EngineStats stats_;

  std::vector<Entry> entries_;
  std::vector<uint32_t> free_slots_;
  std::map<sched::JobId, uint32_t> index_;
  TimerHeap heap_;
  // Slots whose last commit the mirror has not shown yet.
  std::set<uint32_t> blocked_;
  // Slots retrying after an unknown outcome (they sit in the heap).
  std::set<uint32_t> retrying_;
  // Per job: the revision of the engine's last commit (or conflict).
  std::map<sched::JobId, int64_t> wait_revision_;
  // Jobs with an ACTIVE run (possibly already finished).
  std::set<sched::JobId> active_;
  int64_t scanned_revision_ = -1;
  // The `now` of the previous Step: a clock stepping back must not delay
  // retries and timeout checks that were scheduled relative to it.
  absl::Time last_now_ = absl::InfinitePast();
  absl::Time next_timeout_ = absl::InfiniteFuture();
  int commits_this_step_ = 0;
  // Parsed (spec, zone) pairs, only while Sync runs: jobs often share
  // schedules, and parsing dominates a Sync of 100,000 jobs.
  struct Parsed {
    Schedule schedule;
    int64_t every_seconds;
  };
  std::map<std::pair<std::string, std::string>, Parsed>* parse_cache_ = nullptr;
  // Scratch space of Step's batches, kept between Steps: growing fresh
  // vectors of these large elements during each burst made glibc
  // consolidate its free lists on the claim path (perf: malloc_consolidate
  // under vector<Claim>::push_back, 14 % of a burst).
  std::vector<Claim> claim_batch_;
  std::vector<Finish> finish_batch_;
  std::vector<Piece> pieces_;
  std::vector<sched::JobId> batch_ids_;
  sched::StoreTxn combined_;
  // Claims planned ahead, by slot. Looked up only, never iterated, so the
  // hash order cannot change what the engine does.
  absl::flat_hash_map<uint32_t, Prepared> prepared_;
  // PrepareAhead's next full walk of the heap.
  absl::Time next_prepare_ = absl::InfinitePast();
};

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_ENGINE_H_
