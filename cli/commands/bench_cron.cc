// `berth bench cron`: the cron engine at scale, in process (issue #6).
//
// N cron jobs live in a MemStore; a leader loop runs as berth-scheduler's
// does (mirror fed by a watch, CronEngine::Step, sleep until the next
// deadline) on the real clock for a window; simulated agents finish every
// claimed run after --run-for. Jobs are spread over the seconds of a
// --period: job i fires at second (i mod period) of each period, so a
// period of 60 puts N/60 jobs on every second.
//
// Reported: scheduled-to-claimed lag (wall time at the claim commit minus
// the tick) p50/p99/max, claims, resident memory (VmRSS deltas of this
// process) and CPU used by the loop; where the loop's time went (engine
// Step, mirror apply, simulated agents, asleep) and how each second's burst
// spreads (first and last claim); then an idle phase with N jobs that do
// not fire during it, whose CPU share is the idle cost.
#include <sys/resource.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/agent.pb.h"
#include "scheduler/cron/engine.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::cli {
namespace {

int64_t RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Everything one phase needs; owns the store, the mirror and the engine.
struct Rig {
  sched::MemStore store;
  sched::ClusterState state;
  std::unique_ptr<sched::StoreWatch> watch;
  std::unique_ptr<cron::CronEngine> engine;
  sched::Fence fence{sched::kLeaderElection, 1};

  absl::Status AddJobs(int n, const std::function<std::string(int)>& spec,
                       int64_t submit_ms) {
    store.SetFence(sched::kLeaderElection, 1);
    for (int i = 0; i < n; ++i) {
      jobpb::JobRecord rec;
      jobpb::Job* job = rec.mutable_job();
      job->set_name(absl::StrCat("cron-", i));
      job->set_namespace_("bench");
      job->set_kind(jobpb::CRON);
      job->mutable_task()->add_command("/bin/true");
      job->mutable_task()->mutable_resources()->set_cpu_millicores(10);
      job->mutable_cron()->set_schedule(spec(i));
      job->mutable_cron()->set_timezone("UTC");
      job->mutable_cron()->set_concurrency(jobpb::CronPolicy::FORBID);
      job->mutable_cron()->set_catch_up(jobpb::CronPolicy::NONE);
      job->mutable_cron()->set_successful_history_limit(3);
      job->mutable_cron()->set_failed_history_limit(1);
      job->set_spec_hash(spec(i));
      rec.set_submit_unix_ms(submit_ms);
      sched::StoreTxn txn;
      txn.ops.push_back(sched::StoreOp::Put(sched::JobKey("bench", job->name()),
                                            rec.SerializeAsString()));
      absl::StatusOr<sched::CommitResult> r = store.Commit(txn, {});
      if (!r.ok()) return r.status();
    }
    absl::StatusOr<sched::StoreSnapshot> snap = store.Load(sched::kBerthPrefix);
    if (!snap.ok()) return snap.status();
    state.Reset(*snap);
    absl::StatusOr<std::unique_ptr<sched::StoreWatch>> w =
        store.Watch(sched::kBerthPrefix, snap->revision + 1);
    if (!w.ok()) return w.status();
    watch = *std::move(w);
    store.Compact(snap->revision);
    return absl::OkStatus();
  }

