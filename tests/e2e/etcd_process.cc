#include "tests/e2e/etcd_process.h"

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {

constexpr char kEtcd[] = "/usr/bin/etcd";
constexpr char kEtcdctl[] = "/usr/bin/etcdctl";

RunResult Etcdctl(const std::string& endpoints,
                  const std::vector<std::string>& args,
                  const std::string& log_prefix,
                  const std::string& stdin_text) {
  std::vector<std::string> argv = {
      kEtcdctl, absl::StrCat("--endpoints=", endpoints), "--dial-timeout=5s",
      "--command-timeout=15s"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = {{"ETCDCTL_API", "3"}};
  if (stdin_text.empty())
    return RunToExit(argv, log_prefix, absl::Seconds(30), env);
  // Subprocess has no stdin pipe: feed it from a file through the shell.
  std::string in = log_prefix + ".in";
  std::ofstream(in) << stdin_text;
  std::string cmd;
  for (const std::string& a : argv) absl::StrAppend(&cmd, "'", a, "' ");
  absl::StrAppend(&cmd, "< '", in, "'");
  return RunToExit({"/bin/sh", "-c", cmd}, log_prefix, absl::Seconds(30), env);
}

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(int client_port,
                                                                int peer_port) {
  std::unique_ptr<EtcdProcess> e(new EtcdProcess());
  e->dir_ = MakeTempDir("berth-etcd");
  if (e->dir_.empty()) return absl::InternalError("mkdtemp failed");
  e->endpoint_ = absl::StrCat("127.0.0.1:", client_port);
  std::string client = absl::StrCat("http://", e->endpoint_);
  std::string peer = absl::StrCat("http://127.0.0.1:", peer_port);
  auto p = Subprocess::Start(
      {kEtcd, "--name=e2e", absl::StrCat("--data-dir=", e->dir_, "/data"),
       absl::StrCat("--listen-client-urls=", client),
       absl::StrCat("--advertise-client-urls=", client),
       absl::StrCat("--listen-peer-urls=", peer),
       absl::StrCat("--initial-advertise-peer-urls=", peer),
       absl::StrCat("--initial-cluster=e2e=", peer)},
      e->dir_ + "/etcd");
  if (!p.ok()) return p.status();
  e->proc_ = std::move(*p);
  int n = 0;
  bool up = WaitFor([&] {
    RunResult r = Etcdctl(e->endpoint_, {"endpoint", "health"},
                          absl::StrCat(e->dir_, "/health-", ++n));
    return r.exit_code == 0;
  });
  if (!up) {
    return absl::UnavailableError(
        absl::StrCat("etcd did not become healthy on ", e->endpoint_, ": ",
                     e->proc_->Stderr()));
  }
  return e;
}

EtcdProcess::~EtcdProcess() {
  if (proc_) {
    proc_->Signal(SIGTERM);
    if (!proc_->Wait(absl::Seconds(10)).has_value()) proc_->Signal(SIGKILL);
    proc_->Wait(absl::Seconds(10));
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<std::vector<std::string>> StartWithEtcdPorts(
    LockdCluster* cluster, int replicas, int base_port) {
  std::vector<std::string> eps;
  for (int id = 1; id <= replicas; ++id) {
    std::string ep = absl::StrCat("127.0.0.1:", base_port + id);
    cluster->SetReplicaFlags(id, {absl::StrCat("--etcd-listen=", ep)});
    eps.push_back(ep);
  }
  if (absl::Status st = cluster->StartAll(); !st.ok()) return st;
  if (cluster->AwaitLeader() == 0) {
    return absl::DeadlineExceededError("no lockd leader within the deadline");
  }
  std::string waiting;
  bool ready = WaitFor([&] {
    for (const std::string& ep : eps) {
      if (Etcdctl(ep, {"get", "/none"}, cluster->dir() + "/ready").exit_code) {
        waiting = ep;
        return false;
      }
    }
    return true;
  });
  if (!ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("the etcd port ", waiting, " never answered etcdctl"));
  }
  return eps;
}

}  // namespace berth::e2e
