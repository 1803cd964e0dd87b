// berth bench put|get|cas|lock|sessions|watch|failover: load drivers for
// the lock service, and for etcd and ZooKeeper (--target) so that the same
// driver compares them. See bench_runner.h for what each workload
// measures, scripts/bench-lockd.sh and scripts/bench-compare.sh for the
// standard runs behind docs/benchmarks.md.
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/commands/bench_failover_sched.h"
#include "cli/commands/bench_proc.h"
#include "cli/commands/bench_runner.h"
#include "cli/commands/bench_start.h"
#include "cli/commands/bench_target.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "common/clock.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"

namespace berth::cli {

namespace {

Json JDouble(double d) {
  Json v;
  v.set_number_value(d);
  return v;
}

// Milliseconds with 3 decimals, from nanoseconds.
double Ms(int64_t ns) { return std::round(ns / 1e3) / 1e3; }

std::string MsText(int64_t ns) { return absl::StrFormat("%.3fms", ns / 1e6); }

absl::StatusOr<int64_t> PositiveFlag(const Context& ctx, const char* name,
                                     int64_t fallback) {
  if (!ctx.Has(name)) return fallback;
  absl::StatusOr<int64_t> n =
      ParseCount(absl::StrCat("--", name), ctx.Arg(name));
  if (!n.ok()) return n.status();
  if (*n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value \"", ctx.Arg(name), "\" for --", name,
                     ": must be at least 1"));
  }
  return *n;
}

// --warmup also accepts 0 ("no warmup"), which ParseDurationFlag rejects.
absl::StatusOr<absl::Duration> WarmupFlag(const Context& ctx) {
  const std::string text = ctx.args["warmup"].as<std::string>();
  if (text == "0" || text == "0s") return absl::ZeroDuration();
  return ParseDurationFlag("--warmup", text);
}

absl::StatusOr<double> RateFlag(const Context& ctx) {
  if (!ctx.Has("rate")) return 0.0;
  double r = 0;
  if (!absl::SimpleAtod(ctx.Arg("rate"), &r) || !std::isfinite(r) || r <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", ctx.Arg("rate"),
        "\" for --rate: expected requests per second, a positive number"));
  }
  return r;
}

absl::Status CheckTarget(const Context& ctx) {
  const std::string target = ctx.args["target"].as<std::string>();
  if (target == "berth" || target == "etcd" || target == "zookeeper") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported --target \"", target,
                   "\": expected berth, etcd or zookeeper"));
}

// Where the run differs in meaning from the same workload on berth.
std::string EquivalenceNote(const std::string& target, Workload w,
                            bool serializable, bool distinct_watch_keys) {
  if (w == Workload::kWatch && distinct_watch_keys) {
    return target == "zookeeper"
               ? "one watcher per key, puts round-robin; not equivalent: "
                 "one-shot watch per session, re-armed"
               : "one watcher per key, puts round-robin: no coalescing";
  }
  if (target == "berth" && w == Workload::kWatch) {
    // Disclosed because it changes the server's work, not the watchers'.
    return "client library coalesces identical watches: one server watch "
           "per connection";
  }
  if (target != "zookeeper") return "";
  switch (w) {
    case Workload::kGet:
      return serializable ? "" : "not equivalent: sync+get";
    case Workload::kSessions:
      return "not equivalent: client pings itself; keepalive = state check";
    case Workload::kWatch:
      return "not equivalent: one-shot watch per session, re-armed";
    default:
      return "";
  }
}

