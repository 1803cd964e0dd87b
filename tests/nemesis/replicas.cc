#include "tests/nemesis/replicas.h"

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/lock.grpc.pb.h"
#include "tests/nemesis/shell.h"

namespace berth::nemesis {

Replicas::Replicas(Network* net, std::string lockd_bin, std::string work_dir,
                   int count)
    : net_(net),
      lockd_bin_(std::move(lockd_bin)),
      work_dir_(std::move(work_dir)),
      count_(count) {}

Replicas::~Replicas() {
  for (int id = 1; id <= count_; ++id) Kill9(id);
  disks_.clear();  // unmounts
}

absl::Status Replicas::MountDisks(int size_mb) {
  for (int id = 1; id <= count_; ++id) {
    auto d =
        Disk::Mount(absl::StrCat(work_dir_, "/data-r", id), size_mb, work_dir_);
    if (!d.ok()) return d.status();
    disks_[id] = std::move(*d);
  }
  return absl::OkStatus();
}

std::string Replicas::Endpoint(int id) const {
  return absl::StrCat(net_->Ip(id), ":", kLockdPort);
}

std::vector<std::string> Replicas::Endpoints() const {
  std::vector<std::string> out;
  for (int id = 1; id <= count_; ++id) out.push_back(Endpoint(id));
  return out;
}

std::string Replicas::LogPath(int id) const {
  return absl::StrCat(work_dir_, "/lockd-", id, ".err");
}

absl::Status Replicas::Start(int id) {
  if (Running(id)) return absl::OkStatus();
  std::vector<std::string> peers;
  for (int p = 1; p <= count_; ++p) {
    peers.push_back(absl::StrCat(p, "=", Endpoint(p)));
  }
  // Each start logs to its own file so a crash's last words survive the
  // restart.
  int n = ++starts_[id];
  std::map<std::string, std::string> env;
  if (clock_control()) {
    std::string file = absl::StrCat(work_dir_, "/clock-r", id);
    if (!std::filesystem::exists(file)) {
      if (absl::Status st = SetClockOffset(id, 0); !st.ok()) return st;
    }
    env = {{"LD_PRELOAD", libfaketime_},
           {"FAKETIME_TIMESTAMP_FILE", file},
           {"FAKETIME_CACHE_DURATION", "1"},
           {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
  }
  auto p = e2e::Subprocess::Start(
      {FindTool("ip"), "netns", "exec", net_->Namespace(id), lockd_bin_,
       absl::StrCat("--id=", id), absl::StrCat("--listen=", Endpoint(id)),
       absl::StrCat("--peers=", absl::StrJoin(peers, ",")),
       absl::StrCat("--data-dir=", disks_[id]->dir(), "/lockd"),
       "--metrics-listen=off", "--lock-delay-ms=1000", "--insecure"},
      absl::StrCat(work_dir_, "/lockd-", id, "-start", n), env);
  if (!p.ok()) return p.status();
  procs_[id] = std::move(*p);
  paused_[id] = false;
  return absl::OkStatus();
}

absl::Status Replicas::SetClockOffset(int id, int seconds) {
  // Written beside and renamed over, so a reader never sees half a line.
  std::string file = absl::StrCat(work_dir_, "/clock-r", id);
  std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << (seconds >= 0 ? "+" : "") << seconds << "s\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", file));
  return absl::OkStatus();
}

void Replicas::Kill9(int id) {
  auto it = procs_.find(id);
  if (it == procs_.end() || it->second == nullptr) return;
  it->second->Signal(SIGKILL);
  it->second->Signal(SIGCONT);
  it->second->Wait(absl::Seconds(10));
  procs_.erase(it);
  paused_[id] = false;
  channels_.erase(id);
}

void Replicas::Pause(int id) {
  auto it = procs_.find(id);
  if (it == procs_.end()) return;
  it->second->Signal(SIGSTOP);
  paused_[id] = true;
}

void Replicas::Resume(int id) {
  auto it = procs_.find(id);
  if (it == procs_.end()) return;
  it->second->Signal(SIGCONT);
  paused_[id] = false;
}

bool Replicas::Running(int id) const { return procs_.contains(id); }

std::vector<int> Replicas::Reap() {
  std::vector<int> gone;
  for (auto it = procs_.begin(); it != procs_.end();) {
    std::optional<int> code = it->second->Wait(absl::ZeroDuration());
    if (code.has_value()) {
      gone.push_back(it->first);
      channels_.erase(it->first);
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

std::shared_ptr<grpc::Channel> Replicas::Channel(int id) {
  auto it = channels_.find(id);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
  auto ch = grpc::CreateCustomChannel(Endpoint(id),
                                      grpc::InsecureChannelCredentials(), args);
  channels_[id] = ch;
  return ch;
}

ReplicaStatus Replicas::Probe(int id, absl::Duration timeout) {
  ReplicaStatus out;
  if (!Running(id) || Paused(id)) return out;
  auto stub = lockpb::Cluster::NewStub(Channel(id));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  lockpb::StatusResponse resp;
  if (!stub->Status(&ctx, lockpb::StatusRequest(), &resp).ok()) return out;
  out.answered = true;
  out.leader_id = resp.leader_id();
  out.term = resp.raft_term();
  out.applied_index = resp.applied_index();
  return out;
}

int Replicas::Leader() {
  std::map<uint64_t, int> votes;
  std::map<int, ReplicaStatus> seen;
  for (int id = 1; id <= count_; ++id) {
    seen[id] = Probe(id);
    if (seen[id].answered && seen[id].leader_id != 0) {
      ++votes[seen[id].leader_id];
    }
  }
  for (auto& [leader, n] : votes) {
    int id = static_cast<int>(leader);
    if (n * 2 > count_ && seen.contains(id) && seen[id].leader_id == leader) {
      return id;
    }
  }
  return 0;
}

}  // namespace berth::nemesis
