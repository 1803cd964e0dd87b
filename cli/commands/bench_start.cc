// `berth bench start`: how long a trivial task takes from submit to
// running and to exited through the real scheduler and agent, and how many
// trivial tasks per second the whole pipeline completes (issue #14).
//
// --cluster own (the default) starts three berth-lockd replicas, one or two
// berth-scheduler processes and one berth-agent (linux or process runtime)
// on 127.0.0.1 from the real binaries, and stops them afterwards;
// --cluster existing measures the cluster named by --lock-endpoints and
// --scheduler, and purges its bench jobs afterwards. See
// bench_start_run.h for the phases and the exact milestone definitions.
#include "cli/commands/bench_start.h"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/commands/bench_proc.h"
#include "cli/commands/bench_start_cluster.h"
#include "cli/commands/bench_start_probe.h"
#include "cli/commands/bench_start_run.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/sched_client.h"
#include "cli/signals.h"
#include "lockservice/client/client.h"

namespace berth::cli {
namespace {

constexpr const char* kRoles[] = {"lockd", "scheduler", "agent"};

Json JDouble(double d) {
  Json v;
  v.set_number_value(std::round(d * 100) / 100);
  return v;
}

absl::StatusOr<int64_t> CountFlag(const Context& ctx, const char* name,
                                  int64_t min, int64_t max) {
  absl::StatusOr<int64_t> n =
      ParseCount(absl::StrCat("--", name), ctx.args[name].as<std::string>());
  if (!n.ok()) return n.status();
  if (*n < min || *n > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", *n, "\" for --", name, ": want ", min, "..", max));
  }
  return *n;
}

struct RunOptions {
  bool own = true;
  LocalClusterOptions cluster;
  int64_t latency_tasks = 0;
  int64_t batch_tasks = 0;
  StartPhaseSpec base;
  bool purge = true;
};

absl::StatusOr<RunOptions> ReadOptions(const Context& ctx) {
  RunOptions o;
  const std::string cluster = ctx.args["cluster"].as<std::string>();
  if (cluster != "own" && cluster != "existing") {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", cluster, "\" for --cluster: want own or existing"));
  }
  o.own = cluster == "own";
  o.cluster.runtime = ctx.Has("runtime") ? ctx.Arg("runtime")
                      : geteuid() == 0   ? "linux"
                                         : "process";
  auto scheds = CountFlag(ctx, "schedulers", 1, 2);
  if (!scheds.ok()) return scheds.status();
  o.cluster.schedulers = static_cast<int>(*scheds);
  o.cluster.bin_dir = ctx.Arg("bin-dir");
  o.cluster.work_dir = ctx.Arg("work-dir");
  o.cluster.keep_work_dir = ctx.Has("keep");
  if (ctx.Has("port-base")) {
    int base = 0;
    if (!absl::SimpleAtoi(ctx.Arg("port-base"), &base) || base < 1024 ||
        base > 65000) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid value \"", ctx.Arg("port-base"),
                       "\" for --port-base: want a port in 1024..65000"));
    }
    o.cluster.port_base = base;
  }
  auto latency = CountFlag(ctx, "latency-tasks", 0, 100000);
  if (!latency.ok()) return latency.status();
  o.latency_tasks = *latency;
  auto batch = CountFlag(ctx, "batch", 0, 1000000);
  if (!batch.ok()) return batch.status();
  o.batch_tasks = *batch;
  if (o.latency_tasks == 0 && o.batch_tasks == 0) {
    return absl::InvalidArgumentError(
        "--latency-tasks and --batch are both 0: nothing to measure");
  }
  auto per_job = CountFlag(ctx, "tasks-per-job", 1, 100000);
  if (!per_job.ok()) return per_job.status();
  o.base.tasks_per_job = *per_job;
  auto submitters = CountFlag(ctx, "submitters", 1, 256);
  if (!submitters.ok()) return submitters.status();
  o.base.submitters = static_cast<int>(*submitters);
  o.base.cpu = ctx.args["cpu"].as<std::string>();
  o.base.memory = ctx.args["memory"].as<std::string>();
  auto wait =
      ParseDurationFlag("--max-wait", ctx.args["max-wait"].as<std::string>());
  if (!wait.ok()) return wait.status();
  o.base.max_wait = *wait;
  o.base.rpc_timeout = ctx.global.timeout;
  o.purge = !ctx.Has("keep-jobs");
  // Job names must be DNS labels; pid and time keep runs apart.
  o.base.job_prefix = absl::StrFormat(
      "bs-%x%x-", getpid() & 0xffff,
      static_cast<uint32_t>(absl::ToUnixSeconds(absl::Now())) & 0xffffff);
  return o;
}

