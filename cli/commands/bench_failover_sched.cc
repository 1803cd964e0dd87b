#include "cli/commands/bench_failover_sched.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands/bench_failover_cron.h"
#include "cli/commands/bench_start_cluster.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "common/ports.h"
#include "common/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "proto/job.pb.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/spec/job_spec.h"
#include "scheduler/state/keys.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

// One child process; the destructor reaps it (after `stop_signal`).
class Proc {
 public:
  static absl::StatusOr<std::unique_ptr<Proc>> Start(
      std::vector<std::string> argv, const std::string& log, int stop_signal) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("open ", log, ": ", std::strerror(errno)));
    }
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    }
    if (pid == 0) {
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(fd);
    return std::unique_ptr<Proc>(new Proc(pid, stop_signal));
  }
  ~Proc() {
    kill(pid_, stop_signal_);
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (absl::Now() > give_up) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  // kill -9 and reap.
  void Kill9() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    stop_signal_ = 0;  // already gone; the destructor only reaps
  }
  pid_t pid() const { return pid_; }

 private:
  Proc(pid_t pid, int stop_signal) : pid_(pid), stop_signal_(stop_signal) {}
  pid_t pid_;
  int stop_signal_;
};

std::unique_ptr<schedpb::Scheduler::Stub> Stub(const std::string& addr) {
  return schedpb::Scheduler::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx, absl::Duration d) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

// The index of the scheduler that says it leads, or -1.
int LeaderOf(const std::vector<std::string>& addrs,
             const std::vector<bool>& alive) {
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (!alive[i]) continue;
    grpc::ClientContext ctx;
    schedpb::LeaderRequest req;
    schedpb::LeaderResponse resp;
    if (Stub(addrs[i])
            ->Leader(WithDeadline(&ctx, absl::Milliseconds(500)), req, &resp)
            .ok() &&
        resp.is_self()) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout,
               absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(poll);
  }
}

// True once an allocation of `job` has a node.
bool Placed(lock::Client* client, const std::string& job) {
  const std::string prefix = sched::SchedAllocKey(
      absl::StrCat(sched::kDefaultNamespace, ".", job, "."));
  lock::RangeOptions o;
  o.prefix = true;
  absl::StatusOr<lock::RangeResult> r = client->kv().Range(prefix, o);
  if (!r.ok()) return false;
  for (const lock::KeyValue& kv : r->kvs) {
    jobpb::Allocation a;
    if (a.ParseFromString(kv.value) && !a.node().empty()) return true;
  }
  return false;
}

struct KillResult {
  int killed = 0;
  double accepted_ms = 0;
  double placed_ms = 0;
};

Json Num(double v) {
  Json j;
  j.set_number_value(v);
  return j;
}

