// berth-nemesis: fault injection on real berth-lockd, berth-scheduler and
// berth-agent processes (issue #15).
//
//   berth-nemesis [--duration S] [--seed N] [--faults all|a,b,...]
//                 [--kv-clients N] [--contenders N] [--watchers N]
//                 [--schedulers=true|false] [--service-replicas N]
//                 [--work-dir DIR]
//
// Starts three replicas, each in a network namespace of its own on a
// private bridge, with its data dir on a small tmpfs; runs the KV register,
// lock and watch workloads from the root namespace; with --schedulers (the
// default), also two schedulers in namespaces of their own and one agent
// running a cron and a service job (sched_suite.h). The nemesis injects
// faults from the seeded schedule; then it heals everything, requires the
// cluster to recover, and judges the histories. Prints a report and one final
// "RESULT: PASS" or "RESULT: FAIL ..." line; exit 0 only on PASS. Needs
// root (namespaces, mounts).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/program_options.hpp"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/nemesis/kv_workload.h"
#include "tests/nemesis/lock_workload.h"
#include "tests/nemesis/nemesis.h"
#include "tests/nemesis/network.h"
#include "tests/nemesis/replicas.h"
#include "tests/nemesis/sched_suite.h"
#include "tests/nemesis/watch_workload.h"

namespace po = boost::program_options;
namespace nm = berth::nemesis;

