// berth-agent: runs allocations on one host (see docs/agent.md).
//
//   berth-agent --lock-endpoints 127.0.0.1:7401 --node-id n1
//               --listen 127.0.0.1:7601 --data-dir /var/lib/berth/agent
//               --runtime linux|process|sim [--cpu 2000m] [--memory 4GiB]
//               [--labels zone=a,disk=ssd] [--cgroup-parent berth]
//               [--stop-tasks-on-exit]
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/runtime/linux_runtime.h"
#include "agent/runtime/process_runtime.h"
#include "agent/runtime/sim_runtime.h"
#include "agent/server/agent.h"
#include "agent/server/exec_service.h"
#include "agent/server/logs_service.h"
#include "agent/server/node_flags.h"
#include "boost/program_options.hpp"
#include "common/fd_limit.h"
#include "common/metrics/listen_flag.h"
#include "common/tls/listen.h"
#include "common/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"

namespace po = boost::program_options;

namespace {

constexpr char kVersion[] = "0.1.0";

struct Flags {
  std::string endpoints;
  std::string node;
  std::string listen;
  std::string data_dir;
  std::string fifo_dir;
  std::string runtime;
  std::string cpu;
  std::string memory;
  std::string labels;
  std::string cgroup_parent;
  int64_t session_ttl_s = 10;
  int64_t usage_interval_s = 10;
  std::string log_max_bytes;
  int log_max_files = 3;
  int64_t log_retention_s = 3600;
  bool stop_tasks_on_exit = false;
  std::string metrics_listen;
};

int Fail(const std::string& msg) {
  std::cerr << "berth-agent: " << msg << std::endl;
  return 2;
}

// The simulated host of --runtime sim; it lives as long as the process.
berth::agent::SimMachine* SimHost() {
  static auto* machine = new berth::agent::SimMachine();
  return machine;
}

absl::StatusOr<std::unique_ptr<berth::agent::Runtime>> MakeRuntime(
    const Flags& f) {
  using namespace berth::agent;
  if (f.runtime == "process") return ProcessRuntime::Create();
  if (f.runtime == "sim") {
    return std::make_unique<SimRuntime>(berth::Clock::Real(), SimHost());
  }
  if (f.runtime == "linux") {
    LinuxRuntime::Options o;
    o.cgroup_parent = f.cgroup_parent;
    absl::StatusOr<std::unique_ptr<LinuxRuntime>> rt = LinuxRuntime::Create(o);
    if (!rt.ok()) return rt.status();
    return std::unique_ptr<Runtime>(std::move(*rt));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--runtime \"", f.runtime, "\": want linux, process or sim"));
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil keeps a lock graph on every Mutex acquisition
  // (deadlock detection); tests keep it, production binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A few descriptors per task (log FIFOs and files, pidfd): see
  // common/fd_limit.h.
  if (absl::StatusOr<uint64_t> n = berth::RaiseOpenFileLimit(65536); !n.ok()) {
    std::cerr << "warning: open-file limit: " << n.status() << "\n";
  }
  using namespace berth::agent;
  Flags f;
  po::options_description desc("berth-agent options");
  desc.add_options()("help", "show this help")(
      "lock-endpoints", po::value(&f.endpoints)->required(),
      "berth-lockd replicas, host:port[,host:port...]")(
      "node-id", po::value(&f.node)->required(), "this node's name")(
      "listen", po::value(&f.listen)->default_value("127.0.0.1:7601"),
      "address of the AgentLogs gRPC service")(
      "data-dir", po::value(&f.data_dir)->required(),
      "agent state: agent.db and allocs/<id>/{sandbox,logs}")(
      "runtime", po::value(&f.runtime)->default_value("process"),
      "linux (namespaces + cgroups, root), process or sim")(
      "cpu", po::value(&f.cpu)->default_value(""),
      "advertised CPU (\"2000m\", \"2\"); default: online CPUs")(
      "memory", po::value(&f.memory)->default_value(""),
      "advertised memory (\"4GiB\"); default: MemTotal")(
      "labels", po::value(&f.labels)->default_value(""),
      "node labels, key=value[,key=value...]")(
      "fifo-dir", po::value(&f.fifo_dir)->default_value("auto"),
      "where tasks' log FIFOs live; auto: under /run/berth-agent when /run "
      "is a tmpfs, else /dev/shm/berth-agent, else the data dir; \"\": "
      "in the data dir")("cgroup-parent",
                         po::value(&f.cgroup_parent)->default_value("berth"),
                         "cgroup under which tasks run (linux runtime)")(
      "session-ttl-s", po::value(&f.session_ttl_s)->default_value(10),
      "lease TTL of the node registration, seconds")(
      "usage-interval-s", po::value(&f.usage_interval_s)->default_value(10),
      "how often running allocations report usage, seconds")(
      "log-max-bytes", po::value(&f.log_max_bytes)->default_value("10MiB"),
      "rotate a task's stdout/stderr file at this size")(
      "log-max-files", po::value(&f.log_max_files)->default_value(3),
      "rotated log files kept per stream")(
      "log-retention-s", po::value(&f.log_retention_s)->default_value(3600),
      "keep a finished allocation's logs this long after it is removed "
      "(0: delete them at once)")(
      "stop-tasks-on-exit", po::bool_switch(&f.stop_tasks_on_exit),
      "stop every task on SIGTERM instead of leaving them to be adopted")(
      "metrics-listen", po::value(&f.metrics_listen)->default_value("off"),
      "host:port serving Prometheus /metrics and /healthz; off (default) = "
      "none, auto = 127.0.0.1:<--listen port + 1000> (docs/metrics.md)");
  berth::tls::TlsFlags tls_flags;
  berth::tls::AddTlsFlags(&desc, &tls_flags);
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << std::endl;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "berth-agent: " << e.what() << "\n" << desc << std::endl;
    return 2;
  }
  if (f.session_ttl_s <= 0 || f.usage_interval_s <= 0) {
    return Fail("--session-ttl-s and --usage-interval-s must be positive");
  }

  absl::StatusOr<berth::tls::Credentials> creds =
      berth::tls::DaemonCredentialsFromFlags(tls_flags);
  if (!creds.ok()) return Fail(std::string(creds.status().message()));

  absl::StatusOr<berth::metrics::MetricsListen> metrics_at =
      berth::metrics::ParseMetricsListen(f.metrics_listen, f.listen, 1000);
  if (!metrics_at.ok()) return Fail(std::string(metrics_at.status().message()));
  // Outlives the agent: main never destroys it before exiting.
  berth::metrics::Registry registry;

  AgentOptions opts;
  opts.metrics = &registry;
  opts.node = f.node;
  opts.data_dir = f.data_dir;
  opts.fifo_dir =
      f.fifo_dir == "auto" ? DefaultFifoDir(f.data_dir) : f.fifo_dir;
  opts.session_ttl = absl::Seconds(f.session_ttl_s);
  opts.usage_interval = absl::Seconds(f.usage_interval_s);
  opts.stop_tasks_on_exit = f.stop_tasks_on_exit;
  absl::StatusOr<int64_t> log_bytes = ParseBytes(f.log_max_bytes);
  if (!log_bytes.ok()) {
    return Fail(
        absl::StrCat("--log-max-bytes: ", log_bytes.status().message()));
  }
  opts.log_limits.max_bytes = *log_bytes;
  opts.log_limits.max_files = f.log_max_files;
  opts.log_retention.keep =
      absl::Seconds(std::max<int64_t>(0, f.log_retention_s));

  berth::agentpb::NodeInfo& info = opts.info;
  info.set_name(f.node);
  info.set_address(f.listen);
  info.set_runtime(f.runtime);
  info.set_version(kVersion);
  info.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  info.set_pids(DetectPidsMax());
  if (f.cpu.empty()) {
    info.set_cpu_millicores(DetectCpuMillicores());
  } else {
    absl::StatusOr<int64_t> cpu = ParseCpuMillicores(f.cpu);
    if (!cpu.ok()) return Fail(std::string(cpu.status().message()));
    info.set_cpu_millicores(*cpu);
  }
  if (f.memory.empty()) {
    info.set_memory_bytes(DetectMemoryBytes());
  } else {
    absl::StatusOr<int64_t> mem = ParseBytes(f.memory);
    if (!mem.ok()) return Fail(std::string(mem.status().message()));
    info.set_memory_bytes(*mem);
  }
  absl::StatusOr<std::map<std::string, std::string>> labels =
      ParseLabels(f.labels);
  if (!labels.ok()) return Fail(std::string(labels.status().message()));
  info.mutable_labels()->insert(labels->begin(), labels->end());

  // Block the shutdown signals in every thread; main waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  if (f.fifo_dir == "auto" && !opts.fifo_dir.empty()) {
    if (absl::Status s = MakePrivateDir(opts.fifo_dir); !s.ok()) {
      std::cerr << "berth-agent: log FIFOs stay in the data dir: " << s << "\n";
      opts.fifo_dir.clear();
    }
  } else if (!opts.fifo_dir.empty()) {
    std::filesystem::create_directories(opts.fifo_dir, ec);
    if (ec) {
      return Fail(
          absl::StrCat("--fifo-dir ", opts.fifo_dir, ": ", ec.message()));
    }
  }
  std::filesystem::create_directories(f.data_dir + "/allocs", ec);
  if (ec) {
    return Fail(absl::StrCat("--data-dir ", f.data_dir, ": ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<Runtime>> runtime = MakeRuntime(f);
  if (!runtime.ok()) return Fail(runtime.status().ToString());
  absl::StatusOr<std::unique_ptr<AllocStore>> store =
      AllocStore::Open(f.data_dir + "/agent.db");
  if (!store.ok()) return Fail(store.status().ToString());
  absl::StatusOr<std::vector<std::string>> endpoints =
      berth::lock::ParseEndpoints(f.endpoints);
  if (!endpoints.ok()) {
    return Fail(
        absl::StrCat("--lock-endpoints: ", endpoints.status().message()));
  }
  berth::lock::ClientOptions co;
  co.request_timeout = absl::Seconds(5);
  co.credentials = creds->channel();
  absl::StatusOr<std::unique_ptr<berth::lock::Client>> client =
      berth::lock::Client::Connect(*endpoints, co);
  if (!client.ok()) return Fail(client.status().ToString());

  absl::StatusOr<std::unique_ptr<Agent>> agent =
      Agent::Create(std::move(opts), std::move(*runtime), std::move(*store),
                    std::move(*client));
  if (!agent.ok()) return Fail(agent.status().ToString());

  LogsService logs(agent->get());
  ExecService exec(agent->get());
  grpc::ServerBuilder builder;
  int port = 0;
  berth::tls::AddListener(&builder, f.listen, creds->server(), &port);
  builder.RegisterService(&logs);
  builder.RegisterService(&exec);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("--listen ", f.listen,
                             ": cannot listen (address in use?)"));
  }
  std::cerr << "berth-agent: node " << f.node << " serving logs on " << f.listen
            << " (runtime " << f.runtime << ", " << creds->Describe() << ")"
            << std::endl;
  absl::StatusOr<std::unique_ptr<berth::metrics::HttpServer>> metrics_http =
      berth::metrics::ServeMetrics(*metrics_at, &registry, "berth-agent");
  if (!metrics_http.ok()) {
    return Fail(std::string(metrics_http.status().message()));
  }

  int sig = 0;
  sigwait(&set, &sig);
  std::cerr << "berth-agent: signal " << sig << ", shutting down" << std::endl;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  metrics_http->reset();
  (*agent)->Shutdown();
  if (f.stop_tasks_on_exit) {
    agent->reset();  // closes the session: the node key goes at once
    return 0;
  }
  // Leave without destroying the agent, so its lease is not revoked: the
  // node key lapses after the TTL unless a restarted agent renews it first.
  std::cerr.flush();
  std::quick_exit(0);
}
