#include "tests/nemesis/sched_suite.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::nemesis {

namespace {

// A fault window counts as a cron outage from 1 s before the fault (a tick
// just due may not be claimed yet) to this long after a scheduler leader
// was seen again (loading its mirror, the first Step).
constexpr absl::Duration kLeaderWarmup = absl::Seconds(3);

std::string Ms(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

}  // namespace

SchedSuite::SchedSuite(Network* net, int first_host,
                       std::vector<std::string> lockd,
                       SchedSuiteOptions options)
    : options_(std::move(options)),
      schedulers_(net, first_host, kSchedulers, options_.scheduler_bin,
                  options_.work_dir, lockd),
      agent_(options_.agent_bin, absl::StrJoin(lockd, ","),
             absl::StrCat(net->RootIp(), ":7601"), options_.work_dir) {}

absl::StatusOr<std::unique_ptr<SchedSuite>> SchedSuite::Start(
    Network* net, int first_host, std::vector<std::string> lockd,
    SchedSuiteOptions options) {
  std::unique_ptr<SchedSuite> s(
      new SchedSuite(net, first_host, std::move(lockd), std::move(options)));
  for (int i = 1; i <= kSchedulers; ++i) {
    if (absl::Status st = s->schedulers_.Start(i); !st.ok()) return st;
  }
  if (absl::Status st = s->agent_.Start(); !st.ok()) return st;
  if (!e2e::WaitFor([&] { return s->schedulers_.Leader() != 0; },
                    absl::Seconds(30))) {
    return absl::UnavailableError("no first scheduler leader");
  }
  s->workload_ = std::make_unique<SchedWorkload>(
      s->options_.cli_bin, s->schedulers_.EndpointsFlag(),
      s->schedulers_.LockdFlag(), s->options_.work_dir,
      s->options_.service_replicas, s->agent_.pid());
  if (absl::Status st = s->workload_->Start(absl::Seconds(60)); !st.ok()) {
    return st;
  }
  return s;
}

std::vector<std::string> SchedSuite::Finish(const NemesisReport& report,
                                            absl::Time healed) {
  std::vector<std::string> failures;
  const int replicas = options_.service_replicas;
  std::vector<std::string> bad;
  // Back to work: a cron run that started after the heal, and the service
  // at its full count.
  bool back = e2e::WaitFor(
      [&] {
        std::vector<ServiceSample> s = workload_->Samples();
        if (s.empty() ||
            s.back().running.size() != static_cast<size_t>(replicas)) {
          return false;
        }
        for (const CronRun& r : workload_->CronRuns(&bad)) {
          if (r.started > healed) return true;
        }
        return false;
      },
      absl::Seconds(60));
  absl::Duration back_after = absl::Now() - healed;
  workload_->Stop();
  bad.clear();
  std::vector<CronRun> runs = workload_->CronRuns(&bad);
  std::vector<ServiceSample> samples = workload_->Samples();
  agent_.Stop();

  CronCheckInput in;
  in.runs = runs;
  // The first tick after the submit may fall before the job was stored.
  in.from = absl::ToUnixSeconds(workload_->submitted()) + 1;
  // Ticks 8 s old have had time to run: once the scheduler is back a run
  // starts about a second after its tick (concurrency allow lets runs
  // finish out of order, so the newest ticks are not judged).
  in.until = absl::ToUnixSeconds(absl::Now()) - 8;
  in.deadline = kCronDeadline;
  for (const FaultWindow& w : report.windows) {
    in.outages.push_back(
        {w.applied - absl::Seconds(1), w.recovered + kLeaderWarmup});
  }
  CronVerdict cv = CheckCron(in);
  for (const std::string& b : bad) {
    cv.violations.push_back("unreadable cron line: " + b);
  }
  std::cout << "== workload cron (*/1 * * * * *, concurrency allow, catch_up "
               "all, starting_deadline "
            << absl::FormatDuration(kCronDeadline) << ") ==\n  ticks judged "
            << cv.ticks << ": ran " << cv.ran << ", missed " << cv.missed
            << " (" << cv.excused
            << " inside an outage for their whole deadline), run twice "
            << cv.duplicated << "; runs " << runs.size()
            << ", latest start after its tick " << Ms(cv.max_late)
            << "\n  back after the final heal: "
            << (back ? Ms(back_after) : "NO")
            << "\n  checker cron (no tick twice, none early, missed only "
               "while no scheduler could lead): ";
  if (cv.violations.empty()) {
    std::cout << "PASS\n";
  } else {
    std::cout << "FAIL (" << cv.violations.size() << " violations)\n";
    for (size_t i = 0; i < cv.violations.size() && i < 20; ++i) {
      std::cout << "    " << cv.violations[i] << "\n";
    }
    failures.push_back("cron violations");
  }

  ServiceVerdict sv = CheckService(samples, replicas, healed);
  std::cout << "== workload service (replicas " << replicas << ") ==\n"
            << "  samples " << sv.samples << " (every 100 ms), allocations "
            << sv.allocs_seen << ", most running at once " << sv.max_running
            << ", samples below " << replicas << " running " << sv.samples_short
            << "\n  scheduler leader back after a heal: slowest "
            << Ms(report.sched_max_recovery) << ", rounds over 15 s "
            << report.sched_slow_recoveries
            << "\n  checker service (never more running than replicas, "
               "running again after the heal): ";
  if (sv.violations.empty()) {
    std::cout << "PASS\n";
  } else {
    std::cout << "FAIL (" << sv.violations.size() << " violations)\n";
    for (size_t i = 0; i < sv.violations.size() && i < 20; ++i) {
      std::cout << "    " << sv.violations[i] << "\n";
    }
    failures.push_back("service violations");
  }
  if (!back) failures.push_back("scheduler workloads did not come back");
  if (cv.ran == 0 || sv.allocs_seen == 0) {
    failures.push_back("a scheduler workload made no progress");
  }
  return failures;
}

}  // namespace berth::nemesis