  absl::Status Pump() {
    absl::StatusOr<std::vector<sched::StoreEvent>> events =
        watch->Next(absl::ZeroDuration());
    if (!events.ok()) return events.status();
    for (const sched::StoreEvent& e : *events) state.Apply(e);
    // Drop the history the mirror has consumed, as lockd's automatic
    // compaction does for a real leader. Kept, MemStore's event vector
    // (every job's record, then every claim) doubled inside the window now
    // and then, and the copy plus malloc_consolidate held up one second's
    // whole burst of claims: 1 % of the claims, so the p99 swung from 42
    // to 90 ms between runs of the same build.
    if (!events->empty()) store.Compact(events->back().revision);
    return absl::OkStatus();
  }
};

// Wall time of the leader loop by activity, over the window.
struct LoopTimes {
  absl::Duration step, pump, agents, sleep;
};

struct Pending {
  std::string alloc_id;
  absl::Time finish;
};

// The leader loop on the real clock until `end`; simulated agents finish
// each claimed run `run_for` after its claim.
absl::Status RunLoop(Rig& rig, absl::Time end, absl::Duration run_for,
                     std::deque<Pending>* pending, LoopTimes* times) {
  Clock* clock = Clock::Real();
  absl::Time now = clock->Now();
  while (now < end) {
    if (absl::Status s = rig.Pump(); !s.ok()) return s;
    const absl::Time t1 = clock->Now();
    absl::StatusOr<absl::Time> next =
        rig.engine->Step(rig.state, t1, rig.fence);
    if (!next.ok()) return next.status();
    const absl::Time t2 = clock->Now();
    if (getenv("CRON_TRACE") && t2 - t1 > absl::Milliseconds(2)) {
      int64_t ms = absl::ToUnixMillis(t1) % 1000;
      fprintf(stderr, "step at +%lld ms took %.1f ms claims=%lld\n",
              (long long)ms, absl::ToDoubleMilliseconds(t2 - t1),
              (long long)rig.engine->stats().claims);
    }
    if (absl::Status s = rig.Pump(); !s.ok()) return s;
    const absl::Time t3 = clock->Now();
    times->pump += (t1 - now) + (t3 - t2);
    times->step += t2 - t1;
    now = t3;
    while (!pending->empty() && pending->front().finish <= now) {
      agentpb::AllocationStatus st;
      st.set_alloc_id(pending->front().alloc_id);
      st.set_node("sim");
      st.set_state(agentpb::EXITED);
      st.set_start_unix_ms(absl::ToUnixMillis(now - run_for));
      st.set_finish_unix_ms(absl::ToUnixMillis(now));
      sched::StoreTxn txn;
      txn.ops.push_back(sched::StoreOp::Put(sched::StatusKey(st.alloc_id()),
                                            st.SerializeAsString()));
      absl::StatusOr<sched::CommitResult> r = rig.store.Commit(txn, {});
      if (!r.ok()) return r.status();
      pending->pop_front();
    }
    const absl::Time t4 = clock->Now();
    times->agents += t4 - now;
    now = t4;
    // Wake for the next deadline, an agent report, or watch events (which a
    // real leader would block on; here 5 ms polling stands in for it).
    absl::Time wake = std::min({*next, end, now + absl::Milliseconds(5)});
    if (!pending->empty()) wake = std::min(wake, pending->front().finish);
    if (wake > now) absl::SleepFor(wake - now);
    const absl::Time t5 = clock->Now();
    times->sleep += t5 - now;
    now = t5;
  }
  return absl::OkStatus();
}

int RunBenchCron(Context& ctx) {
  const int jobs = ctx.args["jobs"].as<int>();
  const int period = ctx.args["period"].as<int>();
  if (jobs <= 0) {
    return ctx.UsageError(absl::InvalidArgumentError(
        absl::StrCat("--jobs must be positive, got ", jobs)));
  }
  if (period <= 0 || 60 % period != 0) {
    return ctx.UsageError(absl::InvalidArgumentError(absl::StrCat(
        "--period must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, "
        "60), got ",
        period)));
  }
  absl::StatusOr<absl::Duration> window =
      ParseDurationFlag("--duration", ctx.Arg("duration"));
  absl::StatusOr<absl::Duration> idle =
      ParseDurationFlag("--idle", ctx.Arg("idle"));
  absl::StatusOr<absl::Duration> run_for =
      ParseDurationFlag("--run-for", ctx.Arg("run-for"));
  for (const auto* d : {&window, &idle, &run_for}) {
    if (!d->ok()) return ctx.UsageError(d->status());
  }
  Clock* clock = Clock::Real();

  // Phase 1: jobs firing throughout the window.
  const int64_t rss0 = RssKb();
  auto rig = std::make_unique<Rig>();
  auto spec = [period](int i) {
    return period == 60 ? absl::StrCat(i % 60, " * * * * *")
                        : absl::StrCat(i % period, "/", period, " * * * * *");
  };
  if (absl::Status s =
          rig->AddJobs(jobs, spec, absl::ToUnixMillis(clock->Now()));
      !s.ok()) {
    return ctx.Fail(s);
  }
  const int64_t rss_jobs = RssKb();
  // Ticks that came due while the loop ran; those due before it started
  // (while jobs were written and the heap built) are catch-up, kept apart.
  std::vector<double> lags_ms;
  // Per tick second: the lag of its first and last claim.
  std::map<int64_t, std::pair<double, double>> bursts;
  int64_t catch_up_claims = 0;
  absl::Time loop_start = absl::InfiniteFuture();
  std::deque<Pending> pending;
  cron::EngineOptions options;
  options.on_claim = [&](const sched::JobId& id, int64_t tick) {
    absl::Time now = clock->Now();
    if (absl::FromUnixSeconds(tick) < loop_start) {
      ++catch_up_claims;
    } else {
      const double lag =
          absl::ToDoubleMilliseconds(now - absl::FromUnixSeconds(tick));
      lags_ms.push_back(lag);
      auto it = bursts.try_emplace(tick, lag, lag).first;
      it->second.first = std::min(it->second.first, lag);
      it->second.second = std::max(it->second.second, lag);
    }
    pending.push_back(
        {sched::CronAllocId(id.first, id.second, tick), now + *run_for});
  };
  rig->engine =
      std::make_unique<cron::CronEngine>(&rig->store, "bench", options);
  absl::Time t0 = clock->Now();
  rig->engine->Sync(rig->state, t0);
  const double sync_ms = absl::ToDoubleMilliseconds(clock->Now() - t0);
  const int64_t rss_engine = RssKb();
  const double cpu0 = CpuSeconds();
  absl::Time start = clock->Now();
  loop_start = start;
  const int64_t commits0 = rig->store.commits();
  LoopTimes times;
  if (absl::Status s =
          RunLoop(*rig, start + *window, *run_for, &pending, &times);
      !s.ok()) {
    return ctx.Fail(s);
  }
  const double busy_cpu =
      (CpuSeconds() - cpu0) / absl::ToDoubleSeconds(clock->Now() - start);
  const int64_t rss_end = RssKb();
  const cron::EngineStats stats = rig->engine->stats();
  // Store commits in the window: claims share transactions (batches), so
  // this is far below the claim count; it does not depend on machine load.
  const int64_t window_commits = rig->store.commits() - commits0;
  rig.reset();

  // Phase 2: idle. Yearly jobs (Jan 1 00:00 UTC) do not fire during it.
  double idle_cpu = 0;
  {
    Rig idle_rig;
    if (absl::Status s = idle_rig.AddJobs(
            jobs, [](int) { return std::string("0 0 1 1 *"); },
            absl::ToUnixMillis(clock->Now()));
        !s.ok()) {
      return ctx.Fail(s);
    }
    idle_rig.engine =
        std::make_unique<cron::CronEngine>(&idle_rig.store, "bench-idle");
    idle_rig.engine->Sync(idle_rig.state, clock->Now());
    std::deque<Pending> none;
    LoopTimes idle_times;
    const double c0 = CpuSeconds();
    absl::Time s0 = clock->Now();
    if (absl::Status s =
            RunLoop(idle_rig, s0 + *idle, *run_for, &none, &idle_times);
        !s.ok()) {
      return ctx.Fail(s);
    }
    idle_cpu = (CpuSeconds() - c0) / absl::ToDoubleSeconds(clock->Now() - s0);
  }

  const double p50 = Percentile(lags_ms, 0.50);
  const double p99 = Percentile(lags_ms, 0.99);
  const double max = Percentile(lags_ms, 1.0);
  std::vector<double> first_ms, last_ms;
  for (const auto& [tick, fl] : bursts) {
    first_ms.push_back(fl.first);
    last_ms.push_back(fl.second);
  }
  const double loop_ms = absl::ToDoubleMilliseconds(times.step + times.pump +
                                                    times.agents + times.sleep);
  auto share = [loop_ms](absl::Duration d) {
    return loop_ms > 0 ? 100 * absl::ToDoubleMilliseconds(d) / loop_ms : 0.0;
  };
  if (ctx.json()) {
    google::protobuf::Struct out;
    auto& f = *out.mutable_fields();
    auto num = [&](const char* k, double v) { f[k].set_number_value(v); };
    num("jobs", jobs);
    num("period_s", period);
    num("window_s", absl::ToDoubleSeconds(*window));
    num("claims", static_cast<double>(lags_ms.size()));
    num("catch_up_claims", static_cast<double>(catch_up_claims));
    num("finalized", static_cast<double>(stats.finalized));
    num("commits", static_cast<double>(window_commits));
    num("claim_batches", static_cast<double>(stats.batches));
    num("finalize_batches", static_cast<double>(stats.finalize_batches));
    num("prepared", static_cast<double>(stats.prepared));
    num("prepared_used", static_cast<double>(stats.prepared_used));
    num("prepared_stale", static_cast<double>(stats.prepared_stale));
    num("burst_first_claim_p50_ms", Percentile(first_ms, 0.5));
    num("burst_last_claim_p50_ms", Percentile(last_ms, 0.5));
    num("burst_last_claim_max_ms", Percentile(last_ms, 1.0));
    num("loop_step_pct", share(times.step));
    num("loop_mirror_apply_pct", share(times.pump));
    num("loop_sim_agents_pct", share(times.agents));
    num("loop_asleep_pct", share(times.sleep));
    num("lag_p50_ms", p50);
    num("lag_p99_ms", p99);
    num("lag_max_ms", max);
    num("sync_ms", sync_ms);
    num("rss_jobs_mb", static_cast<double>(rss_jobs - rss0) / 1024);
    num("rss_engine_mb", static_cast<double>(rss_engine - rss_jobs) / 1024);
    num("rss_total_mb", static_cast<double>(rss_end - rss0) / 1024);
    num("busy_cpu_core_fraction", busy_cpu);
    num("idle_cpu_core_fraction", idle_cpu);
    std::string json;
    google::protobuf::util::JsonPrintOptions po;
    po.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(out, &json, po);
    *ctx.out << json;
    return kExitOk;
  }
  *ctx.out << absl::StrFormat(
      "cron engine, %d jobs, one tick per job every %d s, %.0f s window\n"
      "  claims            %d (finalized %d; %d catch-up claims of ticks "
      "due before the loop started, not in the lag)\n"
      "  store commits     %d in the window, including simulated-agent "
      "writes (%d multi-claim and %d multi-job finalize batches)\n"
      "  lag (tick->claim) p50 %.2f ms  p99 %.2f ms  max %.2f ms\n"
      "  per-second burst  first claim p50 %.2f ms; last claim p50 %.2f ms, "
      "max %.2f ms\n"
      "  loop wall time    engine Step %.1f%%, mirror apply %.1f%%, simulated "
      "agents %.1f%%, asleep %.1f%%\n"
      "  planned ahead     %d claims, %d committed as planned, %d planned "
      "again at the tick\n"
      "  sync (heap build) %.0f ms\n"
      "  memory (VmRSS)    store+mirror %.1f MB, engine %.1f MB, total "
      "after window %.1f MB\n"
      "  cpu               %.1f%% of a core while firing, %.2f%% idle\n",
      jobs, period, absl::ToDoubleSeconds(*window), lags_ms.size(),
      stats.finalized, catch_up_claims, window_commits, stats.batches,
      stats.finalize_batches, p50, p99, max, Percentile(first_ms, 0.5),
      Percentile(last_ms, 0.5), Percentile(last_ms, 1.0), share(times.step),
      share(times.pump), share(times.agents), share(times.sleep),
      stats.prepared, stats.prepared_used, stats.prepared_stale, sync_ms,
      static_cast<double>(rss_jobs - rss0) / 1024,
      static_cast<double>(rss_engine - rss_jobs) / 1024,
      static_cast<double>(rss_end - rss0) / 1024, busy_cpu * 100,
      idle_cpu * 100);
  return kExitOk;
}

}  // namespace

void AddCronBenchCommands(std::vector<Command>* table) {
  table->push_back(
      {"bench cron",
       "measure the cron engine in process: tick-to-claim lag, memory, CPU",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("jobs", po::value<int>()->default_value(100000),
                         "cron jobs")(
             "period", po::value<int>()->default_value(60),
             "each job fires once per PERIOD seconds (divides 60); jobs "
             "are spread over its seconds")(
             "duration", po::value<std::string>()->default_value("10s"),
             "length of the firing window")(
             "idle", po::value<std::string>()->default_value("5s"),
             "length of the idle phase")(
             "run-for", po::value<std::string>()->default_value("1s"),
             "how long each simulated run takes");
       },
       RunBenchCron});
}

}  // namespace berth::cli
