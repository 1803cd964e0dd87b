#include "cli/commands/bench_start_run.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/spec/job_spec.h"

namespace berth::cli {
namespace {

// One channel per scheduler, kept for the whole phase (a fresh channel per
// call would add a TCP and HTTP/2 handshake to every submit). A follower
// answers FAILED_PRECONDITION with the leader's address in trailing
// metadata; that address is used from then on.
class Submitter {
 public:
  Submitter(std::vector<std::string> endpoints, absl::Duration timeout)
      : endpoints_(std::move(endpoints)), timeout_(timeout) {}

  absl::Status Submit(const jobpb::Job& job) {
    schedpb::SubmitJobRequest req;
    *req.mutable_job() = job;
    absl::Status last = absl::UnavailableError("no scheduler endpoint");
    const absl::Time deadline = absl::Now() + timeout_;
    for (int attempt = 0; attempt < 2 * static_cast<int>(endpoints_.size()) + 1;
         ++attempt) {
      std::string target = Preferred(attempt);
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      schedpb::SubmitJobResponse resp;
      grpc::Status s = Stub(target)->SubmitJob(&ctx, req, &resp);
      if (s.ok()) return absl::OkStatus();
      last = absl::Status(
          static_cast<absl::StatusCode>(s.error_code()),
          absl::StrCat(s.error_message(), " (scheduler ", target, ")"));
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        auto md = ctx.GetServerTrailingMetadata();
        auto it = md.find("berth-leader");
        if (it != md.end()) {
          absl::MutexLock l(&mu_);
          leader_ = std::string(it->second.data(), it->second.size());
        }
        continue;
      }
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
    }
    return last;
  }

 private:
  std::string Preferred(int attempt) {
    absl::MutexLock l(&mu_);
    if (attempt == 0 && !leader_.empty()) return leader_;
    return endpoints_[attempt % endpoints_.size()];
  }
  schedpb::Scheduler::Stub* Stub(const std::string& target) {
    absl::MutexLock l(&mu_);
    auto& stub = stubs_[target];
    if (stub == nullptr) {
      stub = schedpb::Scheduler::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    }
    return stub.get();
  }

  const std::vector<std::string> endpoints_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::string leader_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<schedpb::Scheduler::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

struct JobTimes {
  absl::Time submit = absl::InfinitePast();
  absl::Time accepted = absl::InfinitePast();
  bool ok = false;
};

double MsSince(absl::Time from, absl::Time to) {
  return absl::ToDoubleMilliseconds(to - from);
}

}  // namespace

std::string StartJobYaml(const std::string& name, int64_t tasks,
                         const std::string& cpu, const std::string& memory) {
  return absl::StrFormat(
      "job: %s\nkind: batch\n"
      "task:\n  command: [\"/bin/true\"]\n"
      "  resources: {cpu: \"%s\", memory: \"%s\"}\n"
      "  restart: {policy: never}\n"
      "batch: {completions: %d, parallelism: %d, backoff_limit: 0}\n",
      name, cpu, memory, tasks, tasks);
}

absl::StatusOr<StartPhaseResult> RunStartPhase(const StartPhaseSpec& spec,
                                               StartProbe* probe) {
  if (spec.tasks < 1 || spec.tasks_per_job < 1) {
    return absl::InvalidArgumentError("tasks and tasks per job must be >= 1");
  }
  StartPhaseResult r;
  r.name = spec.name;
  r.tasks = spec.tasks;
  // The last job takes the remainder.
  std::vector<int64_t> sizes;
  for (int64_t left = spec.tasks; left > 0; left -= spec.tasks_per_job) {
    sizes.push_back(std::min(left, spec.tasks_per_job));
  }
  r.jobs = static_cast<int64_t>(sizes.size());
  std::vector<jobpb::Job> jobs;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string name = absl::StrCat(spec.job_prefix, spec.name.substr(0, 1), i);
    absl::StatusOr<std::vector<jobpb::Job>> parsed = sched::ParseJobSpecs(
        StartJobYaml(name, sizes[i], spec.cpu, spec.memory), "bench start");
    if (!parsed.ok()) return parsed.status();
    jobs.push_back(parsed->front());
    r.job_names.push_back(name);
  }

