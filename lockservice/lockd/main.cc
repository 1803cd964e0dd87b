// berth-lockd: one replica of berth's replicated lock service.
//
//   berth-lockd --id 1 --listen 127.0.0.1:7401
//     --peers 1=127.0.0.1:7401,2=127.0.0.1:7402,3=127.0.0.1:7403
//     --data-dir /var/lib/berth/lockd
//
// With no --peers it runs a single-member cluster on 127.0.0.1:7400.
// SIGTERM or SIGINT shuts it down cleanly; after kill -9 it restarts from
// its SQLite file alone.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/program_options.hpp"
#include "common/tls/tls_flags.h"
#include "lockservice/lockd/lockd.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  // Debian's abseil is built with Mutex deadlock detection on, which keeps
  // a lock graph on every acquisition: 3% of the leader's CPU under load.
  // Tests keep it; the daemon does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  berth::lockd::LockdOptions opts;
  std::string peers;
  int64_t tick_ms = 50;
  int64_t stall_threshold_ms = 50;
  int64_t lock_delay_ms = 5000;
  int64_t lease_checkpoint_ms = 2000;
  std::string compaction_mode = "revision";
  std::string compaction_retention;
  std::string metrics_listen;
  po::options_description desc("berth-lockd options");
  desc.add_options()("help,h", "show this help")(
      "id", po::value<uint64_t>(&opts.id)->default_value(1),
      "this replica's id (> 0)")(
      "listen",
      po::value<std::string>(&opts.listen)->default_value("127.0.0.1:7400"),
      "host:port serving clients and peers")(
      "peers", po::value<std::string>(&peers)->default_value(""),
      "initial members: 1=host:port,2=host:port,...")(
      "data-dir",
      po::value<std::string>(&opts.data_dir)
          ->default_value("/var/lib/berth/lockd"),
      "directory for the SQLite file")(
      "join", po::bool_switch(&opts.join),
      "join an existing cluster (after `berth cluster add`) instead of "
      "bootstrapping")("tick-ms",
                       po::value<int64_t>(&tick_ms)->default_value(50),
                       "Raft tick interval")(
      "election-ticks", po::value<int>(&opts.election_ticks)->default_value(10),
      "ticks without a leader before campaigning (randomized up to twice "
      "that)")("snapshot-every",
               po::value<uint64_t>(&opts.snapshot_every)->default_value(2000),
               "compact the log after this many applied entries (keeping "
               "the last 5000; no image is taken: a follower that needs one "
               "gets it built on demand)")(
      "snapshot-keep-entries",
      po::value<uint64_t>(&opts.snapshot_keep_entries)->default_value(5000),
      "log entries kept behind each snapshot for slow followers")(
      "stall-threshold-ms",
      po::value<int64_t>(&stall_threshold_ms)->default_value(50),
      "log and count every Raft-thread step slower than this (shown by "
      "`berth cluster status`)")(
      "lock-delay-ms", po::value<int64_t>(&lock_delay_ms)->default_value(5000),
      "default lock-delay after a holder's session expires")(
      "max-expiries-per-second",
      po::value<int>(&opts.max_expiries_per_second)->default_value(1000),
      "rate limit on lease expiries the leader proposes")(
      "lease-checkpoint-ms",
      po::value<int64_t>(&lease_checkpoint_ms)->default_value(2000),
      "how often the leader records renewed leases' remaining TTLs in the "
      "log (renewals are leader-local in between; capped at TTL/4)")(
      "auto-compaction-mode",
      po::value<std::string>(&compaction_mode)->default_value("revision"),
      "watch-history compaction by the leader: revision (keep the last N "
      "revisions), periodic (keep a duration) or off")(
      "auto-compaction-retention",
      po::value<std::string>(&compaction_retention)->default_value(""),
      "revision mode: revisions to keep (default 10000); periodic mode: a "
      "duration such as 5m or 1h, a bare number is hours (default 5m)")(
      "quota-backend-bytes",
      po::value<int64_t>(&opts.quota_backend_bytes)
          ->default_value(int64_t{2} << 30),
      "raise the NOSPACE alarm (refusing writes that grow the database) "
      "when the leader's SQLite file exceeds this size; 0 disables it")(
      "etcd-listen",
      po::value<std::string>(&opts.etcd_listen)->default_value(""),
      "host:port serving the etcd v3 gRPC API (etcdctl, etcd client "
      "libraries) on the same state; empty (default) = off. Give every "
      "replica the same port offset from --listen (docs/etcd-compat.md)")(
      "metrics-listen",
      po::value<std::string>(&metrics_listen)->default_value("auto"),
      "host:port serving Prometheus /metrics and /healthz; auto = "
      "127.0.0.1:<--listen port + 1000> (skipped with a warning if taken), "
      "off = none (docs/metrics.md)");
  berth::tls::TlsFlags tls_flags;
  berth::tls::AddTlsFlags(&desc, &tls_flags);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "berth-lockd: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (tick_ms <= 0 || opts.election_ticks < 3) {
    std::cerr << "berth-lockd: --tick-ms must be > 0 and --election-ticks "
                 ">= 3\n";
    return 2;
  }
  if (stall_threshold_ms < 0) {
    std::cerr << "berth-lockd: --stall-threshold-ms must be >= 0\n";
    return 2;
  }
  if (lease_checkpoint_ms <= 0) {
    std::cerr << "berth-lockd: --lease-checkpoint-ms must be > 0\n";
    return 2;
  }
  if (opts.quota_backend_bytes < 0) {
    std::cerr << "berth-lockd: --quota-backend-bytes must be >= 0 (0 = no "
                 "quota)\n";
    return 2;
  }
  auto compaction =
      berth::lockd::ParseAutoCompaction(compaction_mode, compaction_retention);
  if (!compaction.ok()) {
    std::cerr << "berth-lockd: " << compaction.status().message() << "\n";
    return 2;
  }
  opts.auto_compaction = *compaction;
  opts.lease_checkpoint_interval = absl::Milliseconds(lease_checkpoint_ms);
  opts.tick = absl::Milliseconds(tick_ms);
  opts.stall_threshold = absl::Milliseconds(stall_threshold_ms);
  opts.default_lock_delay_ms = lock_delay_ms;
  if (!peers.empty()) {
    auto p = berth::lockd::ParsePeers(peers);
    if (!p.ok()) {
      std::cerr << "berth-lockd: " << p.status().message() << "\n";
      return 2;
    }
    opts.peers = *p;
    auto self = opts.peers.find(opts.id);
    if (self != opts.peers.end() && vm["listen"].defaulted()) {
      opts.listen = self->second;
    }
  }
  auto metrics =
      berth::metrics::ParseMetricsListen(metrics_listen, opts.listen, 1000);
  if (!metrics.ok()) {
    std::cerr << "berth-lockd: " << metrics.status().message() << "\n";
    return 2;
  }
  opts.metrics = *metrics;
  auto creds = berth::tls::DaemonCredentialsFromFlags(tls_flags);
  if (!creds.ok()) {
    std::cerr << "berth-lockd: " << creds.status().message() << "\n";
    return 2;
  }
  opts.credentials = *creds;
  // Fail-stop: a replica that cannot persist has stopped taking part in
  // Raft, and clients (watch streams above all) would otherwise wait on it
  // forever. _Exit, not exit: other threads still hold the state machine.
  opts.on_storage_failure = [](const absl::Status& st) {
    std::cerr << "berth-lockd: exiting: the replica cannot persist ("
              << st.message() << "); restart it once its disk is fixed"
              << std::endl;
    std::_Exit(1);
  };

  // Block the signals in every thread; one thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto lockd = berth::lockd::Lockd::Start(opts);
  if (!lockd.ok()) {
    std::cerr << "berth-lockd: " << lockd.status().message() << "\n";
    return 1;
  }
  std::cerr << "berth-lockd: replica " << opts.id << " serving on "
            << opts.listen << ", data in " << opts.data_dir
            << ", auto-compaction "
            << berth::lockd::DescribeAutoCompaction(opts.auto_compaction)
            << ", quota " << opts.quota_backend_bytes << " bytes, "
            << opts.credentials.Describe()
            << (opts.etcd_listen.empty() ? std::string()
                                         : ", etcd API on " + opts.etcd_listen)
            << std::endl;
  std::thread sig([&] {
    int s = 0;
    sigwait(&set, &s);
    std::cerr << "berth-lockd: signal " << s << ", shutting down" << std::endl;
    (*lockd)->Shutdown();
  });
  (*lockd)->Wait();
  sig.detach();
  lockd->reset();
  return 0;
}
