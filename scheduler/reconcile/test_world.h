// TestWorld: a MemStore-backed cluster for reconciler and scheduler unit
// tests. Nodes register, jobs are submitted, the reconciler's plans are
// applied, and the "agents" are played by the test (Run, Exit, Health),
// all on a simulated time.
//
// Two modes. Full (the default): the mirror is reloaded before every look
// and each pass evaluates every job. Incremental: the mirror follows the
// store's watch as the leader's does, and each pass evaluates only what
// its dirty set names (plus the wake-ups earlier passes asked for), as
// Scheduler::Pass does.
#ifndef BERTH_SCHEDULER_RECONCILE_TEST_WORLD_H_
#define BERTH_SCHEDULER_RECONCILE_TEST_WORLD_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "scheduler/reconcile/convert.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/spec/job_spec.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::sched::testing {

class TestWorld {
 public:
  explicit TestWorld(bool incremental = false)
      : incremental_(incremental), now_(absl::FromUnixSeconds(1'800'000'000)) {
    state_.Reset(*store_.Load(kBerthPrefix));
    watch_ = std::move(*store_.Watch(kBerthPrefix, state_.revision() + 1));
  }

  absl::Time now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

  void AddNode(const std::string& name, int64_t cpu_m = 4000,
               int64_t mem = int64_t{8} << 30,
               std::map<std::string, std::string> labels = {}) {
    agentpb::NodeInfo n;
    n.set_name(name);
    n.set_cpu_millicores(cpu_m);
    n.set_memory_bytes(mem);
    n.set_pids(100000);
    for (auto& [k, v] : labels) (*n.mutable_labels())[k] = v;
    Put(NodeKey(name), n.SerializeAsString());
  }
  void RemoveNode(const std::string& name) { Del(NodeKey(name)); }

  // Parses YAML and stores the job as a submit would.
  jobpb::JobRecord Submit(const std::string& yaml) {
    absl::StatusOr<std::vector<jobpb::Job>> jobs = ParseJobSpecs(yaml, "t");
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    jobpb::Job job = jobs->front();
    Refresh();
    jobpb::JobRecord rec;
    if (const jobpb::JobRecord* old =
            state_.FindJob({job.namespace_(), job.name()})) {
      rec = *old;
      *rec.mutable_previous() = old->job();
      rec.set_version(old->version() + 1);
      rec.mutable_rollout()->set_from_version(old->version());
      rec.mutable_rollout()->set_to_version(rec.version());
      rec.mutable_rollout()->set_done(0);
      rec.mutable_rollout()->set_rolling_back(false);
      rec.mutable_rollout()->set_started_unix_ms(absl::ToUnixMillis(now_));
    } else {
      rec.set_version(1);
      rec.set_submit_unix_ms(absl::ToUnixMillis(now_));
    }
    *rec.mutable_job() = job;
    Put(JobKey(job.namespace_(), job.name()), rec.SerializeAsString());
    return rec;
  }

  // One reconcile pass, applied; returns its log.
  std::vector<std::string> Step() {
    Refresh();
    Plan plan = incremental_
                    ? Reconcile(state_, state_.dirty().Take(now_), now_, opts_)
                    : Reconcile(state_, now_, opts_);
    for (const auto& [job, t] : plan.wakes) state_.dirty().WakeAt(job, t);
    for (const StoreTxn& txn : plan.changes) {
      absl::StatusOr<CommitResult> r = store_.Commit(txn, Fence{});
      EXPECT_TRUE(r.ok()) << r.status();
    }
    wake_ = plan.wake;
    last_evaluated_ = plan.jobs_evaluated;
    last_changed_ = plan.changed_jobs;
    Refresh();
    return plan.log;
  }
  // Passes until nothing changes (bounded).
  void Settle(int max_passes = 20) {
    for (int i = 0; i < max_passes; ++i) {
      int64_t before = store_.revision();
      Step();
      if (store_.revision() == before) return;
    }
  }

  // The agent on the alloc's node starts it (and is healthy at once).
  void Run(const std::string& id, bool healthy = true) {
    const jobpb::Allocation& a = Alloc(id);
    agentpb::AllocationStatus s;
    s.set_alloc_id(id);
    s.set_node(a.node());
    s.set_state(agentpb::RUNNING);
    s.set_attempt(a.attempt());
    s.set_start_unix_ms(absl::ToUnixMillis(now_));
    s.set_healthy(healthy);
    if (healthy) s.set_healthy_since_unix_ms(absl::ToUnixMillis(now_));
    Put(StatusKey(id), s.SerializeAsString());
  }
  void Exit(const std::string& id, int code,
            agentpb::AllocState state = agentpb::EXITED) {
    const jobpb::Allocation& a = Alloc(id);
    agentpb::AllocationStatus s;
    s.set_alloc_id(id);
    s.set_node(a.node());
    s.set_state(state);
    s.set_exit_code(code);
    s.set_attempt(a.attempt());
    s.set_finish_unix_ms(absl::ToUnixMillis(now_));
    Put(StatusKey(id), s.SerializeAsString());
  }
  // Every placed, running-desired allocation without a status starts.
  void RunAllPlaced(bool healthy = true) {
    Refresh();
    std::vector<std::string> ids;
    for (const auto& [id, v] : state_.allocs()) {
      if (IsLive(v.value) && WantsRun(v.value) && !v.value.node().empty() &&
          !state_.FindStatus(id)) {
        ids.push_back(id);
      }
    }
    for (const std::string& id : ids) Run(id, healthy);
  }
  // Agents stop what they were told to stop.
  void StopAllStopping() {
    Refresh();
    std::vector<std::string> ids;
    for (const auto& [id, v] : state_.allocs()) {
      if (IsLive(v.value) && !WantsRun(v.value) && !v.value.node().empty()) {
        ids.push_back(id);
      }
    }
    for (const std::string& id : ids) Exit(id, 143, agentpb::KILLED);
  }

  const jobpb::Allocation& Alloc(const std::string& id) {
    Refresh();
    return state_.allocs().at(id).value;
  }
  // Live allocations of a job wanting to run.
  std::vector<jobpb::Allocation> Live(const std::string& job,
                                      const std::string& ns = "default") {
    Refresh();
    std::vector<jobpb::Allocation> out;
    for (const std::string& id : state_.AllocsOf({ns, job})) {
      const jobpb::Allocation& a = state_.allocs().at(id).value;
      if (IsLive(a) && WantsRun(a)) out.push_back(a);
    }
    return out;
  }
  // A copy: every later call refreshes state_, which would leave a
  // reference dangling (ASan caught two tests reading one).
  jobpb::JobRecord Job(const std::string& job,
                       const std::string& ns = "default") {
    Refresh();
    return *state_.FindJob({ns, job});
  }
  const ClusterState& state() {
    Refresh();
    return state_;
  }
  MemStore& store() { return store_; }
  absl::Time wake() const { return wake_; }
  ReconcileOptions& options() { return opts_; }
  // What the last Step evaluated and changed.
  int64_t last_evaluated() const { return last_evaluated_; }
  const std::set<JobId>& last_changed() const { return last_changed_; }

 private:
  void Put(const std::string& k, const std::string& v) {
    StoreTxn t;
    t.ops.push_back(StoreOp::Put(k, v));
    ASSERT_TRUE(store_.Commit(t, Fence{}).ok());
  }
  void Del(const std::string& k) {
    StoreTxn t;
    t.ops.push_back(StoreOp::Delete(k));
    ASSERT_TRUE(store_.Commit(t, Fence{}).ok());
  }
  void Refresh() {
    if (!incremental_) {
      state_.Reset(*store_.Load(kBerthPrefix));
      return;
    }
    absl::StatusOr<std::vector<StoreEvent>> events =
        watch_->Next(absl::ZeroDuration());
    ASSERT_TRUE(events.ok()) << events.status();
    for (const StoreEvent& e : *events) state_.Apply(e);
  }

  const bool incremental_;
  MemStore store_;
  std::unique_ptr<StoreWatch> watch_;
  ReconcileOptions opts_;
  int64_t last_evaluated_ = 0;
  std::set<JobId> last_changed_;
  ClusterState state_;
  absl::Time now_;
  absl::Time wake_ = absl::InfiniteFuture();
};

}  // namespace berth::sched::testing

#endif  // BERTH_SCHEDULER_RECONCILE_TEST_WORLD_H_
