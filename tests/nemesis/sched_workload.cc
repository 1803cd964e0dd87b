#include "tests/nemesis/sched_workload.h"

#include <dirent.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::nemesis {

namespace {

// In every service task's command line, so a pid reused by anything else
// is not taken for a running allocation.
constexpr char kServiceMarker[] = "nem-svc-task";

}  // namespace

SchedWorkload::SchedWorkload(std::string cli_bin, std::string scheduler_flag,
                             std::string lockd_flag, std::string work_dir,
                             int service_replicas, pid_t agent_pid)
    : cli_(std::move(cli_bin)),
      scheduler_flag_(std::move(scheduler_flag)),
      lockd_flag_(std::move(lockd_flag)),
      dir_(std::move(work_dir)),
      service_replicas_(service_replicas),
      agent_pid_(agent_pid) {}

absl::Status SchedWorkload::SubmitJob(const std::string& name,
                                      const std::string& yaml,
                                      absl::Time deadline) {
  const std::string path = absl::StrCat(dir_, "/", name, ".yaml");
  std::ofstream(path) << yaml;
  e2e::RunResult r;
  int attempt = 0;
  e2e::WaitFor(
      [&] {
        r = e2e::RunToExit(
            {cli_, "--scheduler", scheduler_flag_, "--lock-endpoints",
             lockd_flag_, "job", "run", "--detach", path},
            absl::StrCat(dir_, "/submit-", name, "-", ++attempt),
            absl::Seconds(20));
        return r.exit_code == 0;
      },
      deadline - absl::Now());
  if (r.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("berth job run ", name, ": ", r.err));
  }
  return absl::OkStatus();
}

absl::Status SchedWorkload::Start(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/svc", ec);
  // The tasks end when the agent does, so nothing outlives a crashed run.
  // The service task exits 1 after 8 s: a replacement allocation per slot
  // about every 9 s gives a deposed leader something to get wrong.
  const std::string cron = absl::StrCat(R"y(job: nem-cron
kind: cron
cron:
  schedule: "*/1 * * * * *"
  concurrency: allow
  catch_up: all
  starting_deadline: )y",
                                        absl::ToInt64Seconds(kCronDeadline),
                                        R"y(s
  history: {successful: 3, failed: 3}
task:
  command:
    - /bin/sh
    - -c
    - echo "$BERTH_ALLOC_ID $(date +%s%N)" >> )y",
                                        dir_, R"y(/cron-runs
  resources: {cpu: 10m, memory: 8MiB, pids: 8}
  restart: {policy: never}
  timeout: 30s
)y");
  const std::string svc =
      absl::StrCat("job: nem-svc\nkind: service\nreplicas: ", service_replicas_,
                   R"y(
task:
  command:
    - /bin/sh
    - -c
    - |
      : )y",
                   kServiceMarker, R"y(
      echo $$ > )y",
                   dir_, R"y(/svc/$BERTH_ALLOC_ID.pid
      i=0
      while kill -0 )y",
                   agent_pid_, R"y( 2>/dev/null && [ $i -lt 40 ]; do
        sleep 0.2; i=$((i+1))
      done
      exit 1
  resources: {cpu: 10m, memory: 8MiB, pids: 8}
  restart: {policy: on-failure, backoff: 1s}
  kill_timeout: 2s
)y");
  if (absl::Status st = SubmitJob("nem-svc", svc, deadline); !st.ok()) {
    return st;
  }
  if (absl::Status st = SubmitJob("nem-cron", cron, deadline); !st.ok()) {
    return st;
  }
  submitted_ = absl::Now();
  sampler_ = std::thread([this] { Sample(); });
  return absl::OkStatus();
}

void SchedWorkload::Stop() {
  stop_ = true;
  if (sampler_.joinable()) sampler_.join();
}

std::set<std::string> SchedWorkload::RunningServiceAllocs() const {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/svc", ec)) {
    const std::string file = e.path().filename().string();
    absl::string_view name = file;
    if (!absl::ConsumeSuffix(&name, ".pid")) continue;
    int pid = 0;
    std::string text = e2e::ReadFileOrEmpty(e.path().string());
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid)) continue;
    // A zombie or a reused pid has no (or another) command line. The marker
    // is the job's, not the allocation's, so the environment must also name
    // this allocation: over a 2-hour run pids wrap (pid_max 32768), and a
    // later allocation's shell, or a fork of it before exec, took a
    // finished allocation's pid (7 false "one slot running twice" at seed
    // 20261208, each pairing an allocation that had ended an hour before).
    const std::string proc = absl::StrCat("/proc/", pid);
    if (!absl::StrContains(e2e::ReadFileOrEmpty(proc + "/cmdline"),
                           kServiceMarker)) {
      continue;
    }
    const std::string environ = e2e::ReadFileOrEmpty(proc + "/environ");
    const std::string mine = absl::StrCat("BERTH_ALLOC_ID=", name);
    for (absl::string_view var : absl::StrSplit(environ, '\0')) {
      if (var == mine) {
        out.insert(std::string(name));
        break;
      }
    }
  }
  return out;
}

void SchedWorkload::Sample() {
  while (!stop_) {
    ServiceSample s{absl::Now(), RunningServiceAllocs()};
    {
      absl::MutexLock l(&mu_);
      samples_.push_back(std::move(s));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

std::vector<CronRun> SchedWorkload::CronRuns(
    std::vector<std::string>* bad) const {
  return ParseCronRuns(e2e::ReadFileOrEmpty(dir_ + "/cron-runs"), bad);
}

std::vector<ServiceSample> SchedWorkload::Samples() const {
  absl::MutexLock l(&mu_);
  return samples_;
}

}  // namespace berth::nemesis
