#include "tests/nemesis/schedulers.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "proto/scheduler.grpc.pb.h"
#include "tests/nemesis/shell.h"

namespace berth::nemesis {

Schedulers::Schedulers(Network* net, int first_host, int count, std::string bin,
                       std::string work_dir,
                       std::vector<std::string> lockd_endpoints)
    : net_(net),
      first_host_(first_host),
      count_(count),
      bin_(std::move(bin)),
      work_dir_(std::move(work_dir)),
      lockd_(std::move(lockd_endpoints)) {}

Schedulers::~Schedulers() {
  for (int i = 1; i <= count_; ++i) Kill9(i);
}

std::string Schedulers::Endpoint(int i) const {
  return absl::StrCat(net_->Ip(host(i)), ":", kSchedulerPort);
}

std::string Schedulers::EndpointsFlag() const {
  std::vector<std::string> out;
  for (int i = 1; i <= count_; ++i) out.push_back(Endpoint(i));
  return absl::StrJoin(out, ",");
}

std::string Schedulers::LockdFlag() const { return absl::StrJoin(lockd_, ","); }

std::string Schedulers::LogPath(int i) const {
  return absl::StrCat(work_dir_, "/scheduler-", i, "-start");
}

absl::Status Schedulers::Start(int i) {
  if (Running(i)) return absl::OkStatus();
  // `ip netns exec` execs in place, so the pid is the scheduler's own.
  auto p = e2e::Subprocess::Start(
      {FindTool("ip"), "netns", "exec", net_->Namespace(host(i)), bin_,
       "--lock-endpoints", LockdFlag(), "--id", absl::StrCat("s", i),
       "--listen", Endpoint(i), "--metrics-listen=off", "--insecure"},
      absl::StrCat(LogPath(i), ++starts_[i]));
  if (!p.ok()) return p.status();
  procs_[i] = std::move(*p);
  paused_[i] = false;
  return absl::OkStatus();
}

void Schedulers::Kill9(int i) {
  auto it = procs_.find(i);
  if (it == procs_.end()) return;
  it->second->Signal(SIGKILL);
  it->second->Signal(SIGCONT);
  it->second->Wait(absl::Seconds(10));
  procs_.erase(it);
  paused_[i] = false;
}

void Schedulers::Pause(int i) {
  auto it = procs_.find(i);
  if (it == procs_.end()) return;
  it->second->Signal(SIGSTOP);
  paused_[i] = true;
}

void Schedulers::Resume(int i) {
  auto it = procs_.find(i);
  if (it == procs_.end()) return;
  it->second->Signal(SIGCONT);
  paused_[i] = false;
}

std::vector<int> Schedulers::Reap() {
  std::vector<int> gone;
  for (auto it = procs_.begin(); it != procs_.end();) {
    if (it->second->Wait(absl::ZeroDuration()).has_value()) {
      gone.push_back(it->first);
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

int Schedulers::Leader() {
  for (int i = 1; i <= count_; ++i) {
    if (!Running(i) || paused_[i]) continue;
    auto stub = schedpb::Scheduler::NewStub(
        grpc::CreateChannel(Endpoint(i), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    schedpb::LeaderResponse resp;
    if (stub->Leader(&ctx, schedpb::LeaderRequest(), &resp).ok() &&
        resp.is_self()) {
      return i;
    }
  }
  return 0;
}

}  // namespace berth::nemesis