struct PhaseOutput {
  StartPhaseResult result;
  std::map<std::string, double> cpu_seconds;  // by role; own cluster only
};

absl::StatusOr<PhaseOutput> RunPhase(const StartPhaseSpec& spec,
                                     StartProbe* probe,
                                     const LocalCluster* cluster) {
  std::map<std::string, ProcSample> before;
  if (cluster != nullptr) {
    for (const char* role : kRoles) {
      auto s = ReadProcs(cluster->Pids(role));
      if (s.ok()) before[role] = *s;
    }
  }
  absl::StatusOr<StartPhaseResult> r = RunStartPhase(spec, probe);
  if (!r.ok()) return r.status();
  PhaseOutput out{*std::move(r), {}};
  if (cluster != nullptr) {
    for (const char* role : kRoles) {
      auto s = ReadProcs(cluster->Pids(role));
      if (s.ok() && before.count(role) > 0) {
        out.cpu_seconds[role] = s->cpu_seconds - before[role].cpu_seconds;
      }
    }
  }
  return out;
}

Json PhaseJson(const PhaseOutput& p) {
  const StartPhaseResult& r = p.result;
  std::vector<std::pair<std::string, Json>> ms;
  google::protobuf::Struct milestones;
  for (const auto& [name, pc] : r.milestones) {
    Json v = JObj({{"samples", JNum(pc.count)},
                   {"p50", JDouble(pc.p50)},
                   {"p90", JDouble(pc.p90)},
                   {"p99", JDouble(pc.p99)},
                   {"max", JDouble(pc.max)}});
    (*milestones.mutable_fields())[name] = v;
  }
  Json mj;
  *mj.mutable_struct_value() = milestones;
  google::protobuf::Struct cpu;
  for (const auto& [role, s] : p.cpu_seconds) {
    (*cpu.mutable_fields())[role] = JDouble(s);
  }
  Json cj;
  *cj.mutable_struct_value() = cpu;
  return JObj({{"phase", JStr(r.name)},
               {"tasks", JNum(r.tasks)},
               {"jobs", JNum(r.jobs)},
               {"completed", JNum(r.completed)},
               {"errors", JNum(r.errors)},
               {"first_error", JStr(r.first_error)},
               {"wall_s", JDouble(absl::ToDoubleSeconds(r.wall))},
               {"completed_per_second", JDouble(r.completed_per_second)},
               {"milestones_ms", mj},
               {"cpu_s", cj}});
}

