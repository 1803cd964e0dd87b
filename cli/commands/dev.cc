// berth dev: a whole berth in one process for development and demos: a
// single-replica berth-lockd, a berth-scheduler and a local berth-agent,
// on the default ports so the plain CLI works against it with no flags.
// Ctrl-C stops it; running it again on the same --data-dir resumes (jobs,
// allocations and cron history live in lockd's SQLite file there).
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/runtime/linux_runtime.h"
#include "agent/runtime/process_runtime.h"
#include "agent/server/agent.h"
#include "agent/server/exec_service.h"
#include "agent/server/logs_service.h"
#include "agent/server/node_flags.h"
#include "cli/command.h"
#include "common/tls/listen.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "lockservice/lockd/lockd.h"
#include "scheduler/server/api_service.h"
#include "scheduler/server/dashboard/dashboard.h"
#include "scheduler/server/scheduler.h"

namespace berth::cli {
namespace {

// The linux runtime when we are root and it can set up its cgroups; the
// process runtime otherwise. Says which, and why.
std::unique_ptr<agent::Runtime> PickRuntime(std::ostream& err,
                                            std::string* name) {
  if (geteuid() == 0) {
    agent::LinuxRuntime::Options o;
    o.cgroup_parent = "berth-dev";
    auto rt = agent::LinuxRuntime::Create(o);
    if (rt.ok()) {
      *name = "linux";
      err << "berth dev: agent uses the linux runtime (namespaces + cgroups "
             "under berth-dev)\n";
      return std::move(*rt);
    }
    err << "berth dev: linux runtime unavailable (" << rt.status().message()
        << "); falling back to the process runtime\n";
  } else {
    err << "berth dev: not root, so the agent uses the process runtime (no "
           "isolation, limits not enforced)\n";
  }
  *name = "process";
  return agent::ProcessRuntime::Create();
}

int Dev(Context& ctx) {
  std::ostream& err = *ctx.err;
  std::string dir = ctx.Arg("data-dir");
  if (dir.empty()) dir = "/var/lib/berth/dev";
  int base = 7400;
  if (ctx.Has("port-base") && (!absl::SimpleAtoi(ctx.Arg("port-base"), &base) ||
                               base < 1024 || base > 65000)) {
    return ctx.UsageError(
        absl::InvalidArgumentError("--port-base: want a port in 1024..65000"));
  }
  const std::string lock_addr = absl::StrCat("127.0.0.1:", base);
  const std::string sched_addr = absl::StrCat("127.0.0.1:", base + 100);
  const std::string agent_addr = absl::StrCat("127.0.0.1:", base + 200);
  const std::string http_addr = ctx.Has("http-listen")
                                    ? ctx.Arg("http-listen")
                                    : absl::StrCat("127.0.0.1:", base + 300);
  std::error_code ec;
  std::filesystem::create_directories(dir + "/lockd", ec);
  std::filesystem::create_directories(dir + "/agent/allocs", ec);
  if (ec) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("--data-dir ", dir, ": ", ec.message())));
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const absl::Time t0 = absl::Now();

  lockd::LockdOptions lo;
  lo.id = 1;
  lo.listen = lock_addr;
  lo.peers = {{1, lock_addr}};
  lo.data_dir = dir + "/lockd";
  lo.default_lock_delay_ms = 1000;
  auto lockd = lockd::Lockd::Start(lo);
  if (!lockd.ok()) return ctx.Fail(lockd.status());

  sched::SchedulerOptions so;
  so.id = "dev";
  so.advertise_address = sched_addr;
  so.lock_endpoints = {lock_addr};
  so.session_ttl = absl::Seconds(5);
  auto scheduler = sched::Scheduler::Create(so);
  if (!scheduler.ok()) return ctx.Fail(scheduler.status());
  sched::ApiService api(scheduler->get(), (*scheduler)->audit());
  grpc::ServerBuilder sb;
  int sched_port = 0;
  tls::AddListener(&sb, sched_addr, nullptr, &sched_port);
  sb.RegisterService(&api);
  std::unique_ptr<grpc::Server> sched_server = sb.BuildAndStart();
  if (!sched_server || sched_port == 0) {
    return ctx.Fail(
        absl::UnavailableError(absl::StrCat("cannot listen on ", sched_addr,
                                            " (is berth dev "
                                            "already running?)")));
  }