namespace {

struct Flags {
  int duration_s = 120;
  uint64_t seed = 1;
  std::string faults = "all";
  int kv_clients = 4;
  int contenders = 4;
  int watchers = 3;
  int net_tag = 20 + getpid() % 200;
  std::string work_dir;
  std::string lockd = BERTH_LOCKD_BIN;
  std::string contender = BERTH_CONTENDER_BIN;
  bool schedulers = true;
  int service_replicas = 1;
  std::string scheduler = BERTH_SCHEDULER_BIN;
  std::string agent = BERTH_AGENT_BIN;
  std::string cli = BERTH_CLI_BIN;
  std::string libfaketime =
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
};

bool ParseFaults(const std::string& spec, std::vector<nm::Fault>* out) {
  if (spec == "all") {
    *out = nm::AllFaults();
    return true;
  }
  for (absl::string_view name : absl::StrSplit(spec, ',')) {
    bool found = false;
    for (nm::Fault f : nm::AllFaults()) {
      if (name == nm::FaultName(f)) {
        out->push_back(f);
        found = true;
      }
    }
    if (!found) {
      std::cerr << "berth-nemesis: unknown fault '" << name << "'\n";
      return false;
    }
  }
  return !out->empty();
}

// After the heal: a leader, and a write then a linearizable read of it
// through the client library, within `timeout`.
bool Recovered(nm::Replicas& replicas, absl::Duration timeout,
               std::string* why) {
  absl::Time deadline = absl::Now() + timeout;
  if (!berth::e2e::WaitFor([&] { return replicas.Leader() != 0; }, timeout)) {
    *why = "no leader";
    return false;
  }
  auto client = berth::lock::Client::Connect(replicas.Endpoints());
  if (!client.ok()) {
    *why = std::string(client.status().message());
    return false;
  }
  absl::Status last;
  bool ok = berth::e2e::WaitFor(
      [&] {
        auto put = (*client)->kv().Put("/nem/recovered", "yes");
        if (!put.ok()) {
          last = put.status();
          return false;
        }
        auto get = (*client)->kv().Get("/nem/recovered");
        if (!get.ok()) last = get.status();
        return get.ok() && get->has_value() && (*get)->value == "yes";
      },
      deadline - absl::Now());
  if (!ok) *why = absl::StrCat("no write+read: ", last.message());
  return ok;
}

// Every replica answers with the same applied index (nothing is writing).
bool Converged(nm::Replicas& replicas, absl::Duration timeout,
               uint64_t* index) {
  return berth::e2e::WaitFor(
      [&] {
        std::set<uint64_t> applied;
        for (int id = 1; id <= replicas.count(); ++id) {
          nm::ReplicaStatus s = replicas.Probe(id);
          if (!s.answered) return false;
          applied.insert(s.applied_index);
        }
        *index = *applied.begin();
        return applied.size() == 1;
      },
      timeout);
}

int RunSuite(const Flags& flags, const std::vector<nm::Fault>& faults) {
  std::cout << "nemesis: seed=" << flags.seed
            << " duration=" << flags.duration_s
            << "s work_dir=" << flags.work_dir << std::endl;
  const int sched_hosts = flags.schedulers ? nm::SchedSuite::kSchedulers : 0;
  auto net = nm::Network::Create(3, sched_hosts, flags.net_tag, flags.work_dir);
  if (!net.ok()) {
    std::cout << "RESULT: FAIL (setup: " << net.status() << ")\n";
    return 1;
  }
  nm::Replicas replicas(net->get(), flags.lockd, flags.work_dir, 3);
  if (std::find(faults.begin(), faults.end(), nm::Fault::kClockSkew) !=
      faults.end()) {
    replicas.EnableClockControl(flags.libfaketime);
  }
  absl::Status st = replicas.MountDisks(256);
  for (int id = 1; st.ok() && id <= 3; ++id) st = replicas.Start(id);
  if (!st.ok()) {
    std::cout << "RESULT: FAIL (setup: " << st << ")\n";
    return 1;
  }
  if (!berth::e2e::WaitFor([&] { return replicas.Leader() != 0; },
                           absl::Seconds(30))) {
    std::cout << "RESULT: FAIL (setup: no first leader)\n";
    return 1;
  }
  std::unique_ptr<nm::SchedSuite> sched;
  if (flags.schedulers) {
    auto s = nm::SchedSuite::Start(net->get(), 4, replicas.Endpoints(),
                                   {flags.scheduler, flags.agent, flags.cli,
                                    flags.work_dir, flags.service_replicas});
    if (!s.ok()) {
      std::cout << "RESULT: FAIL (setup: " << s.status() << ")\n";
      return 1;
    }
    sched = std::move(*s);
  }
  nm::KvWorkload kv(replicas.Endpoints(), flags.kv_clients, flags.seed);
  nm::LockWorkload locks(flags.contender, replicas.Endpoints(), flags.work_dir,
                         flags.contenders);
  nm::WatchWorkload watches(replicas.Endpoints(), flags.watchers);
  kv.Start();
  st = locks.Start(flags.duration_s + 300);
  if (st.ok()) st = watches.Start();
  if (!st.ok()) {
    std::cout << "RESULT: FAIL (setup: " << st << ")\n";
    return 1;
  }

  nm::NemesisOptions opts;
  opts.seed = flags.seed;
  opts.duration = absl::Seconds(flags.duration_s);
  opts.faults = faults;
  opts.pause_client = [&locks](bool pause, uint64_t pick) {
    if (pause) {
      locks.Pause(pick);
    } else {
      locks.ResumeAll();
    }
  };
  nm::Nemesis nemesis(net->get(), &replicas,
                      sched ? sched->schedulers() : nullptr, opts);
  nm::NemesisReport report = nemesis.Run();

  std::vector<std::string> failures;
  std::string why;
  absl::Time healed = absl::Now();
  bool recovered = Recovered(replicas, absl::Seconds(60), &why);
  absl::Duration recovery = absl::Now() - healed;
  if (!recovered) failures.push_back("recovery: " + why);
  kv.Stop();
  for (const std::string& s : locks.Stop()) failures.push_back(s);
  if (!watches.Drain(absl::Seconds(60))) {
    failures.push_back("a watcher did not reach the last acknowledged write");
  }
  watches.Stop();
  if (absl::Status hs = watches.WriteHistories(flags.work_dir); !hs.ok()) {
    std::cerr << "nemesis: " << hs << "\n";
  }
  uint64_t index = 0;
  bool converged = Converged(replicas, absl::Seconds(60), &index);
  if (!converged) failures.push_back("replicas did not converge");
  // A replica that died during the final checks is a failure too.
  nemesis.HealAll(&report);

  std::cout << "\n== faults (" << report.rounds << " rounds) ==\n";
  for (nm::Fault f : faults) {
    std::cout << "  " << nm::FaultName(f) << ": " << report.injected[f]
              << " injected\n";
  }
  std::cout << "  replica exits on a full disk: " << report.full_disk_exits
            << "\n  rounds with no leader 10 s after the heal: "
            << report.slow_recoveries << "\n  slowest recovery after a heal: "
            << absl::FormatDuration(
                   absl::Trunc(report.max_recovery, absl::Milliseconds(1)))
            << "\n";
  for (const std::string& e : report.errors) {
    std::cout << "  fault error: " << e << "\n";
  }
  for (const std::string& e : report.unexpected_exits) {
    failures.push_back(e);
  }

  std::cout << "== recovery ==\n  final heal to write+read: "
            << (recovered ? absl::FormatDuration(
                                absl::Trunc(recovery, absl::Milliseconds(1)))
                          : "FAILED " + why)
            << "\n  replicas converged: "
            << (converged ? absl::StrCat("yes, applied index ", index) : "NO")
            << "\n";

  nm::KvStats ks = kv.Stats();
  berth::sim::LinearizabilityResult lin = kv.Check();
  std::cout << "== workload kv (" << flags.kv_clients << " clients) ==\n"
            << "  ops " << ks.ops << ": ok " << ks.ok << ", cas-failed "
            << ks.cas_failed << ", unknown " << ks.unknown << "; " << ks.keys
            << " registers\n  checker linearizability (WGL): ";
  switch (lin.verdict) {
    case berth::sim::LinearizabilityResult::Verdict::kLinearizable:
      std::cout << "PASS (" << lin.states_explored << " states)\n";
      break;
    case berth::sim::LinearizabilityResult::Verdict::kViolation:
      std::cout << "FAIL on " << lin.key << ": " << lin.explanation << "\n";
      failures.push_back("kv history is not linearizable");
      break;
    case berth::sim::LinearizabilityResult::Verdict::kGaveUp:
      std::cout << "GAVE UP on " << lin.key << "\n";
      failures.push_back("linearizability checker gave up");
      break;
  }

  nm::LockVerdict lv = locks.Check();
  std::cout << "== workload lock (" << flags.contenders << " contenders) ==\n"
            << "  grants " << lv.stats.grants << ", guarded writes ok "
            << lv.stats.writes_ok << ", refused stale " << lv.stats.writes_stale
            << ", unknown " << lv.stats.writes_unknown << " (applied "
            << lv.stats.unknown_applied << "), error " << lv.stats.writes_error
            << ", sessions lost " << lv.stats.sessions_lost << ", stored "
            << lv.stats.stored_writes
            << "\n  checker lock-history (tokens increase, no interleaving, "
               "no lost write): ";
  if (!lv.error.ok()) {
    std::cout << "ERROR " << lv.error << "\n";
    failures.push_back("lock checker could not run");
  } else if (!lv.violations.empty()) {
    std::cout << "FAIL (" << lv.violations.size() << " violations)\n";
    for (size_t i = 0; i < lv.violations.size() && i < 20; ++i) {
      std::cout << "    " << lv.violations[i] << "\n";
    }
    failures.push_back("lock history violations");
  } else {
    std::cout << "PASS\n";
  }
  nm::WatchStats ws = watches.Stats();
  nm::WatchVerdict wv = watches.Check();
  std::cout << "== workload watch (" << flags.watchers << " watchers) ==\n"
            << "  puts " << ws.writes << ": acknowledged " << ws.acked
            << ", unknown " << ws.unknown << " (" << wv.unknown_seen
            << " of them delivered); events " << ws.events
            << "; restarts after compaction " << ws.restarts << " ("
            << wv.excused << " acknowledged puts compacted before delivery)"
            << "\n  checker watch (each acknowledged put once, in revision "
               "order, nothing else): ";
  if (!wv.violations.empty()) {
    std::cout << "FAIL (" << wv.violations.size() << " violations)\n";
    for (size_t i = 0; i < wv.violations.size() && i < 20; ++i) {
      std::cout << "    " << wv.violations[i] << "\n";
    }
    failures.push_back("watch violations");
  } else {
    std::cout << "PASS (" << wv.acked_checked << " deliveries checked)\n";
  }
  if (sched) {
    for (const std::string& f : sched->Finish(report, healed)) {
      failures.push_back(f);
    }
  }
  if (lv.stats.grants == 0 || ks.ok == 0 || ws.acked == 0) {
    failures.push_back("a workload made no progress");
  }

  if (failures.empty()) {
    std::cout << "RESULT: PASS (seed " << flags.seed << ")" << std::endl;
    return 0;
  }
  for (const std::string& f : failures) std::cout << "failure: " << f << "\n";
  std::cout << "RESULT: FAIL (replay: scripts/nemesis.sh --seed " << flags.seed
            << " --duration " << flags.duration_s << ")" << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  po::options_description desc("berth-nemesis options");
  desc.add_options()("help,h", "show this help")(
      "duration", po::value<int>(&flags.duration_s)->default_value(120),
      "seconds of faults")("seed",
                           po::value<uint64_t>(&flags.seed)->default_value(1),
                           "seed of the fault schedule and workloads")(
      "faults", po::value<std::string>(&flags.faults)->default_value("all"),
      "all, or a comma list of fault names")(
      "kv-clients", po::value<int>(&flags.kv_clients)->default_value(4),
      "KV register client threads")(
      "contenders", po::value<int>(&flags.contenders)->default_value(4),
      "lock contender processes")(
      "watchers", po::value<int>(&flags.watchers)->default_value(3),
      "watch workload watchers, each with its own client")(
      "net-tag", po::value<int>(&flags.net_tag),
      "20..219: names (bnem<tag>*) and subnet (10.213.<tag>.0/24) of this "
      "run's namespaces, bridge and links (default from the pid)")(
      "work-dir", po::value<std::string>(&flags.work_dir),
      "logs and histories (default: a fresh /tmp/berth-nemesis-*)")(
      "lockd", po::value<std::string>(&flags.lockd), "berth-lockd binary")(
      "contender", po::value<std::string>(&flags.contender),
      "berth-e2e-contender binary")(
      "schedulers", po::value<bool>(&flags.schedulers)->default_value(true),
      "also run two schedulers and an agent with the cron and service "
      "workloads and the scheduler faults (--schedulers=false: lockd only)")(
      "service-replicas",
      po::value<int>(&flags.service_replicas)->default_value(1),
      "replicas of the service workload's job")(
      "scheduler", po::value<std::string>(&flags.scheduler),
      "berth-scheduler binary")("agent", po::value<std::string>(&flags.agent),
                                "berth-agent binary")(
      "cli", po::value<std::string>(&flags.cli), "berth CLI binary")(
      "libfaketime", po::value<std::string>(&flags.libfaketime),
      "libfaketimeMT.so for the clock-skew fault (Debian package faketime)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "berth-nemesis: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  std::vector<nm::Fault> faults;
  if (!ParseFaults(flags.faults, &faults)) return 2;
  if (!flags.schedulers) std::erase_if(faults, nm::IsSchedulerFault);
  if (faults.empty()) {
    std::cerr << "berth-nemesis: no faults left to inject\n";
    return 2;
  }
  if (access(flags.libfaketime.c_str(), R_OK) != 0) {
    // Without it the other faults still run; the report says so.
    std::erase(faults, nm::Fault::kClockSkew);
    std::cout << "berth-nemesis: no " << flags.libfaketime
              << " (apt-get install faketime): clock-skew skipped\n";
  }
  if (geteuid() != 0) {
    std::cerr << "berth-nemesis: must run as root (network namespaces, "
                 "tmpfs mounts)\n";
    return 2;
  }
  if (flags.work_dir.empty()) {
    flags.work_dir = berth::e2e::MakeTempDir("berth-nemesis");
  }
  return RunSuite(flags, faults);
}