absl::StatusOr<BenchSpec> ReadSpec(const Context& ctx, Workload workload) {
  BenchSpec spec;
  spec.workload = workload;
  absl::Status target = CheckTarget(ctx);
  if (!target.ok()) return target;
  auto clients = PositiveFlag(ctx, "clients", 1);
  if (!clients.ok()) return clients.status();
  if (*clients > 10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", *clients, "\" for --clients: at most 10000"));
  }
  spec.clients = static_cast<int>(*clients);
  auto duration =
      ParseDurationFlag("--duration", ctx.args["duration"].as<std::string>());
  if (!duration.ok()) return duration.status();
  spec.duration = *duration;
  auto warmup = WarmupFlag(ctx);
  if (!warmup.ok()) return warmup.status();
  spec.warmup = *warmup;
  auto key_space = PositiveFlag(ctx, "key-space", spec.key_space);
  if (!key_space.ok()) return key_space.status();
  spec.key_space = *key_space;
  auto value_size = PositiveFlag(ctx, "value-size", spec.value_size);
  if (!value_size.ok()) return value_size.status();
  spec.value_size = *value_size;
  auto rate = RateFlag(ctx);
  if (!rate.ok()) return rate.status();
  spec.rate = *rate;
  spec.serializable = ctx.Has("serializable");
  if (workload == Workload::kSessions) {
    auto sessions = PositiveFlag(ctx, "sessions", spec.sessions);
    if (!sessions.ok()) return sessions.status();
    if (*sessions > 100000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value \"", *sessions, "\" for --sessions: at most 100000"));
    }
    spec.sessions = static_cast<int>(*sessions);
    auto ttl = ParseDurationFlag("--session-ttl",
                                 ctx.args["session-ttl"].as<std::string>());
    if (!ttl.ok()) return ttl.status();
    if (*ttl < absl::Seconds(1)) {
      return absl::InvalidArgumentError(
          "invalid value for --session-ttl: at least 1s");
    }
    spec.session_ttl = *ttl;
    spec.keepalive_interval = *ttl / 3;
  }
  if (workload == Workload::kWatch) {
    auto watchers = PositiveFlag(ctx, "watchers", spec.watchers);
    if (!watchers.ok()) return watchers.status();
    spec.watchers = static_cast<int>(std::min<int64_t>(*watchers, 100000));
    spec.distinct_watch_keys = ctx.Has("distinct-keys");
  }
  spec.key_prefix = ctx.args["key-prefix"].as<std::string>();
  if (spec.key_prefix.empty()) {
    return absl::InvalidArgumentError("--key-prefix must not be empty");
  }
  return spec;
}

// Server cost over the run; `valid` is false without --server-pids.
struct ServerCost {
  bool valid = false;
  double cpu_seconds = 0;
  double peak_rss_mb = 0;
};

