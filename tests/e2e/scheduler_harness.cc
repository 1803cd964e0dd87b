#include "tests/e2e/scheduler_harness.h"

#include <algorithm>
#include <csignal>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::e2e {

std::string SchedulerBinary() { return BERTH_SCHEDULER_BIN; }
std::string BerthCliBinary() { return BERTH_CLI_BIN; }

SchedulerSet::SchedulerSet(LockdCluster* lockd, int count,
                           std::vector<std::string> extra_flags)
    : lockd_(lockd), extra_flags_(std::move(extra_flags)) {
  for (int i = 0; i < count; ++i) {
    addrs_.push_back(lockd_->NextAddress());
    procs_.emplace_back();
    last_stderr_.emplace_back();
  }
}

SchedulerSet::~SchedulerSet() {
  for (auto& p : procs_) {
    if (p) p->Signal(SIGKILL);
  }
}

absl::Status SchedulerSet::Start(int i) {
  std::vector<std::string> argv = {SchedulerBinary(),
                                   "--lock-endpoints",
                                   lockd_->EndpointsFlag(),
                                   "--id",
                                   absl::StrCat("s", i + 1),
                                   "--listen",
                                   addrs_[i]};
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  // As in LockdCluster: no default metrics port (--listen + 1000) that
  // might be another test's, unless the test asks for one.
  if (std::none_of(argv.begin(), argv.end(), [](const std::string& a) {
        return absl::StartsWith(a, "--metrics-listen");
      })) {
    argv.push_back("--metrics-listen=off");
  }
  AddInsecureUnlessTls(&argv);
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(
      argv, absl::StrCat(lockd_->dir(), "/scheduler-s", i + 1, "-", ++starts_));
  if (!p.ok()) return p.status();
  procs_[i] = std::move(*p);
  return absl::OkStatus();
}

absl::Status SchedulerSet::StartAll() {
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (absl::Status s = Start(static_cast<int>(i)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void SchedulerSet::Kill9(int i) {
  if (!procs_[i]) return;
  procs_[i]->Signal(SIGKILL);
  procs_[i]->Wait(absl::Seconds(10));
  last_stderr_[i] = procs_[i]->Stderr();
  procs_[i].reset();
}

void SchedulerSet::Term(int i) {
  if (!procs_[i]) return;
  procs_[i]->Signal(SIGTERM);
  if (!procs_[i]->Wait(absl::Seconds(30)).has_value()) {
    procs_[i]->Signal(SIGKILL);
    procs_[i]->Wait(absl::Seconds(10));
  }
  last_stderr_[i] = procs_[i]->Stderr();
  procs_[i].reset();
}

std::string SchedulerSet::Stderr(int i) const {
  return procs_[i] ? procs_[i]->Stderr() : last_stderr_[i];
}

std::string SchedulerSet::Flag() const { return absl::StrJoin(addrs_, ","); }

int SchedulerSet::Leader() {
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (!procs_[i]) continue;
    auto stub = schedpb::Scheduler::NewStub(grpc::CreateChannel(
        addrs_[i], credentials_ != nullptr
                       ? credentials_
                       : grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
    // A TLS handshake needs a waiting call to progress in a process that
    // serves nothing (docs/security.md, "How it is built").
    if (credentials_ != nullptr) ctx.set_wait_for_ready(true);
    schedpb::LeaderRequest req;
    schedpb::LeaderResponse resp;
    if (stub->Leader(&ctx, req, &resp).ok() && resp.is_self()) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int SchedulerSet::AwaitLeader(absl::Duration timeout, int not_this) {
  int leader = -1;
  WaitFor(
      [&] {
        leader = Leader();
        return leader >= 0 && leader != not_this;
      },
      timeout);
  return leader >= 0 && leader != not_this ? leader : -1;
}

RunResult SchedulerSet::Cli(const std::vector<std::string>& args,
                            absl::Duration timeout) {
  std::vector<std::string> argv = {BerthCliBinary(), "--scheduler", Flag(),
                                   "--lock-endpoints", lockd_->EndpointsFlag()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToExit(argv, absl::StrCat(lockd_->dir(), "/cli-", ++files_),
                   timeout);
}

RunResult SchedulerSet::Submit(const std::string& yaml) {
  std::string path = absl::StrCat(lockd_->dir(), "/job-", ++files_, ".yaml");
  std::ofstream(path) << yaml;
  // --detach: callers wait for what they need themselves.
  return Cli({"job", "run", "--detach", path});
}

namespace {

template <typename T>
absl::StatusOr<T> ParseJson(const RunResult& r) {
  if (r.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("berth exited ", r.exit_code, ": ", r.err));
  }
  T msg;
  auto st = google::protobuf::util::JsonStringToMessage(r.out, &msg);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("bad JSON from berth: ", st.ToString(), ": ", r.out));
  }
  return msg;
}

}  // namespace

absl::StatusOr<schedpb::JobStatusResponse> SchedulerSet::Status(
    const std::string& job) {
  return ParseJson<schedpb::JobStatusResponse>(
      Cli({"job", "status", job, "--output", "json"}));
}

absl::StatusOr<schedpb::JobHistoryResponse> SchedulerSet::History(
    const std::string& job) {
  return ParseJson<schedpb::JobHistoryResponse>(
      Cli({"job", "history", job, "--output", "json"}));
}

std::vector<jobpb::Allocation> LiveAllocs(const schedpb::JobStatusResponse& r) {
  std::vector<jobpb::Allocation> out;
  for (const auto& v : r.allocations()) {
    if (v.alloc().desired_state() == jobpb::Allocation::RUN &&
        v.alloc().outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED) {
      out.push_back(v.alloc());
    }
  }
  return out;
}

std::vector<schedpb::AllocationView> RunningAllocs(
    const schedpb::JobStatusResponse& r) {
  std::vector<schedpb::AllocationView> out;
  for (const auto& v : r.allocations()) {
    if (v.alloc().desired_state() == jobpb::Allocation::RUN &&
        v.alloc().outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED &&
        v.status().state() == agentpb::RUNNING &&
        v.status().attempt() == v.alloc().attempt()) {
      out.push_back(v);
    }
  }
  return out;
}

}  // namespace berth::e2e