  Submitter submitter(spec.scheduler_endpoints, spec.rpc_timeout);
  std::vector<JobTimes> times(jobs.size());
  absl::Mutex err_mu;
  std::string first_error;
  int64_t rejected = 0;
  auto submit_one = [&](size_t i) {
    times[i].submit = absl::Now();
    absl::Status s = submitter.Submit(jobs[i]);
    times[i].accepted = absl::Now();
    times[i].ok = s.ok();
    if (!s.ok()) {
      absl::MutexLock l(&err_mu);
      ++rejected;
      if (first_error.empty()) {
        first_error =
            absl::StrCat("submit ", jobs[i].name(), ": ", s.message());
      }
    }
  };
  const absl::Time deadline = absl::Now() + spec.max_wait;
  absl::Status waited = absl::OkStatus();
  if (spec.sequential) {
    for (size_t i = 0; i < jobs.size() && waited.ok(); ++i) {
      submit_one(i);
      if (!times[i].ok) continue;
      waited = probe->AwaitDone({{r.job_names[i], sizes[i]}}, deadline);
    }
  } else {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < std::max(1, spec.submitters); ++t) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < jobs.size(); i = next++) submit_one(i);
      });
    }
    for (std::thread& t : threads) t.join();
    std::map<std::string, int64_t> accepted;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (times[i].ok) accepted[r.job_names[i]] = sizes[i];
    }
    waited = probe->AwaitDone(accepted, deadline);
  }

  std::map<std::string, size_t> job_index;
  for (size_t i = 0; i < jobs.size(); ++i) job_index[r.job_names[i]] = i;
  std::map<std::string, AllocTimes> allocs = probe->Snapshot(r.job_names);
  std::vector<double> accepted_ms, placed, running, running_seen, exit_rec,
      exited_seen;
  absl::Time first_submit = absl::InfiniteFuture();
  absl::Time last_exit = absl::InfinitePast();
  for (const JobTimes& t : times)
    first_submit = std::min(first_submit, t.submit);
  for (const JobTimes& t : times) {
    if (t.ok) accepted_ms.push_back(MsSince(t.submit, t.accepted));
  }
  int64_t failed = 0;
  for (const auto& [id, a] : allocs) {
    const absl::Time submit = times[job_index[a.job]].submit;
    const int64_t submit_us = absl::ToUnixMicros(submit);
    if (a.placed_seen != absl::InfinitePast()) {
      placed.push_back(MsSince(submit, a.placed_seen));
    }
    if (a.start_unix_ms > 0) {
      running.push_back((a.start_unix_ms * 1000 - submit_us) / 1000.0);
      running_seen.push_back(MsSince(submit, a.running_seen));
    }
    if (!a.terminal) continue;
    if (a.finish_unix_ms > 0) {
      exit_rec.push_back((a.finish_unix_ms * 1000 - submit_us) / 1000.0);
    }
    exited_seen.push_back(MsSince(submit, a.exited_seen));
    last_exit = std::max(last_exit, a.exited_seen);
    if (a.succeeded) {
      ++r.completed;
    } else {
      ++failed;
      if (first_error.empty()) {
        first_error = absl::StrCat("task ", id, ": ", a.outcome);
      }
    }
  }
  r.errors = std::max<int64_t>(rejected + failed, spec.tasks - r.completed);
  if (!waited.ok() && first_error.empty()) {
    first_error = std::string(waited.message());
  }
  r.first_error = first_error;
  if (last_exit > first_submit) {
    r.wall = last_exit - first_submit;
    r.completed_per_second = r.completed / absl::ToDoubleSeconds(r.wall);
  }
  r.milestones = {{"accepted", ComputePercentiles(accepted_ms)},
                  {"placed", ComputePercentiles(placed)},
                  {"running", ComputePercentiles(running)},
                  {"running seen", ComputePercentiles(running_seen)},
                  {"exit recorded", ComputePercentiles(exit_rec)},
                  {"exited seen", ComputePercentiles(exited_seen)}};
  return r;
}

}  // namespace berth::cli