int PrintResult(Context& ctx, const BenchSpec& spec, const BenchResult& r,
                const std::string& target, const ServerCost& cost) {
  const LatencyHistogram& h = r.latency;
  const std::string note = EquivalenceNote(
      target, r.workload, spec.serializable, spec.distinct_watch_keys);
  const std::string mode =
      spec.rate > 0 ? absl::StrCat("open@", spec.rate, "/s") : "closed";
  if (ctx.json()) {
    absl::Status st = PrintJson(
        *ctx.out,
        JObj(
            {{"workload", JStr(WorkloadName(r.workload))},
             {"target", JStr(target)},
             {"note", JStr(note)},
             {"sessions",
              JNum(r.workload == Workload::kSessions ? spec.sessions : 0)},
             {"conflicts", JNum(r.conflicts)},
             {"server_cpu_s",
              cost.valid ? JDouble(std::round(cost.cpu_seconds * 100) / 100)
                         : JDouble(-1)},
             {"server_peak_rss_mb",
              cost.valid ? JDouble(std::round(cost.peak_rss_mb * 10) / 10)
                         : JDouble(-1)},
             {"clients", JNum(r.clients)},
             {"watchers",
              JNum(r.workload == Workload::kWatch ? spec.watchers : 0)},
             {"mode", JStr(spec.rate > 0 ? "open" : "closed")},
             {"rate", JDouble(spec.rate)},
             {"serializable", JBool(spec.serializable)},
             {"distinct_keys", JBool(spec.distinct_watch_keys)},
             {"duration_s", JDouble(absl::ToDoubleSeconds(r.measured))},
             {"ops", JNum(r.ops)},
             {"ops_per_sec", JDouble(std::round(r.ops_per_second() * 10) / 10)},
             {"events", JNum(r.events)},
             {"events_per_sec",
              JDouble(std::round(r.events_per_second() * 10) / 10)},
             {"errors", JNum(r.errors)},
             {"first_error", JStr(r.first_error)},
             {"latency_ms", JObj({{"p50", JDouble(Ms(h.Percentile(50)))},
                                  {"p99", JDouble(Ms(h.Percentile(99)))},
                                  {"p999", JDouble(Ms(h.Percentile(99.9)))},
                                  {"max", JDouble(Ms(h.max()))},
                                  {"mean", JDouble(Ms(h.mean()))},
                                  {"samples", JNum(h.count())}})}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  PrintTable(
      *ctx.out,
      {{"TARGET", "WORKLOAD", "CLIENTS", "MODE", "OPS/S", "P50", "P99", "P99.9",
        "MAX", "ERRORS"},
       {target, WorkloadName(r.workload), absl::StrCat(r.clients), mode,
        absl::StrFormat("%.1f", r.ops_per_second()), MsText(h.Percentile(50)),
        MsText(h.Percentile(99)), MsText(h.Percentile(99.9)), MsText(h.max()),
        absl::StrCat(r.errors)}});
  if (r.workload == Workload::kCas) {
    *ctx.out << "cas: " << r.conflicts << " attempts lost to another client\n";
  }
  if (r.workload == Workload::kSessions) {
    *ctx.out << "sessions: " << spec.sessions << " kept alive, one keepalive "
             << "each per " << absl::FormatDuration(spec.keepalive_interval)
             << "\n";
  }
  if (cost.valid) {
    *ctx.out << absl::StrFormat("server: %.2f CPU s, peak RSS %.1f MiB\n",
                                cost.cpu_seconds, cost.peak_rss_mb);
  }
  if (!note.empty()) *ctx.out << "note: " << note << "\n";
  if (r.workload == Workload::kWatch) {
    *ctx.out << "watch: " << spec.watchers << " watchers, " << r.events
             << " events (" << absl::StrFormat("%.1f", r.events_per_second())
             << "/s); latency is put-due to event-received\n";
  }
  if (!r.first_error.empty())
    *ctx.err << "first error: " << r.first_error << "\n";
  return kExitOk;
}

absl::StatusOr<std::unique_ptr<BenchTarget>> MakeTarget(const Context& ctx) {
  const std::string name = ctx.args["target"].as<std::string>();
  std::vector<std::string> endpoints;
  if (ctx.Has("endpoints")) {
    endpoints = absl::StrSplit(ctx.Arg("endpoints"), ',', absl::SkipEmpty());
  }
  if (name == "berth") {
    BerthTargetOptions options;
    options.endpoints =
        endpoints.empty() ? ctx.global.lock_endpoints : endpoints;
    options.request_timeout = ctx.global.timeout;
    options.shared_client = ctx.Has("shared-client");
    options.credentials = ctx.global.credentials.channel();
    return NewBerthTarget(options);
  }
  PeerTargetOptions options;
  options.endpoints = endpoints;
  options.request_timeout = ctx.global.timeout;
  options.credentials = ctx.global.credentials.channel();
  if (name == "etcd") return NewEtcdTarget(options);
  return NewZooKeeperTarget(options);
}

int RunWorkload(Context& ctx, Workload workload) {
  absl::StatusOr<BenchSpec> spec = ReadSpec(ctx, workload);
  if (!spec.ok()) return ctx.UsageError(spec.status());
  std::vector<int> pids;
  if (ctx.Has("server-pids")) {
    auto p = ParsePidList(ctx.Arg("server-pids"));
    if (!p.ok()) return ctx.UsageError(p.status());
    pids = *std::move(p);
  }
  auto target = MakeTarget(ctx);
  if (!target.ok()) {
    return absl::IsUnavailable(target.status())
               ? ctx.Fail(target.status())
               : ctx.UsageError(target.status());
  }
  ServerCost cost;
  absl::StatusOr<ProcSample> before = ProcSample{};
  if (!pids.empty()) {
    before = ReadProcs(pids);
    if (!before.ok()) return ctx.UsageError(before.status());
  }
  absl::StatusOr<BenchResult> r = RunBench(target->get(), *spec, Clock::Real());
  if (!r.ok()) return ctx.Fail(r.status());
  if (!pids.empty()) {
    absl::StatusOr<ProcSample> after = ReadProcs(pids);
    if (!after.ok()) return ctx.Fail(after.status());
    cost.valid = true;
    cost.cpu_seconds = after->cpu_seconds - before->cpu_seconds;
    cost.peak_rss_mb = after->peak_rss_kb / 1024.0;
  }
  int code = PrintResult(ctx, *spec, *r, (*target)->name(), cost);
  if (code == kExitOk && r->ops == 0) {
    // A run that measured nothing must not look like a (very slow) pass.
    return ctx.Fail(absl::UnavailableError(absl::StrCat(
        "no ", WorkloadName(r->workload), " completed in ",
        absl::FormatDuration(r->measured), " (", r->errors, " errors",
        r->first_error.empty() ? "" : absl::StrCat("; first: ", r->first_error),
        "); is the target reachable? check --endpoints / --lock-endpoints")));
  }
  return code;
}

int PrintGap(Context& ctx, int64_t gap_ns, int64_t attempts, pid_t pid,
             const std::string& first_error) {
  if (ctx.json()) {
    absl::Status pst =
        PrintJson(*ctx.out, JObj({{"gap_ms", JDouble(Ms(gap_ns))},
                                  {"attempts", JNum(attempts)},
                                  {"killed_pid", JNum(pid)},
                                  {"first_error", JStr(first_error)}}));
    return pst.ok() ? kExitOk : ctx.Fail(pst);
  }
  *ctx.out << "first acknowledged write after " << MsText(gap_ns) << " ("
           << attempts << " attempts)\n";
  return kExitOk;
}

// Failover for etcd and ZooKeeper: their bench clients are bound to one
// member each, so keep one client per member and rotate through them (as
// etcd's clientv3 does), each attempt bounded by --attempt-timeout.
int PeerFailover(Context& ctx, pid_t pid, absl::Duration max_wait) {
  auto attempt = ParseDurationFlag(
      "--attempt-timeout", ctx.args["attempt-timeout"].as<std::string>());
  if (!attempt.ok()) return ctx.UsageError(attempt.status());
  ctx.global.timeout = *attempt;
  auto target = MakeTarget(ctx);
  if (!target.ok()) return ctx.UsageError(target.status());
  const std::vector<std::string> endpoints =
      absl::StrSplit(ctx.Arg("endpoints"), ',', absl::SkipEmpty());
  const size_t members = endpoints.size();
  std::vector<std::unique_ptr<BenchClient>> clients;
  const std::string key = ctx.args["key"].as<std::string>();
  for (size_t i = 0; i < members; ++i) {
    auto c = (*target)->NewClient();
    if (!c.ok()) return ctx.Fail(c.status());
    // A healthy write on each, so the gap excludes connection setup.
    absl::Status st = (*c)->Put(key, "before");
    if (!st.ok()) return ctx.Fail(st);
    clients.push_back(*std::move(c));
  }
  Clock* clock = Clock::Real();
  const absl::Time start = clock->Monotonic();
  if (pid > 0 && kill(pid, SIGKILL) != 0) {
    return ctx.Fail(absl::InternalError(
        absl::StrCat("kill -9 ", pid, ": ", std::strerror(errno))));
  }
  int64_t attempts = 0;
  std::string first_error;
  while (true) {
    absl::Status st = clients[attempts % clients.size()]->Put(key, "after");
    ++attempts;
    if (st.ok()) break;
    if (first_error.empty()) first_error = std::string(st.message());
    if (clock->Monotonic() - start > max_wait) {
      return ctx.Fail(absl::DeadlineExceededError(absl::StrCat(
          "no write was acknowledged within ", absl::FormatDuration(max_wait),
          " (", attempts, " attempts); last error: ", st.message())));
    }
    clock->SleepUntil(clock->Monotonic() + absl::Milliseconds(5));
  }
  return PrintGap(ctx, absl::ToInt64Nanoseconds(clock->Monotonic() - start),
                  attempts, pid, first_error);
}

// Kills the leader (if asked) and retries one put until it is acknowledged:
// the write-unavailability gap a client sees across a failover.
int Failover(Context& ctx) {
  const std::string component = ctx.args["component"].as<std::string>();
  if (component == "scheduler") return SchedulerFailover(ctx);
  if (component != "lockd") {
    return ctx.UsageError(absl::InvalidArgumentError(
        absl::StrCat("invalid value \"", component,
                     "\" for --component: expected lockd or scheduler")));
  }
  pid_t pid = 0;
  if (ctx.Has("kill-pid")) {
    auto p = PositiveFlag(ctx, "kill-pid", 0);
    if (!p.ok()) return ctx.UsageError(p.status());
    pid = static_cast<pid_t>(*p);
  }
  auto max_wait =
      ParseDurationFlag("--max-wait", ctx.args["max-wait"].as<std::string>());
  if (!max_wait.ok()) return ctx.UsageError(max_wait.status());
  absl::Status target = CheckTarget(ctx);
  if (!target.ok()) return ctx.UsageError(target);
  if (ctx.args["target"].as<std::string>() != "berth") {
    if (!ctx.Has("endpoints")) {
      return ctx.UsageError(absl::InvalidArgumentError(
          "bench failover --target etcd|zookeeper needs --endpoints"));
    }
    return PeerFailover(ctx, pid, *max_wait);
  }
  // By default the client is configured exactly as an application's would
  // be (the library defaults), so the gap is what a normal client sees:
  // its dial timeout and retry backoff are part of it. The flags below
  // tune the client for comparisons with a tuned peer client.
  lock::ClientOptions o;
  o.credentials = ctx.global.credentials.channel();
  if (ctx.Has("dial-timeout")) {
    auto dial = ParseDurationFlag("--dial-timeout",
                                  ctx.args["dial-timeout"].as<std::string>());
    if (!dial.ok()) return ctx.UsageError(dial.status());
    // The client waits up to this long for a connection to the dead leader
    // before trying another replica, so it adds straight to the gap.
    o.dial_timeout = *dial;
    // Retry fast too, as the tuned peer clients do.
    o.backoff_initial = absl::Milliseconds(5);
    o.backoff_max = absl::Milliseconds(20);
    o.attempt_timeout = absl::Seconds(1);
    o.request_timeout = absl::Seconds(2);
  }
  auto client = lock::Client::Connect(ctx.global.lock_endpoints, o);
  if (!client.ok()) return ctx.UsageError(client.status());
  const std::string key = ctx.args["key"].as<std::string>();
  // A healthy write first, so the gap excludes connection setup.
  absl::Status st = (*client)->kv().Put(key, "before").status();
  if (!st.ok()) return ctx.Fail(st);
  Clock* clock = Clock::Real();
  const absl::Time start = clock->Monotonic();
  if (pid > 0 && kill(pid, SIGKILL) != 0) {
    return ctx.Fail(absl::InternalError(
        absl::StrCat("kill -9 ", pid, ": ", std::strerror(errno))));
  }
  int64_t attempts = 0;
  std::string first_error;
  while (true) {
    ++attempts;
    st = (*client)->kv().Put(key, "after").status();
    if (st.ok()) break;
    if (first_error.empty()) first_error = std::string(st.message());
    if (clock->Monotonic() - start > *max_wait) {
      return ctx.Fail(absl::DeadlineExceededError(absl::StrCat(
          "no write was acknowledged within ", absl::FormatDuration(*max_wait),
          " (", attempts, " attempts); last error: ", st.message())));
    }
  }
  return PrintGap(ctx, absl::ToInt64Nanoseconds(clock->Monotonic() - start),
                  attempts, pid, first_error);
}

void CommonFlags(po::options_description& d) {
  d.add_options()("clients", po::value<std::string>(),
                  "client threads, each with its own connection (default 1)")(
      "duration", po::value<std::string>()->default_value("10s"),
      "measurement window")("warmup",
                            po::value<std::string>()->default_value("1s"),
                            "unmeasured lead-in (0 for none)")(
      "key-space", po::value<std::string>(), "distinct keys (default 1000)")(
      "value-size", po::value<std::string>(), "value bytes (default 256)")(
      "rate", po::value<std::string>(),
      "open loop at R requests/s in total; latency counts from the due time "
      "(default: closed loop)")(
      "target", po::value<std::string>()->default_value("berth"),
      "system under test: berth, etcd or zookeeper")(
      "endpoints", po::value<std::string>(),
      "host:port,... of the target's members (berth defaults to "
      "--lock-endpoints)")(
      "server-pids", po::value<std::string>(),
      "pid,... of the server processes: report their CPU seconds during "
      "the run and peak RSS, from /proc")(
      "shared-client", "one client connection shared by all threads")(
      "key-prefix", po::value<std::string>()->default_value("/bench/"),
      "prefix of every key the run writes");
}

}  // namespace

void AddBenchCommands(std::vector<Command>* table) {
  table->push_back(
      {"bench put",
       "measure puts (random keys)",
       {},
       false,
       CommonFlags,
       [](Context& ctx) { return RunWorkload(ctx, Workload::kPut); }});
  table->push_back(
      {"bench get",
       "measure gets (linearizable by default)",
       {},
       false,
       [](po::options_description& d) {
         CommonFlags(d);
         d.add_options()("serializable",
                         "read from any replica (may be stale)");
       },
       [](Context& ctx) { return RunWorkload(ctx, Workload::kGet); }});
  table->push_back(
      {"bench cas",
       "measure compare-and-swap of one key contended by all clients",
       {},
       false,
       CommonFlags,
       [](Context& ctx) { return RunWorkload(ctx, Workload::kCas); }});
  table->push_back(
      {"bench sessions",
       "keep many sessions (leases) alive; measure keepalive latency",
       {},
       false,
       [](po::options_description& d) {
         CommonFlags(d);
         d.add_options()("sessions", po::value<std::string>(),
                         "sessions, spread over the clients (default 1000)")(
             "session-ttl", po::value<std::string>()->default_value("10s"),
             "session TTL; each is renewed every TTL/3");
       },
       [](Context& ctx) { return RunWorkload(ctx, Workload::kSessions); }});
  table->push_back(
      {"bench lock",
       "measure handoffs of one lock contended by all clients",
       {},
       false,
       CommonFlags,
       [](Context& ctx) { return RunWorkload(ctx, Workload::kLock); }});
  table->push_back(
      {"bench watch",
       "measure put-to-event latency over many prefix watchers",
       {},
       false,
       [](po::options_description& d) {
         CommonFlags(d);
         d.add_options()("watchers", po::value<std::string>(),
                         "prefix watchers, spread over the "
                         "client connections (default 1000)")(
             "distinct-keys",
             "each watcher watches its own key and puts go round-robin "
             "over them: as many server watches as watchers, one event per "
             "put");
       },
       [](Context& ctx) { return RunWorkload(ctx, Workload::kWatch); }});
  table->push_back(
      {"bench failover",
       "kill -9 a lockd replica (the leader) and time the first acknowledged "
       "write, or (--component scheduler) the scheduler leader and time the "
       "next placement",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("kill-pid", po::value<std::string>(),
                         "process to kill -9 when the clock starts")(
             "max-wait", po::value<std::string>()->default_value("60s"),
             "give up after this long")(
             "dial-timeout", po::value<std::string>(),
             "tuned client: wait this long for a connection before trying "
             "another replica, and retry every 5-20 ms (default: the "
             "library's defaults, as an application would run it)")(
             "key", po::value<std::string>()->default_value("/bench/failover"),
             "key to write")("target",
                             po::value<std::string>()->default_value("berth"),
                             "system under test: berth, etcd or zookeeper")(
             "endpoints", po::value<std::string>(),
             "host:port,... of every member (required for etcd and "
             "zookeeper: one client each, tried in turn)")(
             "attempt-timeout", po::value<std::string>()->default_value("1s"),
             "etcd/zookeeper: bound on each put attempt");
         SchedulerFailoverFlags(d);
       },
       Failover});
  AddStartBenchCommand(table);
}

}  // namespace berth::cli
