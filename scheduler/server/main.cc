// berth-scheduler: places jobs on agents (see docs/architecture.md).
//
//   berth-scheduler --lock-endpoints 127.0.0.1:7401,... --id s1
//                   [--listen 127.0.0.1:7500] [--session-ttl-s 2]
//                   [--http-listen HOST:PORT]
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/program_options.hpp"
#include "common/huge_pages.h"
#include "common/metrics/listen_flag.h"
#include "common/tls/listen.h"
#include "common/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "scheduler/server/api_service.h"
#include "scheduler/server/dashboard/dashboard.h"
#include "scheduler/server/scheduler.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  // First, before any thread or socket: it may re-execute the process.
  berth::ReexecWithHugePageHeap(argv);
  // Debian's abseil keeps a lock graph on every Mutex acquisition
  // (deadlock detection); tests keep it, production binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string endpoints, id, listen, metrics_listen, http_listen;
  std::string audit_retention = "720h";
  int64_t ttl_s = 2;
  int64_t progress_s = 30;
  po::options_description desc("berth-scheduler options");
  desc.add_options()("help", "show this help")(
      "lock-endpoints", po::value(&endpoints)->required(),
      "berth-lockd replicas, host:port[,host:port...]")(
      "id", po::value(&id)->required(),
      "this scheduler's name, unique among schedulers")(
      "listen", po::value(&listen)->default_value("127.0.0.1:7500"),
      "address of the Scheduler gRPC API")(
      "session-ttl-s", po::value(&ttl_s)->default_value(2),
      "lease TTL of the leadership session, seconds (a standby takes over "
      "at most this long after the leader crashes; on SIGTERM the leader "
      "resigns and the standby takes over at once)")(
      "update-progress-deadline-s", po::value(&progress_s)->default_value(30),
      "a rolling update rolls back when a new replica is not healthy this "
      "long (plus min_healthy) after it was created")(
      "metrics-listen", po::value(&metrics_listen)->default_value("auto"),
      "host:port serving Prometheus /metrics and /healthz; auto = "
      "127.0.0.1:<--listen port + 1000> (skipped with a warning if taken), "
      "off = none (docs/metrics.md)")(
      "http-listen", po::value(&http_listen)->default_value("off"),
      "host:port serving the read-only web dashboard; off = none "
      "(docs/dashboard.md)")(
      "audit-retention", po::value(&audit_retention)->default_value("720h"),
      "how long the audit log of API writes keeps its records (berth "
      "audit), e.g. 168h");

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
    std::cerr << "berth-scheduler: " << e.what() << "\n" << desc << std::endl;
    return 2;
  }
  if (ttl_s <= 0 || progress_s <= 0) {
    std::cerr << "berth-scheduler: --session-ttl-s and "
                 "--update-progress-deadline-s must be positive\n";
    return 2;
  }
  absl::Duration retention;
  if (!absl::ParseDuration(audit_retention, &retention) ||
      retention <= absl::ZeroDuration()) {
    std::cerr << "berth-scheduler: --audit-retention: \"" << audit_retention
              << "\" is not a positive duration such as 168h or 30m\n";
    return 2;
  }
  absl::StatusOr<std::vector<std::string>> eps =
      berth::lock::ParseEndpoints(endpoints);
  if (!eps.ok()) {
    std::cerr << "berth-scheduler: --lock-endpoints: " << eps.status().message()
              << std::endl;
    return 2;
  }
  auto metrics_at =
      berth::metrics::ParseMetricsListen(metrics_listen, listen, 1000);
  if (!metrics_at.ok()) {
    std::cerr << "berth-scheduler: " << metrics_at.status().message()
              << std::endl;
    return 2;
  }

  auto creds = berth::tls::DaemonCredentialsFromFlags(tls_flags);
  if (!creds.ok()) {
    std::cerr << "berth-scheduler: " << creds.status().message() << std::endl;
    return 2;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Declared before the scheduler and its endpoint after it: the endpoint
  // stops first, then the scheduler its callbacks read.
  berth::metrics::Registry registry;
  berth::sched::SchedulerOptions opts;
  opts.metrics = &registry;
  opts.id = id;
  opts.advertise_address = listen;
  opts.lock_endpoints = *eps;
  opts.credentials = *creds;
  opts.session_ttl = absl::Seconds(ttl_s);
  opts.audit_retention = retention;
  opts.reconcile.update_progress_deadline = absl::Seconds(progress_s);
  absl::StatusOr<std::unique_ptr<berth::sched::Scheduler>> sched =
      berth::sched::Scheduler::Create(opts);
  if (!sched.ok()) {
    std::cerr << "berth-scheduler: " << sched.status() << std::endl;
    return 1;
  }
  berth::sched::ApiService api(sched->get(), (*sched)->audit());
  grpc::ServerBuilder builder;
  int port = 0;
  berth::tls::AddListener(&builder, listen, creds->server(), &port);
  builder.RegisterService(&api);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "berth-scheduler: cannot listen on " << listen
              << " (address in use, or not a valid host:port?)" << std::endl;
    return 1;
  }
  std::cerr << "berth-scheduler[" << id << "]: serving on " << listen << ", "
            << creds->Describe() << std::endl;
  auto metrics_http = berth::metrics::ServeMetrics(
      *metrics_at, &registry, absl::StrCat("berth-scheduler[", id, "]"));
  if (!metrics_http.ok()) {
    std::cerr << "berth-scheduler: " << metrics_http.status().message()
              << std::endl;
    return 1;
  }
  auto dashboard =
      berth::sched::Dashboard::Start(http_listen, sched->get(), id);
  if (!dashboard.ok()) {
    std::cerr << "berth-scheduler: " << dashboard.status().message() << "\n";
    return 1;
  }
  if (*dashboard) {
    std::cerr << "berth-scheduler[" << id << "]: dashboard at "
              << (*dashboard)->url() << std::endl;
  }

  int sig = 0;
  sigwait(&set, &sig);
  std::cerr << "berth-scheduler[" << id << "]: signal " << sig
            << ", shutting down" << std::endl;
  metrics_http->reset();
  dashboard->reset();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  (*sched)->Shutdown();
  return 0;
}