  auto dashboard = sched::Dashboard::Start(http_addr, scheduler->get(), "dev");
  if (!dashboard.ok()) return ctx.Fail(dashboard.status());

  std::string runtime_name;
  std::unique_ptr<agent::Runtime> runtime = PickRuntime(err, &runtime_name);
  if (!runtime) return ctx.Fail(absl::InternalError("no agent runtime"));
  auto store = agent::AllocStore::Open(dir + "/agent/agent.db");
  if (!store.ok()) return ctx.Fail(store.status());
  auto client = lock::Client::Connect({lock_addr});
  if (!client.ok()) return ctx.Fail(client.status());
  agent::AgentOptions ao;
  ao.node = "local";
  ao.data_dir = dir + "/agent";
  ao.session_ttl = absl::Seconds(5);
  ao.usage_interval = absl::Seconds(5);
  ao.stop_tasks_on_exit = true;
  ao.info.set_name("local");
  ao.info.set_address(agent_addr);
  ao.info.set_runtime(runtime_name);
  ao.info.set_version("dev");
  ao.info.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  ao.info.set_cpu_millicores(agent::DetectCpuMillicores());
  ao.info.set_memory_bytes(agent::DetectMemoryBytes());
  ao.info.set_pids(agent::DetectPidsMax());
  auto agent = agent::Agent::Create(std::move(ao), std::move(runtime),
                                    std::move(*store), std::move(*client));
  if (!agent.ok()) return ctx.Fail(agent.status());
  agent::LogsService logs(agent->get());
  agent::ExecService exec(agent->get());
  grpc::ServerBuilder ab;
  int agent_port = 0;
  tls::AddListener(&ab, agent_addr, nullptr, &agent_port);
  ab.RegisterService(&logs);
  ab.RegisterService(&exec);
  std::unique_ptr<grpc::Server> agent_server = ab.BuildAndStart();

  // Ready when the scheduler leads: then `berth job run` is accepted.
  while (!(*scheduler)->is_leader() && absl::Now() - t0 < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  err << "berth dev: ready in " << absl::FormatDuration(absl::Now() - t0)
      << ": lockd " << lock_addr << ", scheduler " << sched_addr
      << ", agent \"local\" " << agent_addr << ", data in " << dir << "\n";
  if (*dashboard)
    err << "berth dev: dashboard at " << (*dashboard)->url() << "\n";
  err << "berth dev: Ctrl-C to stop\n";
  err.flush();

  int sig = 0;
  sigwait(&set, &sig);
  err << "berth dev: stopping\n";
  if (agent_server) agent_server->Shutdown();
  agent->reset();  // stops the tasks and revokes the node's session
  dashboard->reset();
  sched_server->Shutdown();
  (*scheduler)->Shutdown();
  (*lockd)->Shutdown();
  err << "berth dev: stopped\n";
  return kExitOk;
}

}  // namespace

void AddDevCommands(std::vector<Command>* table) {
  table->push_back(
      {"dev",
       "run lockd, a scheduler and a local agent in one process",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("data-dir", po::value<std::string>(),
                         "where state lives (default /var/lib/berth/dev)")(
             "port-base", po::value<std::string>(),
             "lockd on this port, the scheduler on +100, the agent on +200, "
             "the dashboard on +300 (default 7400)")(
             "http-listen", po::value<std::string>(),
             "host:port of the web dashboard (default 127.0.0.1:<port-base + "
             "300>, i.e. 7700); off = none");
       },
       Dev});
}

}  // namespace berth::cli
