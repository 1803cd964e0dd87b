// berth job run|validate|list|status|history|stop|trigger, berth node
// list: the scheduler's commands (namespaces: namespace.cc).
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/commands/job_wait.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/sched_client.h"
#include "google/protobuf/util/json_util.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/spec/job_spec.h"

namespace berth::cli {
namespace {

SchedClient Client(const Context& ctx) {
  return SchedClient(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
}

std::string Namespace(const Context& ctx) {
  std::string ns = ctx.Arg("namespace");
  return ns.empty() ? "default" : ns;
}

int PrintProto(Context& ctx, const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  o.always_print_enums_as_ints = false;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) return ctx.Fail(absl::InternalError(st.ToString()));
  *ctx.out << out << "\n";
  return kExitOk;
}

std::string StateName(jobpb::JobStatus::State s) {
  std::string n = jobpb::JobStatus::State_Name(s);
  return n == "STATE_UNSPECIFIED" ? "-" : absl::AsciiStrToLower(n);
}

std::string Ago(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  absl::Duration d = absl::Now() - absl::FromUnixMillis(unix_ms);
  return absl::StrCat(absl::FormatDuration(absl::Trunc(d, absl::Seconds(1))),
                      " ago");
}

std::string When(int64_t unix_s) {
  if (unix_s == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(unix_s), absl::UTCTimeZone());
}

int Validate(Context& ctx) {
  int code = kExitOk;
  for (const std::string& file :
       ctx.args["FILE"].as<std::vector<std::string>>()) {
    auto jobs = sched::ParseJobFile(file);
    if (!jobs.ok()) {
      *ctx.err << jobs.status().message() << "\n";
      code = kExitFailure;
      continue;
    }
    for (const jobpb::Job& j : *jobs) {
      *ctx.out << file << ": " << j.namespace_() << "/" << j.name() << " ("
               << absl::AsciiStrToLower(jobpb::Kind_Name(j.kind()))
               << ") is valid\n";
    }
  }
  return code;
}

// Poll period while `job run` waits for a job to settle.
constexpr absl::Duration kWaitPoll = absl::Milliseconds(500);

// The job's next cron tick as ListJobs reports it (0: none).
absl::StatusOr<int64_t> NextRun(SchedClient& client, const jobpb::Job& job) {
  schedpb::ListJobsRequest req;
  req.set_namespace_(job.namespace_());
  schedpb::ListJobsResponse resp;
  absl::Status st = client.Run(
      [&](auto* stub, auto* c) { return stub->ListJobs(c, req, &resp); });
  if (!st.ok()) return st;
  for (const schedpb::JobSummary& j : resp.jobs()) {
    if (j.name() == job.name()) return j.next_run_unix();
  }
  return 0;
}

// Follows one submitted job until JobProgress says it settled, failed, or
// `deadline` passes. Progress goes to `progress` (stderr under --output
// json, so stdout stays one JSON document per job).
int WaitForJob(Context& ctx, SchedClient& client, const jobpb::Job& job,
               int64_t version, absl::Time deadline, std::ostream& progress) {
  const std::string name = absl::StrCat(job.namespace_(), "/", job.name());
  JobProgress tracker(name, version);
  schedpb::JobStatusRequest req;
  req.set_namespace_(job.namespace_());
  req.set_job(job.name());
  while (true) {
    schedpb::JobStatusResponse resp;
    absl::Status st = client.Run(
        [&](auto* stub, auto* c) { return stub->JobStatus(c, req, &resp); });
    if (!st.ok()) {
      *ctx.err << "berth job run: " << name << ": " << st.message()
               << " (the job was submitted; see berth job status)\n";
      return kExitFailure;
    }
    int64_t next_run = 0;
    if (job.kind() == jobpb::CRON) {
      absl::StatusOr<int64_t> n = NextRun(client, job);
      if (n.ok()) next_run = *n;
    }
    std::vector<std::string> lines;
    JobProgress::Verdict v =
        tracker.Observe(resp, next_run, absl::Now(), &lines);
    for (const std::string& l : lines) progress << l << "\n";
    progress << std::flush;
    if (v == JobProgress::Verdict::kDone) {
      progress << "==> " << name << ": " << tracker.outcome() << "\n";
      return kExitOk;
    }
    if (v == JobProgress::Verdict::kFailed) {
      *ctx.err << "berth job run: " << name << ": " << tracker.outcome()
               << "\n";
      return kExitFailure;
    }
    if (absl::Now() + kWaitPoll > deadline) {
      *ctx.err << "berth job run: " << name
               << ": not settled within --wait-timeout; it keeps going "
                  "(berth job status "
               << job.name() << ")\n";
      return kExitFailure;
    }
    absl::SleepFor(kWaitPoll);
  }
}

int Run(Context& ctx) {
  std::vector<jobpb::Job> all;
  for (const std::string& file :
       ctx.args["FILE"].as<std::vector<std::string>>()) {
    auto jobs = sched::ParseJobFile(file);
    if (!jobs.ok()) {
      *ctx.err << jobs.status().message() << "\n";
      return kExitUsage;  // nothing is submitted when any file is bad
    }
    all.insert(all.end(), jobs->begin(), jobs->end());
  }
  int64_t expected = 0;
  if (ctx.Has("expected-version")) {
    if (!absl::SimpleAtoi(ctx.Arg("expected-version"), &expected) ||
        expected <= 0) {
      return ctx.UsageError(absl::InvalidArgumentError(
          "--expected-version: want a positive version number"));
    }
  }
  absl::Duration wait_timeout = absl::Minutes(5);
  if (ctx.Has("wait-timeout")) {
    absl::StatusOr<absl::Duration> d =
        ParseDurationFlag("--wait-timeout", ctx.Arg("wait-timeout"));
    if (!d.ok()) return ctx.UsageError(d.status());
    wait_timeout = *d;
  }
  SchedClient client = Client(ctx);
  int code = kExitOk;
  std::vector<std::pair<const jobpb::Job*, int64_t>> submitted;
  for (const jobpb::Job& job : all) {
    schedpb::SubmitJobRequest req;
    *req.mutable_job() = job;
    req.set_expected_version(expected);
    schedpb::SubmitJobResponse resp;
    absl::Status st = client.Run(
        [&](auto* stub, auto* c) { return stub->SubmitJob(c, req, &resp); });
    std::string name = absl::StrCat(job.namespace_(), "/", job.name());
    if (!st.ok()) {
      *ctx.err << "berth job run: " << name << ": " << st.message() << "\n";
      code = kExitFailure;
      continue;
    }
    if (ctx.json()) {
      PrintProto(ctx, resp);
    } else {
      *ctx.out << name << ": version " << resp.version() << " ("
               << resp.message() << ")\n";
    }
    submitted.emplace_back(&job, resp.version());
  }
  if (ctx.Has("detach")) return code;
  const absl::Time deadline = absl::Now() + wait_timeout;
  for (const auto& [job, version] : submitted) {
    int c = WaitForJob(ctx, client, *job, version, deadline,
                       ctx.json() ? *ctx.err : *ctx.out);
    if (c != kExitOk) code = c;
  }
  return code;
}

int List(Context& ctx) {
  schedpb::ListJobsRequest req;
  req.set_namespace_(ctx.Arg("namespace"));
  schedpb::ListJobsResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->ListJobs(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "JOB", "KIND", "VERSION", "STATE", "RUNNING", "PENDING",
       "SUCCEEDED", "FAILED", "NEXT RUN", "EXPLANATION"}};
  for (const auto& j : resp.jobs()) {
    rows.push_back(
        {j.namespace_(), j.name(),
         absl::AsciiStrToLower(jobpb::Kind_Name(j.kind())),
         absl::StrCat(j.version()),
         // The flag is written at once; the status summary follows
         // at the next reconcile pass.
         j.suspended() && !j.stopped() ? "suspended"
                                       : StateName(j.status().state()),
         absl::StrCat(j.status().running()), absl::StrCat(j.status().pending()),
         absl::StrCat(j.status().succeeded()),
         absl::StrCat(j.status().failed()), When(j.next_run_unix()),
         j.status().explanation()});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

int Status(Context& ctx) {
  schedpb::JobStatusRequest req;
  req.set_namespace_(Namespace(ctx));
  req.set_job(ctx.Arg("JOB"));
  schedpb::JobStatusResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->JobStatus(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  const jobpb::JobRecord& rec = resp.record();
  std::ostream& out = *ctx.out;
  out << "job:         " << rec.job().namespace_() << "/" << rec.job().name()
      << " (" << absl::AsciiStrToLower(jobpb::Kind_Name(rec.job().kind()))
      << ", priority " << rec.job().priority() << ")\n"
      << "version:     " << rec.version() << (rec.stopped() ? " (stopped)" : "")
      << (rec.suspended() ? " (suspended)" : "") << "\n"
      << "state:       " << StateName(rec.status().state()) << "\n";
  if (!rec.status().explanation().empty()) {
    out << "explanation: " << rec.status().explanation() << "\n";
  }
  if (rec.has_previous() && rec.rollout().to_version() == rec.version()) {
    out << "rollout:     " << rec.rollout().from_version() << " -> "
        << rec.rollout().to_version()
        << (rec.rollout().rolling_back() ? " (rollback: " : "")
        << (rec.rollout().rolling_back() ? rec.rollout().reason() + ")" : "")
        << (rec.rollout().done() >= rec.job().replicas() ? ", done" : "")
        << "\n";
  }
  out << "\nAllocations\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "NODE", "DESIRED",
                                                 "STATE", "HEALTHY", "ATTEMPT",
                                                 "STARTED", "DETAIL"}};
  for (const auto& v : resp.allocations()) {
    const jobpb::Allocation& a = v.alloc();
    std::string state =
        a.outcome().state() != jobpb::AllocOutcome::STATE_UNSPECIFIED
            ? absl::AsciiStrToLower(
                  jobpb::AllocOutcome::State_Name(a.outcome().state()))
        : v.has_status() ? absl::AsciiStrToLower(
                               agentpb::AllocState_Name(v.status().state()))
        : a.node().empty() ? "pending"
                           : "placed";
    std::string detail = !a.outcome().reason().empty() ? a.outcome().reason()
                         : !a.pending_reason().empty() ? a.pending_reason()
                                                       : a.stop_reason();
    rows.push_back(
        {a.id(), a.node().empty() ? "-" : a.node(),
         absl::AsciiStrToLower(
             jobpb::Allocation::DesiredState_Name(a.desired_state())),
         state, v.status().healthy() ? "yes" : "no", absl::StrCat(a.attempt()),
         Ago(v.status().start_unix_ms()), detail});
  }
  PrintTable(out, rows);
  if (resp.events_size() > 0) {
    out << "\nRecent events\n";
    int from = std::max(0, resp.events_size() - 10);
    for (int i = from; i < resp.events_size(); ++i) {
      const jobpb::Event& e = resp.events(i);
      out << "  " << Ago(e.unix_ms()) << "  " << e.kind() << ": " << e.message()
          << "\n";
    }
  }
  return kExitOk;
}

int History(Context& ctx) {
  schedpb::JobHistoryRequest req;
  req.set_namespace_(Namespace(ctx));
  req.set_job(ctx.Arg("JOB"));
  schedpb::JobHistoryResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->JobHistory(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  std::vector<std::vector<std::string>> rows = {
      {"TICK", "RESULT", "ALLOC", "CLAIMED BY", "REASON"}};
  for (const jobpb::CronRun& r : resp.runs()) {
    rows.push_back(
        {r.manual() ? absl::StrCat("manual ", When(-r.tick_unix() / 1000))
                    : When(r.tick_unix()),
         absl::AsciiStrToLower(jobpb::CronRun::Result_Name(r.result())),
         r.alloc_id().empty() ? "-" : r.alloc_id(), r.claimed_by(),
         r.reason()});
  }
  PrintTable(*ctx.out, rows);
  const jobpb::CronMarker& m = resp.marker();
  *ctx.out << "claimed " << m.claimed() << ", skipped " << m.skipped()
           << ", missed " << m.missed() << ", skipped while suspended "
           << m.suspended_skips() << "\n";
  return kExitOk;
}

int Stop(Context& ctx) {
  schedpb::StopJobRequest req;
  req.set_namespace_(Namespace(ctx));
  req.set_job(ctx.Arg("JOB"));
  req.set_purge(ctx.Has("purge"));
  schedpb::StopJobResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->StopJob(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  *ctx.out << req.namespace_() << "/" << req.job() << ": " << resp.message()
           << "\n";
  return kExitOk;
}

int Trigger(Context& ctx) {
  schedpb::TriggerJobRequest req;
  req.set_namespace_(Namespace(ctx));
  req.set_job(ctx.Arg("JOB"));
  schedpb::TriggerJobResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->TriggerJob(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  *ctx.out << req.namespace_() << "/" << req.job() << ": run " << resp.run_id()
           << " " << resp.message() << "\n";
  return kExitOk;
}

int NodeList(Context& ctx) {
  schedpb::ListNodesRequest req;
  schedpb::ListNodesResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->ListNodes(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "ADDRESS", "RUNTIME", "CPU", "MEMORY", "ALLOCS", "LABELS"}};
  for (const auto& n : resp.nodes()) {
    std::vector<std::string> labels;
    for (const auto& [k, v] : n.info().labels()) {
      labels.push_back(absl::StrCat(k, "=", v));
    }
    std::sort(labels.begin(), labels.end());
    rows.push_back(
        {n.info().name() + (n.draining()
                                ? absl::StrCat(" (draining, ",
                                               n.drain_remaining(), " to move)")
                                : ""),
         n.info().address(), n.info().runtime(),
         absl::StrCat(n.allocated().cpu_millicores(), "m/",
                      n.info().cpu_millicores(), "m"),
         absl::StrCat(n.allocated().memory_bytes() >> 20, "/",
                      n.info().memory_bytes() >> 20, "MiB"),
         absl::StrCat(n.allocations()), absl::StrJoin(labels, ",")});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

void NamespaceFlag(po::options_description& d) {
  d.add_options()("namespace,n", po::value<std::string>(),
                  "the job's namespace (default \"default\")");
}

}  // namespace

void AddJobCommands(std::vector<Command>* table) {
  table->push_back({"job run",
                    "submit (create or update) jobs and wait until they run",
                    {{"FILE", true, true}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()(
                          "expected-version", po::value<std::string>(),
                          "fail unless the stored job has this version")(
                          "detach", "return once submitted, without waiting")(
                          "wait-timeout", po::value<std::string>(),
                          "give up waiting after this long (default 5m)");
                    },
                    Run});
  table->push_back({"job validate",
                    "check YAML job files without submitting them",
                    {{"FILE", true, true}},
                    false,
                    nullptr,
                    Validate});
  table->push_back({"job list",
                    "list jobs with their state",
                    {},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("namespace,n", po::value<std::string>(),
                                      "only this namespace");
                    },
                    List});
  table->push_back({"job status",
                    "show a job, its allocations and recent events",
                    {{"JOB"}},
                    false,
                    NamespaceFlag,
                    Status});
  table->push_back({"job history",
                    "show a cron job's runs, one per tick",
                    {{"JOB"}},
                    false,
                    NamespaceFlag,
                    History});
  table->push_back({"job stop",
                    "stop a job's allocations (--purge also deletes it)",
                    {{"JOB"}},
                    false,
                    [](po::options_description& d) {
                      NamespaceFlag(d);
                      d.add_options()("purge",
                                      "delete the job and its history too");
                    },
                    Stop});
  table->push_back({"job trigger",
                    "run a cron job now (obeys its concurrency policy)",
                    {{"JOB"}},
                    false,
                    NamespaceFlag,
                    Trigger});
  table->push_back({"node list",
                    "list registered agents with their capacity and use",
                    {},
                    false,
                    nullptr,
                    NodeList});
}

}  // namespace berth::cli
