// `berth bench schedule`: the scheduler's placement and commit path at
// scale, in process (issue #5): N simulated nodes registered in a MemStore,
// jobs submitted one at a time until T tasks exist, and after each submit
// one leader pass exactly as berth-scheduler runs it (the mirror's dirty
// jobs Taken, Reconcile over them, the plan committed in fenced
// transactions of up to 100 operations, the mirror caught up from the
// watch). One submit is one evaluation; its latency covers the whole pass.
// Then, at full size: passes with nothing changed (the idle cost), one
// all-jobs pass (the leader's safety sweep), and the process's memory.
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "scheduler/reconcile/reconciler.h"
#include "scheduler/spec/job_spec.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"
#include "scheduler/state/pack.h"

namespace berth::cli {
namespace {

constexpr char kLock[] = "/bench/leader";

absl::Status Commit(sched::MemStore& store, const sched::Plan& plan,
                    int64_t* commits) {
  for (const sched::StoreTxn& txn : sched::PackTxns(plan.changes)) {
    absl::StatusOr<sched::CommitResult> r =
        store.Commit(txn, sched::Fence{kLock, 1});
    if (!r.ok()) return r.status();
    ++*commits;
  }
  return absl::OkStatus();
}

// Resident and peak resident memory of this process, in MiB (Linux).
std::pair<double, double> MemoryMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atof(line.c_str() + 6) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atof(line.c_str() + 6) / 1024;
  }
  return {rss, hwm};
}

// CPU time of this thread: on a shared machine wall time includes waiting
// for a core, CPU time does not.
absl::Duration ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