Json CronJson(const CronTickTally& t, double lost_per_failover) {
  return JObj({{"first_tick_unix", JNum(t.first_tick)},
               {"last_tick_unix", JNum(t.last_tick)},
               {"ticks", JNum(t.expected)},
               {"ran", JNum(t.ran)},
               {"lost", JNum(t.lost())},
               {"missed", JNum(t.missed)},
               {"absent", JNum(t.absent)},
               {"lost_per_failover", Num(lost_per_failover)},
               {"duplicates", JNum(t.duplicates)}});
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

void SchedulerFailoverFlags(po::options_description& d) {
  d.add_options()("component", po::value<std::string>()->default_value("lockd"),
                  "lockd: time a lockd failover (--kill-pid); scheduler: "
                  "start a local cluster and time scheduler failovers")(
      "kills", po::value<std::string>()->default_value("10"),
      "--component scheduler: leader kills to measure")(
      "bin-dir", po::value<std::string>(),
      "--component scheduler: directory of berth-lockd, berth-scheduler and "
      "berth-agent (default: next to berth, or its build tree)")(
      "port-base", po::value<std::string>(),
      "--component scheduler: first of the ports it uses on 127.0.0.1 "
      "(default: from the process id)")(
      "session-ttl-s", po::value<std::string>(),
      "--component scheduler: pass --session-ttl-s to the schedulers "
      "(default: theirs)")(
      "kill-jitter", po::value<std::string>()->default_value("1s"),
      "--component scheduler: wait a random time up to this before each "
      "kill, so that kills fall at any point of the leader's keepalive "
      "cycle (0 kills as soon as the standby is up)");
}

int SchedulerFailover(Context& ctx) {
  absl::StatusOr<int64_t> kills =
      ParseCount("--kills", ctx.args["kills"].as<std::string>());
  if (!kills.ok()) return ctx.UsageError(kills.status());
  if (*kills < 1) {
    return ctx.UsageError(
        absl::InvalidArgumentError("--kills must be at least 1"));
  }
  absl::StatusOr<absl::Duration> max_wait =
      ParseDurationFlag("--max-wait", ctx.args["max-wait"].as<std::string>());
  if (!max_wait.ok()) return ctx.UsageError(max_wait.status());
  absl::StatusOr<absl::Duration> jitter = ParseDurationFlag(
      "--kill-jitter", ctx.args["kill-jitter"].as<std::string>());
  if (!jitter.ok()) return ctx.UsageError(jitter.status());
  int port = 0;
  if (!ctx.Has("port-base")) {
    absl::StatusOr<int> found = FindFreePortBlock(30, getpid());
    if (!found.ok()) return ctx.Fail(found.status());
    port = *found;
  } else {
    absl::StatusOr<int64_t> p = ParseCount("--port-base", ctx.Arg("port-base"));
    if (!p.ok()) return ctx.UsageError(p.status());
    if (*p < 1024 || *p > 65000) {
      return ctx.UsageError(absl::InvalidArgumentError(
          "--port-base must be between 1024 and 65000"));
    }
    port = static_cast<int>(*p);
  }
  std::vector<std::string> sched_extra;
  if (ctx.Has("session-ttl-s")) {
    absl::StatusOr<int64_t> t =
        ParseCount("--session-ttl-s", ctx.Arg("session-ttl-s"));
    if (!t.ok() || *t < 1) {
      return ctx.UsageError(absl::InvalidArgumentError(
          "--session-ttl-s must be a whole number of seconds, at least 1"));
    }
    sched_extra = {"--session-ttl-s", absl::StrCat(*t)};
  }
  const std::string bin_dir = ctx.Has("bin-dir") ? ctx.Arg("bin-dir") : "";
  auto lockd_bin = FindBerthBinary("berth-lockd", bin_dir);
  auto sched_bin = FindBerthBinary("berth-scheduler", bin_dir);
  auto agent_bin = FindBerthBinary("berth-agent", bin_dir);
  for (const auto* b : {&lockd_bin, &sched_bin, &agent_bin}) {
    if (!b->ok()) return ctx.UsageError(b->status());
  }

  const std::string dir = absl::StrCat(fs::temp_directory_path().string(),
                                       "/berth-bench-failover-", getpid());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ctx.Fail(absl::InternalError("mkdir " + dir));
  auto addr = [&](int off) { return absl::StrCat("127.0.0.1:", port + off); };
  std::vector<std::string> lockd_addrs = {addr(0), addr(1), addr(2)};
  std::vector<std::string> peers;
  for (int i = 0; i < 3; ++i)
    peers.push_back(absl::StrCat(i + 1, "=", addr(i)));
  const std::string endpoints = absl::StrJoin(lockd_addrs, ",");

  // Declared in this order so that the agent (stopping its tasks) goes
  // first and lockd last.
  std::vector<std::unique_ptr<Proc>> lockds;
  std::vector<std::unique_ptr<Proc>> scheds(2);
  std::unique_ptr<Proc> agent;
  int starts = 0;
  const std::vector<std::string> tls_flags = tls::LocalDaemonTlsFlags();
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> argv = {
        *lockd_bin, absl::StrCat("--id=", i + 1),
        absl::StrCat("--listen=", addr(i)),
        absl::StrCat("--peers=", absl::StrJoin(peers, ",")),
        absl::StrCat("--data-dir=", dir, "/lockd", i + 1)};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    auto p =
        Proc::Start(argv, absl::StrCat(dir, "/lockd", i + 1, ".log"), SIGKILL);
    if (!p.ok()) return ctx.Fail(p.status());
    lockds.push_back(*std::move(p));
  }
  std::vector<std::string> sched_addrs = {addr(10), addr(11)};
  std::vector<bool> alive = {false, false};
  auto start_sched = [&](int i) -> absl::Status {
    std::vector<std::string> argv = {
        *sched_bin,    "--lock-endpoints",       endpoints,
        "--id",        absl::StrCat("s", i + 1), "--listen",
        sched_addrs[i]};
    argv.insert(argv.end(), sched_extra.begin(), sched_extra.end());
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    auto p = Proc::Start(
        argv, absl::StrCat(dir, "/scheduler-s", i + 1, "-", ++starts, ".log"),
        SIGKILL);
    if (!p.ok()) return p.status();
    scheds[i] = *std::move(p);
    alive[i] = true;
    return absl::OkStatus();
  };
  for (int i = 0; i < 2; ++i) {
    if (absl::Status s = start_sched(i); !s.ok()) return ctx.Fail(s);
  }
  {
    std::vector<std::string> argv = {*agent_bin,
                                     "--lock-endpoints",
                                     endpoints,
                                     "--node-id",
                                     "bench-n1",
                                     "--listen",
                                     addr(20),
                                     "--data-dir",
                                     absl::StrCat(dir, "/agent"),
                                     "--runtime",
                                     "process",
                                     "--cpu",
                                     "4000m",
                                     "--memory",
                                     "4GiB",
                                     "--stop-tasks-on-exit"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    auto p = Proc::Start(argv, absl::StrCat(dir, "/agent.log"), SIGTERM);
    if (!p.ok()) return ctx.Fail(p.status());
    agent = *std::move(p);
  }
  lock::ClientOptions co;
  co.dial_timeout = absl::Milliseconds(200);
  auto client = lock::Client::Connect(lockd_addrs, co);
  if (!client.ok()) return ctx.Fail(client.status());
  auto node_up = [&] {
    lock::RangeOptions o;
    o.prefix = true;
    auto r = (*client)->kv().Range(sched::NodeKey("bench-n1"), o);
    return r.ok() && !r->kvs.empty();
  };
  if (!WaitUntil(node_up, absl::Seconds(60), absl::Milliseconds(100)) ||
      !WaitUntil([&] { return LeaderOf(sched_addrs, alive) >= 0; },
                 absl::Seconds(60), absl::Milliseconds(100))) {
    return ctx.Fail(absl::DeadlineExceededError(absl::StrCat(
        "the local cluster did not come up within 60s; logs in ", dir)));
  }

  // A cron job every 2 s with the default catch-up runs through the kills;
  // its history afterwards counts the ticks the failovers cost.
  FailoverCron cron(sched_addrs, absl::StrCat("failover-cron-", getpid()));
  const int64_t cron_from = absl::ToUnixSeconds(absl::Now()) + 2;
  if (absl::Status s = cron.Submit(*max_wait); !s.ok()) {
    return ctx.Fail(
        absl::Status(s.code(), absl::StrCat(s.message(), "; logs in ", dir)));
  }
  if (absl::Status s = cron.AwaitTickAtOrAfter(cron_from, *max_wait); !s.ok()) {
    return ctx.Fail(
        absl::Status(s.code(), absl::StrCat(s.message(), "; logs in ", dir)));
  }

  std::vector<KillResult> results;
  absl::Time last_kill;
  absl::BitGen rng;
  for (int64_t k = 0; k < *kills; ++k) {
    int leader = -1;
    WaitUntil(
        [&] {
          leader = LeaderOf(sched_addrs, alive);
          return leader >= 0;
        },
        *max_wait, absl::Milliseconds(50));
    if (leader < 0) {
      return ctx.Fail(absl::DeadlineExceededError(
          absl::StrCat("no scheduler leads; logs in ", dir)));
    }
    const std::string job = absl::StrCat("failover-", getpid(), "-", k);
    auto jobs = sched::ParseJobSpecs(
        absl::StrCat("job: ", job,
                     "\nkind: service\nreplicas: 1\ntask:\n"
                     "  command: [\"/bin/sh\", \"-c\", \"sleep 3600\"]\n"
                     "  resources: {cpu: 10m, memory: 8MiB}\n"
                     "  kill_timeout: 1s\n"),
        "bench");
    if (!jobs.ok()) return ctx.Fail(jobs.status());
    schedpb::SubmitJobRequest req;
    *req.mutable_job() = jobs->front();

    // Without it every kill came about 2.05 s after the previous restart,
    // which is close to three keepalive periods of a 2 s session: kills
    // then fell just after a renewal and measured the lease's whole TTL.
    if (*jitter > absl::ZeroDuration()) {
      absl::SleepFor(*jitter * absl::Uniform(rng, 0.0, 1.0));
    }
    const absl::Time t0 = absl::Now();
    last_kill = t0;
    scheds[leader]->Kill9();
    alive[leader] = false;
    KillResult r;
    r.killed = leader + 1;
    // Submit to the survivor until it accepts (it refuses while it is not
    // the leader yet).
    bool accepted = WaitUntil(
        [&] {
          for (size_t i = 0; i < sched_addrs.size(); ++i) {
            if (!alive[i]) continue;
            grpc::ClientContext c;
            schedpb::SubmitJobResponse resp;
            if (Stub(sched_addrs[i])
                    ->SubmitJob(WithDeadline(&c, absl::Seconds(1)), req, &resp)
                    .ok()) {
              return true;
            }
          }
          return false;
        },
        *max_wait, absl::Milliseconds(5));
    r.accepted_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
    bool placed =
        accepted && WaitUntil([&] { return Placed(client->get(), job); },
                              *max_wait, absl::Milliseconds(2));
    r.placed_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
    if (!placed) {
      return ctx.Fail(absl::DeadlineExceededError(absl::StrCat(
          "kill ", k + 1, ": the job was ",
          accepted ? "accepted but not placed" : "not accepted", " within ",
          absl::FormatDuration(*max_wait), "; logs in ", dir)));
    }
    results.push_back(r);
    if (!ctx.json()) {
      *ctx.out << absl::StrFormat(
          "kill %d (s%d): submit accepted after %.0fms, placed after %.0fms\n",
          k + 1, r.killed, r.accepted_ms, r.placed_ms);
    }
    // Stop the job so the agent runs at most one, then bring the killed
    // scheduler back as the standby.
    {
      schedpb::StopJobRequest stop;
      stop.set_namespace_(sched::kDefaultNamespace);
      stop.set_job(job);
      stop.set_purge(true);
      for (size_t i = 0; i < sched_addrs.size(); ++i) {
        if (!alive[i]) continue;
        grpc::ClientContext c;
        schedpb::StopJobResponse resp;
        Stub(sched_addrs[i])
            ->StopJob(WithDeadline(&c, absl::Seconds(5)), stop, &resp);
      }
    }
    scheds[leader].reset();
    if (absl::Status s = start_sched(leader); !s.ok()) return ctx.Fail(s);
    // It must be up (answering) before the next kill, so there is a standby.
    if (!WaitUntil(
            [&] {
              grpc::ClientContext c;
              schedpb::LeaderRequest lr;
              schedpb::LeaderResponse resp;
              return Stub(sched_addrs[leader])
                         ->Leader(WithDeadline(&c, absl::Milliseconds(500)), lr,
                                  &resp)
                         .ok() &&
                     !resp.id().empty();
            },
            absl::Seconds(30), absl::Milliseconds(50))) {
      return ctx.Fail(absl::DeadlineExceededError(absl::StrCat(
          "the restarted scheduler did not come up; logs in ", dir)));
    }
  }

  // Three ticks past the last kill: every failover is inside the window.
  absl::StatusOr<CronTickTally> tally = [&]() -> absl::StatusOr<CronTickTally> {
    if (absl::Status s = cron.AwaitTickAtOrAfter(
            absl::ToUnixSeconds(last_kill) + 3 * FailoverCron::kPeriodS,
            *max_wait);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::vector<jobpb::CronRun>> runs = cron.Runs();
    if (!runs.ok()) return runs.status();
    return TallyTicks(*runs, FailoverCron::kPeriodS);
  }();
  cron.Remove();
  if (!tally.ok()) {
    return ctx.Fail(absl::Status(
        tally.status().code(),
        absl::StrCat("cron: ", tally.status().message(), "; logs in ", dir)));
  }
  const double lost_per_failover =
      static_cast<double>(tally->lost()) / static_cast<double>(*kills);

  std::vector<double> placed, acc;
  for (const KillResult& r : results) {
    placed.push_back(r.placed_ms);
    acc.push_back(r.accepted_ms);
  }
  const double median = Median(placed);
  if (ctx.json()) {
    std::vector<Json> items;
    for (const KillResult& r : results) {
      items.push_back(JObj({{"killed", JStr(absl::StrCat("s", r.killed))},
                            {"accepted_ms", Num(r.accepted_ms)},
                            {"placed_ms", Num(r.placed_ms)}}));
    }
    absl::Status st = PrintJson(
        *ctx.out, JObj({{"kills", JList(std::move(items))},
                        {"placed_median_ms", Num(median)},
                        {"placed_min_ms",
                         Num(*std::min_element(placed.begin(), placed.end()))},
                        {"placed_max_ms",
                         Num(*std::max_element(placed.begin(), placed.end()))},
                        {"accepted_median_ms", Num(Median(acc))},
                        {"cron", CronJson(*tally, lost_per_failover)},
                        {"logs", JStr(dir)}}));
    if (!st.ok()) return ctx.Fail(st);
  } else {
    *ctx.out << absl::StrFormat(
        "kill -> placement over %d kills: median %.0fms, min %.0fms, max "
        "%.0fms (submit accepted: median %.0fms); logs in %s\n",
        static_cast<int>(results.size()), median,
        *std::min_element(placed.begin(), placed.end()),
        *std::max_element(placed.begin(), placed.end()), Median(acc), dir);
    *ctx.out << absl::StrFormat(
        "cron every 2s (catch-up none) across the %d kills: %d ticks from "
        "the first run to the last, %d ran, %d lost (%d recorded missed, %d "
        "absent): %.2f per failover; %d ticks ran twice\n",
        static_cast<int>(*kills), tally->expected, tally->ran, tally->lost(),
        tally->missed, tally->absent, lost_per_failover, tally->duplicates);
  }
  return kExitOk;
}

}  // namespace berth::cli