void PrintPhases(Context& ctx, const std::vector<PhaseOutput>& phases) {
  std::vector<std::vector<std::string>> rows = {
      {"PHASE", "TASKS", "JOBS", "COMPLETED", "ERRORS", "WALL", "TASKS/S"}};
  for (const PhaseOutput& p : phases) {
    const StartPhaseResult& r = p.result;
    rows.push_back({r.name, absl::StrCat(r.tasks), absl::StrCat(r.jobs),
                    absl::StrCat(r.completed), absl::StrCat(r.errors),
                    absl::StrFormat("%.2fs", absl::ToDoubleSeconds(r.wall)),
                    absl::StrFormat("%.1f", r.completed_per_second)});
  }
  PrintTable(*ctx.out, rows);
  for (const PhaseOutput& p : phases) {
    *ctx.out << "\n" << p.result.name << ": ms from submit\n";
    std::vector<std::vector<std::string>> m = {
        {"MILESTONE", "N", "P50", "P90", "P99", "MAX"}};
    for (const auto& [name, pc] : p.result.milestones) {
      m.push_back(
          {name, absl::StrCat(pc.count), absl::StrFormat("%.1f", pc.p50),
           absl::StrFormat("%.1f", pc.p90), absl::StrFormat("%.1f", pc.p99),
           absl::StrFormat("%.1f", pc.max)});
    }
    PrintTable(*ctx.out, m);
    if (!p.cpu_seconds.empty()) {
      *ctx.out << "cpu seconds during the phase:";
      for (const auto& [role, s] : p.cpu_seconds) {
        *ctx.out << absl::StrFormat(" %s %.2f", role, s);
      }
      *ctx.out << "\n";
    }
    if (!p.result.first_error.empty()) {
      *ctx.out << "first error: " << p.result.first_error << "\n";
    }
  }
}

// Stops and purges the bench's jobs on a cluster that outlives the run.
void Purge(Context& ctx, const std::vector<std::string>& endpoints,
           const std::vector<std::string>& jobs) {
  SchedClient client(endpoints, ctx.global.timeout, nullptr);
  int64_t failed = 0;
  for (const std::string& job : jobs) {
    schedpb::StopJobRequest req;
    req.set_namespace_("default");
    req.set_job(job);
    req.set_purge(true);
    schedpb::StopJobResponse resp;
    if (!client
             .Run([&](auto* stub, auto* c) {
               return stub->StopJob(c, req, &resp);
             })
             .ok()) {
      ++failed;
    }
  }
  if (failed > 0) {
    *ctx.err << "berth bench start: " << failed << " of " << jobs.size()
             << " bench jobs could not be purged (names start with "
             << (jobs.empty() ? "" : jobs.front().substr(0, 10)) << ")\n";
  }
}

int Run(Context& ctx, const RunOptions& o, LocalCluster* cluster) {
  std::vector<std::string> lock_eps =
      cluster ? cluster->lock_endpoints() : ctx.global.lock_endpoints;
  std::vector<std::string> sched_eps =
      cluster ? cluster->scheduler_endpoints() : ctx.global.scheduler_endpoints;
  absl::StatusOr<std::unique_ptr<lock::Client>> client =
      lock::Client::Connect(lock_eps);
  if (!client.ok()) return ctx.Fail(client.status());
  absl::StatusOr<std::unique_ptr<StartProbe>> probe =
      StartProbe::Start(client->get(), o.base.job_prefix);
  if (!probe.ok()) return ctx.Fail(probe.status());
  std::vector<PhaseOutput> phases;
  std::vector<std::string> jobs;
  for (bool latency : {true, false}) {
    StartPhaseSpec spec = o.base;
    spec.scheduler_endpoints = sched_eps;
    spec.name = latency ? "latency" : "batch";
    spec.sequential = latency;
    spec.tasks = latency ? o.latency_tasks : o.batch_tasks;
    if (latency) spec.tasks_per_job = 1;
    if (spec.tasks == 0) continue;
    *ctx.err << "bench start: " << spec.name << " phase, " << spec.tasks
             << " tasks\n";
    absl::StatusOr<PhaseOutput> p = RunPhase(spec, probe->get(), cluster);
    if (!p.ok()) return ctx.Fail(p.status());
    jobs.insert(jobs.end(), p->result.job_names.begin(),
                p->result.job_names.end());
    phases.push_back(*std::move(p));
  }
  if (cluster == nullptr && o.purge) Purge(ctx, sched_eps, jobs);
  int64_t errors = 0;
  for (const PhaseOutput& p : phases) errors += p.result.errors;
  if (ctx.json()) {
    std::vector<Json> list;
    for (const PhaseOutput& p : phases) list.push_back(PhaseJson(p));
    absl::Status st = PrintJson(
        *ctx.out,
        JObj({{"cluster", JStr(cluster ? "own" : "existing")},
              {"runtime", JStr(cluster ? o.cluster.runtime : "")},
              {"schedulers",
               JNum(cluster ? o.cluster.schedulers
                            : static_cast<int64_t>(sched_eps.size()))},
              {"errors", JNum(errors)},
              {"phases", JList(std::move(list))}}));
    if (!st.ok()) return ctx.Fail(st);
  } else {
    PrintPhases(ctx, phases);
  }
  if (errors > 0) {
    return ctx.Fail(absl::InternalError(
        absl::StrCat(errors, " tasks did not complete successfully")));
  }
  return kExitOk;
}