int Schedule(Context& ctx) {
  auto nodes = ParseCount("--nodes", ctx.Arg("nodes"));
  auto tasks = ParseCount("--tasks", ctx.Arg("tasks"));
  auto per_job = ParseCount("--tasks-per-job", ctx.Arg("tasks-per-job"));
  if (!nodes.ok()) return ctx.UsageError(nodes.status());
  if (!tasks.ok()) return ctx.UsageError(tasks.status());
  if (!per_job.ok()) return ctx.UsageError(per_job.status());
  if (*nodes <= 0 || *tasks <= 0 || *per_job <= 0) {
    return ctx.UsageError(absl::InvalidArgumentError(
        "--nodes, --tasks and --tasks-per-job must be positive"));
  }
  sched::MemStore store;
  store.SetFence(kLock, 1);
  {
    sched::StoreTxn txn;
    for (int64_t i = 0; i < *nodes; ++i) {
      agentpb::NodeInfo n;
      n.set_name(absl::StrFormat("node-%05d", i));
      n.set_cpu_millicores(16000);
      n.set_memory_bytes(int64_t{64} << 30);
      n.set_pids(100000);
      (*n.mutable_labels())["zone"] = absl::StrCat("z", i % 4);
      txn.ops.push_back(
          sched::StoreOp::Put(sched::NodeKey(n.name()), n.SerializeAsString()));
      if (txn.ops.size() == 100 || i + 1 == *nodes) {
        if (!store.Commit(txn, sched::Fence{}).ok()) return kExitFailure;
        txn = sched::StoreTxn();
      }
    }
  }
  sched::ClusterState state;
  state.Reset(*store.Load(sched::kBerthPrefix));
  auto watch = store.Watch(sched::kBerthPrefix, state.revision() + 1);
  if (!watch.ok()) return ctx.Fail(watch.status());
  auto catch_up = [&]() {
    absl::StatusOr<std::vector<sched::StoreEvent>> ev =
        (*watch)->Next(absl::ZeroDuration());
    if (ev.ok()) {
      for (const sched::StoreEvent& e : *ev) state.Apply(e);
    }
    // The watch has everything; a real lockd compacts its history too.
    store.Compact(state.revision());
  };
  int64_t commits = 0, evaluated = 0;
  // One leader pass as Scheduler::Pass runs it (scope from the dirty set).
  auto pass = [&](sched::EvalScope scope, sched::Plan* plan) -> absl::Status {
    absl::Time now = absl::Now();
    *plan = sched::Reconcile(state, scope, now);
    for (const auto& [job, t] : plan->wakes) state.dirty().WakeAt(job, t);
    evaluated += plan->jobs_evaluated;
    if (absl::Status s = Commit(store, *plan, &commits); !s.ok()) return s;
    catch_up();
    return absl::OkStatus();
  };
  // The first pass after a Reset covers every job (there are none yet).
  {
    sched::Plan plan;
    if (absl::Status s = pass(state.dirty().Take(absl::Now()), &plan);
        !s.ok()) {
      return ctx.Fail(s);
    }
  }

  std::vector<double> eval_ms, eval_cpu_ms;
  int64_t placed = 0, submitted = 0, jobs = 0;
  absl::Duration busy, busy_cpu;
  const absl::Time start = absl::Now();
  while (submitted < *tasks) {
    int64_t n = std::min(*per_job, *tasks - submitted);
    std::string yaml = absl::StrFormat(
        "job: j%05d\nkind: service\nreplicas: %d\nplacement: %s\n"
        "task:\n  command: [\"/bin/app\"]\n"
        "  resources: {cpu: 100m, memory: 128MiB}\n  ports: [{name: http}]\n",
        jobs, n, jobs % 2 ? "binpack" : "spread");
    auto parsed = sched::ParseJobSpecs(yaml, "bench");
    if (!parsed.ok()) return ctx.Fail(parsed.status());
    jobpb::JobRecord rec;
    *rec.mutable_job() = parsed->front();
    rec.set_version(1);
    sched::StoreTxn txn;
    txn.ops.push_back(sched::StoreOp::Put(
        sched::JobKey("default", rec.job().name()), rec.SerializeAsString()));
    if (!store.Commit(txn, sched::Fence{kLock, 1}).ok()) return kExitFailure;
    catch_up();
    absl::Time t0 = absl::Now();
    absl::Duration c0 = ThreadCpu();
    sched::Plan plan;
    if (absl::Status s = pass(state.dirty().Take(t0), &plan); !s.ok()) {
      return ctx.Fail(s);
    }
    absl::Duration d = absl::Now() - t0;
    absl::Duration c = ThreadCpu() - c0;
    busy += d;
    busy_cpu += c;
    eval_ms.push_back(absl::ToDoubleMilliseconds(d));
    eval_cpu_ms.push_back(absl::ToDoubleMilliseconds(c));
    for (const std::string& line : plan.log) {
      placed += line.rfind("place ", 0) == 0;
    }
    submitted += n;
    ++jobs;
  }
  const double wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  const double evals_per_pass =
      static_cast<double>(evaluated) / std::max<size_t>(1, eval_ms.size());

  // Nothing changes from here on. The first pass still sees the last
  // pass's own writes; after it, a pass has nothing to evaluate.
  sched::Plan plan;
  if (absl::Status s = pass(state.dirty().Take(absl::Now()), &plan); !s.ok()) {
    return ctx.Fail(s);
  }
  std::vector<double> idle_us, idle_cpu_us;
  int64_t idle_evaluated = 0;
  for (int i = 0; i < 1000; ++i) {
    absl::Time t0 = absl::Now();
    absl::Duration c0 = ThreadCpu();
    if (absl::Status s = pass(state.dirty().Take(t0), &plan); !s.ok()) {
      return ctx.Fail(s);
    }
    idle_cpu_us.push_back(absl::ToDoubleMicroseconds(ThreadCpu() - c0));
    idle_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    idle_evaluated += plan.jobs_evaluated;
  }
  // The leader's safety sweep: every job, nothing to do.
  absl::Time t0 = absl::Now();
  absl::Duration c0 = ThreadCpu();
  if (absl::Status s = pass(sched::EvalScope::All(), &plan); !s.ok()) {
    return ctx.Fail(s);
  }
  const double sweep_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  const double sweep_cpu_ms = absl::ToDoubleMilliseconds(ThreadCpu() - c0);
  const size_t sweep_changes = plan.changes.size();
  auto [rss, hwm] = MemoryMiB();

  double rate = placed / absl::ToDoubleSeconds(busy);
  double cpu_rate = placed / absl::ToDoubleSeconds(busy_cpu);
  if (ctx.json()) {
    *ctx.out << absl::StrFormat(
        "{\"nodes\":%d,\"tasks\":%d,\"jobs\":%d,\"placed\":%d,"
        "\"placements_per_second\":%.0f,\"eval_p50_ms\":%.2f,"
        "\"eval_p99_ms\":%.2f,\"eval_max_ms\":%.2f,"
        "\"placements_per_cpu_second\":%.0f,\"eval_cpu_p50_ms\":%.2f,"
        "\"eval_cpu_p99_ms\":%.2f,\"idle_pass_cpu_p50_us\":%.1f,"
        "\"full_pass_cpu_ms\":%.1f,"
        "\"jobs_evaluated_per_pass\":%.2f,\"commits\":%d,"
        "\"idle_pass_p50_us\":%.1f,\"idle_pass_max_us\":%.1f,"
        "\"idle_jobs_evaluated\":%d,\"full_pass_ms\":%.1f,"
        "\"full_pass_changes\":%d,\"rss_mib\":%.0f,\"peak_rss_mib\":%.0f,"
        "\"wall_s\":%.1f}\n",
        *nodes, *tasks, jobs, placed, rate, Percentile(eval_ms, 0.5),
        Percentile(eval_ms, 0.99), Percentile(eval_ms, 1), cpu_rate,
        Percentile(eval_cpu_ms, 0.5), Percentile(eval_cpu_ms, 0.99),
        Percentile(idle_cpu_us, 0.5), sweep_cpu_ms, evals_per_pass, commits,
        Percentile(idle_us, 0.5), Percentile(idle_us, 1), idle_evaluated,
        sweep_ms, sweep_changes, rss, hwm, wall_s);
    return placed == *tasks ? kExitOk : kExitFailure;
  }
  *ctx.out << absl::StrFormat(
      "nodes %d, tasks %d in %d jobs: placed %d\n"
      "placements/s %.0f (placement + commit + mirror, one thread)\n"
      "per evaluation: p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
      "%.2f jobs evaluated per pass; %d commits\n"
      "thread CPU: placements/s %.0f; per evaluation p50 %.2f ms, "
      "p99 %.2f ms\n"
      "pass with nothing changed: p50 %.1f us, max %.1f us, CPU p50 %.1f us "
      "(%d jobs evaluated in 1000 passes)\n"
      "all-jobs pass (safety sweep): %.1f ms, CPU %.1f ms, %d changes\n"
      "memory: RSS %.0f MiB, peak %.0f MiB (whole process: mirror, "
      "in-memory store and its history)\n"
      "wall %.1f s\n",
      *nodes, *tasks, jobs, placed, rate, Percentile(eval_ms, 0.5),
      Percentile(eval_ms, 0.99), Percentile(eval_ms, 1), evals_per_pass,
      commits, cpu_rate, Percentile(eval_cpu_ms, 0.5),
      Percentile(eval_cpu_ms, 0.99), Percentile(idle_us, 0.5),
      Percentile(idle_us, 1), Percentile(idle_cpu_us, 0.5), idle_evaluated,
      sweep_ms, sweep_cpu_ms, sweep_changes, rss, hwm, wall_s);
  return placed == *tasks ? kExitOk : kExitFailure;
}

}  // namespace

void AddScheduleBenchCommands(std::vector<Command>* table) {
  table->push_back(
      {"bench schedule",
       "placement + fenced commit at scale, in process (MemStore)",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("nodes",
                         po::value<std::string>()->default_value("10000"),
                         "simulated nodes (16 cores, 64 GiB each)")(
             "tasks", po::value<std::string>()->default_value("100000"),
             "tasks to place in all")(
             "tasks-per-job", po::value<std::string>()->default_value("100"),
             "replicas per submitted job (one evaluation each)");
       },
       Schedule});
}

}  // namespace berth::cli