int BenchStart(Context& ctx) {
  absl::StatusOr<RunOptions> o = ReadOptions(ctx);
  if (!o.ok()) return ctx.UsageError(o.status());
  // Before any thread starts, so that only the waiter gets SIGINT/SIGTERM.
  SignalWaiter waiter;
  std::unique_ptr<LocalCluster> cluster;
  if (o->own) {
    absl::StatusOr<std::unique_ptr<LocalCluster>> c =
        LocalCluster::Start(o->cluster, *ctx.err);
    if (!c.ok()) return ctx.Fail(c.status());
    cluster = *std::move(c);
  }
  int code = kExitFailure;
  int sig =
      RunInterruptible(waiter, [&] { code = Run(ctx, *o, cluster.get()); });
  if (sig != 0) {
    // The run thread still uses the cluster's clients; stop the servers and
    // leave without unwinding under it.
    if (cluster) cluster->Stop();
    *ctx.err << "berth bench start: interrupted\n";
    ctx.err->flush();
    std::_Exit(128 + sig);
  }
  if (cluster) cluster->Stop();
  return code;
}

}  // namespace

void AddStartBenchCommand(std::vector<Command>* table) {
  table->push_back(
      {"bench start",
       "submit-to-running latency and completed tasks/s of trivial tasks "
       "through a real scheduler and agent",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("cluster",
                         po::value<std::string>()->default_value("own"),
                         "own: start 3 lockd, the schedulers and an agent on "
                         "127.0.0.1; existing: use --lock-endpoints and "
                         "--scheduler")(
             "runtime", po::value<std::string>(),
             "own cluster's agent runtime: linux or process (default linux "
             "as root, else process)")(
             "schedulers", po::value<std::string>()->default_value("1"),
             "own cluster: berth-scheduler processes (1 or 2)")(
             "latency-tasks", po::value<std::string>()->default_value("50"),
             "tasks submitted one at a time on an idle cluster (0 skips)")(
             "batch", po::value<std::string>()->default_value("500"),
             "tasks submitted at once for the throughput phase (0 skips)")(
             "tasks-per-job", po::value<std::string>()->default_value("1"),
             "batch phase: completions per submitted job")(
             "submitters", po::value<std::string>()->default_value("8"),
             "batch phase: threads submitting jobs")(
             "cpu", po::value<std::string>()->default_value("10m"),
             "each task's cpu request")(
             "memory", po::value<std::string>()->default_value("16MiB"),
             "each task's memory limit")(
             "max-wait", po::value<std::string>()->default_value("120s"),
             "give up on a phase after this long")(
             "bin-dir", po::value<std::string>(),
             "own cluster: where berth-lockd, berth-scheduler and "
             "berth-agent are (default: next to berth, its build tree, PATH)")(
             "port-base", po::value<std::string>(),
             "own cluster: lockd on PORT..+2, schedulers +3..+4, agent +5 "
             "(default from the pid)")(
             "work-dir", po::value<std::string>(),
             "own cluster: state and logs here (default a new temp dir)")(
             "keep", "own cluster: keep the work dir (logs) afterwards")(
             "keep-jobs", "existing cluster: do not purge the bench jobs");
       },
       BenchStart});
}

}  // namespace berth::cli
